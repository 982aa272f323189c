//! `GET /api/v1/openapi.json`: the admin API described as OpenAPI 3.1.

use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// The OpenAPI document (behind the admin key, like every `/api/v1` call).
pub async fn document() -> Response {
    let error = json!({ "$ref": "#/components/schemas/Error" });
    let auth_error =
        json!({ "description": "missing or wrong admin key", "content": { "application/json": { "schema": error } } });
    let drain_state = json!({ "description": "the drain state", "content": { "application/json": { "schema": {
        "type": "object", "required": ["draining", "liveStreams"], "properties": {
            "draining": { "type": "boolean" }, "liveStreams": { "type": "integer" } } } } } });
    let store_error =
        json!({ "description": "the store did not answer", "content": { "application/json": { "schema": error } } });
    let key_param = json!({ "name": "key", "in": "path", "required": true,
        "schema": { "type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$" } });
    let recordings = json!({ "get": {
                "summary": "The stream's publishing sessions the store still holds, oldest first, paged",
                "parameters": [key_param,
                    { "name": "limit", "in": "query", "required": false,
                      "schema": { "type": "integer", "minimum": 1, "maximum": 100, "default": 20 } },
                    { "name": "cursor", "in": "query", "required": false, "description": "nextCursor of the page before",
                      "schema": { "type": "string" } }],
                "responses": {
                    "200": { "description": "a page of recordings", "content": { "application/json": { "schema": {
                        "type": "object", "required": ["streamKey", "recordings", "nextCursor"], "properties": {
                            "streamKey": { "type": "string" },
                            "nextCursor": { "type": ["string", "null"], "description": "null on the last page" },
                            "recordings": { "type": "array", "items": { "type": "object",
                                "required": ["id", "start", "end", "durationMs", "bytes", "chunks", "live", "playlistUrl"],
                                "properties": {
                                    "id": { "type": "string", "description": "the session id" },
                                    "start": { "type": "string", "format": "date-time", "description": "wall-clock start of what the store holds of it" },
                                    "end": { "type": "string", "format": "date-time", "description": "wall-clock end of its last chunk stored" },
                                    "durationMs": { "type": "integer" },
                                    "bytes": { "type": "integer" },
                                    "chunks": { "type": "integer" },
                                    "live": { "type": "boolean", "description": "still being recorded" },
                                    "playlistUrl": { "type": "string", "description": "its HLS playlist: EVENT while live, then VOD" } } } } } } } } },
                    "400": { "description": "invalid key, limit or cursor", "content": { "application/json": { "schema": error } } },
                    "401": auth_error,
                    "404": { "description": "the store has nothing of the stream", "content": { "application/json": { "schema": error } } },
                    "503": store_error
                } } });
    let (outputs, output) = outputs_paths(&error, &auth_error, &store_error, &key_param);
    Json(json!({
        "openapi": "3.1.0",
        "info": { "title": "RapidRTMP admin API", "version": env!("CARGO_PKG_VERSION") },
        "components": {
            "securitySchemes": { "admin": { "type": "http", "scheme": "bearer" } },
            "schemas": {
                "Error": { "type": "object", "required": ["error"], "properties": { "error": { "type": "string" } } },
                "Stream": { "type": "object", "properties": {
                    "streamKey": { "type": "string" },
                    "state": { "type": "string", "enum": ["live", "ended", "interrupted"] },
                    "startedAt": { "type": "integer", "description": "ms since the Unix epoch" },
                    "durationMs": { "type": "integer" },
                    "codecs": { "type": "string" },
                    "width": { "type": ["integer", "null"] },
                    "height": { "type": ["integer", "null"] },
                    "frameRate": { "type": ["number", "null"] },
                    "bitrate": { "type": ["integer", "null"], "description": "bits per second" },
                    "segmentCount": { "type": "integer" },
                    "recentViewers": { "type": "integer" },
                    "playbackUrl": { "type": "string" }
                } },
                "Output": output_schema()
            }
        },
        "security": [{ "admin": [] }],
        "paths": {
            "/api/v1/publish": { "post": {
                "summary": "Issue a publish token for a stream key",
                "description": "Keys ending in _v or _a and a number are reserved for the tracks of a multitrack publish. The token carries the key's token generation: /revoke refuses it.",
                "requestBody": { "required": true, "content": { "application/json": { "schema": {
                    "type": "object", "required": ["streamKey"], "additionalProperties": false,
                    "properties": {
                        "streamKey": { "type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$" },
                        "ttlSeconds": { "type": "integer", "minimum": 1, "maximum": 31_536_000, "default": 3600 },
                        "singleUse": { "type": "boolean", "default": false },
                        "group": { "type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$",
                            "description": "a stream group to join: the stream becomes a variant of /live/{group}/master.m3u8" },
                        "playback": { "type": "string", "enum": ["public", "signed"],
                            "description": "the stream's playback: signed needs a playback token (docs/operations.md, Private streams)" }
                    } } } } },
                "responses": {
                    "201": { "description": "token issued", "content": { "application/json": { "schema": {
                        "type": "object", "properties": {
                            "token": { "type": "string" }, "expiresAt": { "type": "integer" },
                            "rtmpUrl": { "type": "string" }, "playbackUrl": { "type": "string" },
                            "groupUrl": { "type": "string" } } } } } },
                    "400": { "description": "invalid request, or a reserved key (ending in _v or _a and a number: the tracks of a multitrack publish)", "content": { "application/json": { "schema": error } } },
                    "401": auth_error,
                    "503": store_error
                } } },
            "/api/v1/streams": { "get": {
                "summary": "List streams (live, and those in the store)",
                "responses": {
                    "200": { "description": "streams", "content": { "application/json": { "schema": {
                        "type": "object", "properties": { "streams": { "type": "array",
                            "items": { "$ref": "#/components/schemas/Stream" } } } } } } },
                    "401": auth_error
                } } },
            "/api/v1/streams/{key}": { "get": {
                "summary": "Status of one stream",
                "parameters": [key_param],
                "responses": {
                    "200": { "description": "the stream", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Stream" } } } },
                    "400": { "description": "invalid key", "content": { "application/json": { "schema": error } } },
                    "401": auth_error,
                    "404": { "description": "no such stream", "content": { "application/json": { "schema": error } } }
                } } },
            "/api/v1/streams/{key}/recordings": recordings,
            "/api/v1/streams/{key}/stop": { "post": {
                "summary": "Disconnect the publisher and end the stream",
                "parameters": [key_param],
                "requestBody": { "required": false, "content": { "application/json": { "schema": {
                    "type": "object", "additionalProperties": false, "properties": {
                        "revoke": { "type": "boolean", "default": false,
                            "description": "revoke the key's tokens too, and answer as /revoke does" } } } } } },
                "responses": {
                    "200": { "description": "stopped (with revoke: revoked)" },
                    "400": { "description": "invalid body or key", "content": { "application/json": { "schema": error } } },
                    "401": auth_error,
                    "404": { "description": "stream is not live", "content": { "application/json": { "schema": error } } },
                    "503": store_error
                } } },
            "/api/v1/streams/{key}/revoke": { "post": {
                "summary": "Refuse every token issued for the key so far, on every node, and disconnect its publisher",
                "description": "Bumps the key's token generation in the store. A publisher on this node is disconnected at once, on another node within a third of its owner lease (10 s by default). Tokens issued afterwards work.",
                "parameters": [key_param],
                "responses": {
                    "200": { "description": "revoked", "content": { "application/json": { "schema": {
                        "type": "object", "required": ["streamKey", "generation", "stopped"], "properties": {
                            "streamKey": { "type": "string" },
                            "generation": { "type": "integer", "description": "the key's token generation now" },
                            "stopped": { "type": "boolean", "description": "a publisher was live on this node and was disconnected" } } } } } },
                    "400": { "description": "invalid key, or the key of a multitrack publish's track", "content": { "application/json": { "schema": error } } },
                    "401": auth_error,
                    "503": store_error
                } } },
            "/api/v1/streams/{key}/outputs": outputs,
            "/api/v1/signing-keys": {
                "post": {
                    "summary": "Make a playback signing key pair; its private JWK is answered once, only the public one is stored",
                    "requestBody": { "required": false, "content": { "application/json": { "schema": {
                        "type": "object", "additionalProperties": false, "properties": {
                            "alg": { "type": "string", "enum": ["ES256", "EdDSA"], "default": "ES256" } } } } } },
                    "responses": {
                        "201": { "description": "made", "content": { "application/json": { "schema": {
                            "type": "object", "required": ["kid", "privateJwk"], "properties": {
                                "kid": { "type": "string" }, "privateJwk": { "type": "object" } } } } } },
                        "400": { "description": "invalid body, or 32 keys already", "content": { "application/json": { "schema": error } } },
                        "401": auth_error, "409": { "description": "the policy kept changing", "content": { "application/json": { "schema": error } } },
                        "503": store_error } },
                "get": {
                    "summary": "The playback signing keys (public JWKs)",
                    "responses": {
                        "200": { "description": "keys", "content": { "application/json": { "schema": {
                            "type": "object", "properties": { "keys": { "type": "array", "items": { "type": "object" } } } } } } },
                        "401": auth_error, "503": store_error } } },
            "/api/v1/signing-keys/{kid}": { "delete": {
                "summary": "Remove a signing key: its tokens are refused on every edge within 30 s",
                "parameters": [{ "name": "kid", "in": "path", "required": true, "schema": { "type": "string" } }],
                "responses": {
                    "204": { "description": "removed" },
                    "401": auth_error,
                    "404": { "description": "no such key", "content": { "application/json": { "schema": error } } },
                    "503": store_error } } },
            "/api/v1/streams/{key}/playback": { "put": {
                "summary": "Set a stream's (or group's) playback: public or signed",
                "parameters": [key_param],
                "requestBody": { "required": true, "content": { "application/json": { "schema": {
                    "type": "object", "required": ["playback"], "additionalProperties": false, "properties": {
                        "playback": { "type": "string", "enum": ["public", "signed"] } } } } } },
                "responses": {
                    "200": { "description": "set", "content": { "application/json": { "schema": {
                        "type": "object", "properties": { "streamKey": { "type": "string" }, "playback": { "type": "string" } } } } } },
                    "400": { "description": "invalid key or body", "content": { "application/json": { "schema": error } } },
                    "401": auth_error, "503": store_error } } },
            "/api/v1/streams/{key}/playback-token": { "post": {
                "summary": "Mint a playback token for a stream (or group), signed with the node's own key",
                "parameters": [key_param],
                "requestBody": { "required": false, "content": { "application/json": { "schema": {
                    "type": "object", "additionalProperties": false, "properties": {
                        "ttlSeconds": { "type": "integer", "minimum": 1, "maximum": 31_536_000, "default": 3600 } } } } } },
                "responses": {
                    "200": { "description": "minted", "content": { "application/json": { "schema": {
                        "type": "object", "required": ["token", "playbackUrl"], "properties": {
                            "token": { "type": "string" }, "playbackUrl": { "type": "string" },
                            "expiresIn": { "type": "integer" } } } } } },
                    "400": { "description": "invalid key or ttlSeconds", "content": { "application/json": { "schema": error } } },
                    "401": auth_error, "503": store_error } } },
            "/api/v1/streams/{key}/outputs/{id}": output,
            "/api/v1/webhooks": {
                "post": {
                    "summary": "Add a webhook endpoint: stream events POSTed, signed per Standard Webhooks; its secret is answered once",
                    "requestBody": { "required": true, "content": { "application/json": { "schema": {
                        "type": "object", "required": ["url"], "additionalProperties": false,
                        "properties": { "url": { "type": "string", "description": "http://host[:port]/path" } } } } } },
                    "responses": {
                        "201": { "description": "added: id, url, createdAt, disabled, secret (whsec_…, this once)" },
                        "400": { "description": "not an http:// URL", "content": { "application/json": { "schema": error } } },
                        "401": auth_error,
                        "409": { "description": "16 endpoints already", "content": { "application/json": { "schema": error } } },
                        "503": store_error } },
                "get": {
                    "summary": "The webhook endpoints (the node's --webhook-url one first), never their secrets",
                    "responses": { "200": { "description": "{\"webhooks\": [{id, url, createdAt, disabled}]}" }, "401": auth_error, "503": store_error } } },
            "/api/v1/webhooks/{id}": { "delete": {
                "summary": "Remove a webhook endpoint; its pending deliveries are dropped",
                "parameters": [{ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } }],
                "responses": {
                    "204": { "description": "removed" },
                    "401": auth_error,
                    "404": { "description": "no such endpoint", "content": { "application/json": { "schema": error } } },
                    "409": { "description": "the --webhook-url endpoint", "content": { "application/json": { "schema": error } } },
                    "503": store_error } } },
            "/api/v1/drain": {
                "post": {
                    "summary": "Stop taking new publishes (live streams go on) and fail /ready; only a restart ends it",
                    "responses": { "200": drain_state, "401": auth_error } },
                "get": {
                    "summary": "Whether the node is draining, and how many streams are still live",
                    "responses": { "200": drain_state, "401": auth_error } } }
        }
    }))
    .into_response()
}

