//! Standard Webhooks signatures (<https://www.standardwebhooks.com>, "Signature scheme"): the
//! secret is `whsec_` and the base64 of its key bytes; a delivery carries `webhook-id`,
//! `webhook-timestamp` (seconds since the Unix epoch) and
//! `webhook-signature: v1,<base64 of HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The prefix of a secret.
const PREFIX: &str = "whsec_";

/// Key bytes of a generated secret (the specification asks for 24 to 64).
const GENERATED_KEY_BYTES: usize = 32;

/// Fewest and most key bytes a configured secret may have.
const KEY_BYTES: std::ops::RangeInclusive<usize> = 24..=64;

/// A signing secret. Its `Debug` never shows the key.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

impl Secret {
    /// Parses `whsec_<base64>`; the error says what is wrong without quoting the secret.
    pub fn parse(text: &str) -> Result<Self, String> {
        let Some(b64) = text.strip_prefix(PREFIX) else {
            return Err(format!("a webhook secret starts with {PREFIX}"));
        };
        let key = STANDARD.decode(b64).map_err(|_| format!("a webhook secret is {PREFIX} and base64"))?;
        if !KEY_BYTES.contains(&key.len()) {
            return Err(format!(
                "a webhook secret's key is {} to {} bytes, this one {}",
                KEY_BYTES.start(),
                KEY_BYTES.end(),
                key.len()
            ));
        }
        Ok(Self(key))
    }

    /// A new random secret, and its text (`whsec_…`).
    pub fn generate() -> (Self, String) {
        let mut key = vec![0u8; GENERATED_KEY_BYTES];
        getrandom::fill(&mut key).expect("the OS random source works");
        let text = format!("{PREFIX}{}", STANDARD.encode(&key));
        (Self(key), text)
    }

    /// The `webhook-signature` value of a delivery.
    pub fn sign(&self, id: &str, timestamp: u64, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes a key of any size");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_the_specifications_example() {
        // The example of the Standard Webhooks specification and its reference libraries.
        let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            secret.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn a_bad_secret_is_refused_without_being_quoted() {
        for bad in ["MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_!!!", "whsec_c2hvcnQ="] {
            let e = Secret::parse(bad).unwrap_err();
            assert!(!e.contains(bad.trim_start_matches("whsec_")), "{e}");
        }
        let (secret, text) = Secret::generate();
        assert_eq!(Secret::parse(&text).unwrap(), secret);
        assert_eq!(format!("{secret:?}"), "Secret(…)");
    }
}