/// An output as the outputs API answers it (docs/api.md).
fn output_schema() -> serde_json::Value {
    json!({ "type": "object", "required": ["id", "url", "destination", "enabled", "fromFlag", "state"], "properties": {
        "id": { "type": "string" },
        "url": { "type": "string", "description": "the destination URL with its stream key masked" },
        "destination": { "type": "string", "description": "scheme, host, port and app" },
        "enabled": { "type": "boolean" },
        "fromFlag": { "type": "boolean", "description": "set by --restream-url on this node" },
        "state": { "type": "string", "enum": ["idle", "connecting", "live", "retrying", "disabled"] },
        "lastError": { "type": ["string", "null"] },
        "bytesSent": { "type": "integer" },
        "tagsDropped": { "type": "integer" },
        "bytesDropped": { "type": "integer" },
        "notForwarded": { "type": "array", "items": { "type": "string" } }
    } })
}

/// The paths of the outputs API: `…/outputs` and `…/outputs/{id}`.
fn outputs_paths(
    error: &serde_json::Value,
    auth_error: &serde_json::Value,
    store_error: &serde_json::Value,
    key_param: &serde_json::Value,
) -> (serde_json::Value, serde_json::Value) {
    let output = json!({ "description": "the output", "content": { "application/json": { "schema": {
        "$ref": "#/components/schemas/Output" } } } });
    let bad =
        json!({ "description": "invalid body, URL or key", "content": { "application/json": { "schema": error } } });
    let missing = json!({ "description": "no such output", "content": { "application/json": { "schema": error } } });
    let id_param = json!({ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } });
    let list = json!({ "description": "the outputs", "content": { "application/json": { "schema": {
        "type": "object", "properties": { "streamKey": { "type": "string" }, "outputs": { "type": "array",
            "items": { "$ref": "#/components/schemas/Output" } } } } } } });
    let outputs = json!({
        "get": { "summary": "The stream's outputs (restream destinations), stream keys masked, with their status",
            "parameters": [key_param], "responses": { "200": list, "400": bad, "401": auth_error, "503": store_error } },
        "post": { "summary": "Add an output: the stream is forwarded to an RTMP(S) URL, at most 16",
            "parameters": [key_param],
            "requestBody": { "required": true, "content": { "application/json": { "schema": {
                "type": "object", "required": ["url"], "additionalProperties": false, "properties": {
                    "url": { "type": "string", "description": "rtmp://host[:port]/app/key or rtmps://…" } } } } } },
            "responses": { "201": output, "400": bad, "401": auth_error,
                "409": { "description": "16 outputs already, or one to the same URL", "content": { "application/json": { "schema": error } } },
                "503": store_error } }
    });
    let one = json!({
        "patch": { "summary": "Enable or disable an output", "parameters": [key_param, id_param],
            "requestBody": { "required": true, "content": { "application/json": { "schema": {
                "type": "object", "required": ["enabled"], "additionalProperties": false,
                "properties": { "enabled": { "type": "boolean" } } } } } },
            "responses": { "200": output, "400": bad, "401": auth_error, "404": missing, "503": store_error } },
        "delete": { "summary": "Remove an output (it stops at once)", "parameters": [key_param, id_param],
            "responses": { "204": { "description": "removed" }, "400": bad, "401": auth_error, "404": missing,
                "503": store_error } }
    });
    (outputs, one)
}
