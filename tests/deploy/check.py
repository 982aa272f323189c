#!/usr/bin/env python3
"""Checks of deploy/ for tests/deploy/run.sh, one subcommand each (the shell script runs the tools).

  check.py kustomization DIR                 the kustomization lists every manifest in DIR
  check.py rendered DIR RENDERED             what `kubectl kustomize DIR` rendered: every manifest's
                                             objects, in the kustomization's namespace, with its images
  check.py split RENDERED CORE CRD           splits rendered manifests: Kubernetes kinds, CRD kinds
  check.py rules PROMETHEUSRULE OUT          the PrometheusRule's rule groups as a Prometheus rule file
  check.py dashboard JSON                    the dashboard loads as Grafana's dashboard model, losslessly
  check.py settings SERVE_HELP EDGE_HELP K8S_DIR COMPOSE_CONFIG
                                             every setting the manifests and compose.yaml give is a
                                             flag's variable of the subcommand they run
  check.py runtime-stage DOCKERFILE OUT      the Dockerfile's runtime stage, reading /out from the context
  check.py image INSPECT_JSON DOCKERFILE     the built image's configuration is what the Dockerfile says
  check.py image-env INSPECT_JSON            the image's environment, one NAME=VALUE a line
  check.py compose-env COMPOSE_CONFIG SERVICE  a compose service's environment, one NAME=VALUE a line
  check.py live PROM_URL DASHBOARD RULES METRICS METRICS_RS
                                             against a real Prometheus scraping a publishing node:
                                             every dashboard and rule expression, every metric name

Only the standard library and PyYAML, except `dashboard` (grafana-foundation-sdk).
"""

import json
import re
import sys
import urllib.parse
import urllib.request
from pathlib import Path

import yaml

# The Grafana variables of the dashboard, as the live check substitutes them.
GRAFANA_VARIABLES = {
    "$__rate_interval": "1m",
    "$__interval": "15s",
    "$job": ".+",
    "$instance": ".+",
}
# PromQL words that look like metric names.
PROMQL_WORDS = {
    "sum", "rate", "increase", "histogram_quantile", "by", "le", "and", "or", "unless", "on",
    "ignoring", "min_over_time", "max_over_time", "deriv", "delta", "label_values", "printf",
    "job", "instance", "result", "kind", "route", "status", "without", "group_left", "avg",
    "min", "max", "count", "absent", "bool", "offset",
}


def fail(message):
    print(f"check.py: {message}", file=sys.stderr)
    sys.exit(1)


def load_all(path):
    return [d for d in yaml.safe_load_all(Path(path).read_text()) if d is not None]


# --- Kubernetes ---------------------------------------------------------------------------------

def cmd_kustomization(folder):
    folder = Path(folder)
    k = yaml.safe_load((folder / "kustomization.yaml").read_text())
    listed = set(k.get("resources", []))
    present = {p.name for p in folder.glob("*.yaml") if p.name != "kustomization.yaml"}
    if listed != present:
        fail(f"kustomization.yaml lists {sorted(listed)}, the folder has {sorted(present)}")
    for name in sorted(present):
        for doc in load_all(folder / name):
            if not {"apiVersion", "kind", "metadata"} <= doc.keys():
                fail(f"{name}: a document without apiVersion, kind and metadata")
    print(f"kustomization.yaml lists all {len(present)} manifests")


def cmd_rendered(folder, rendered):
    folder = Path(folder)
    k = yaml.safe_load((folder / "kustomization.yaml").read_text())
    sources = [doc for name in k["resources"] for doc in load_all(folder / name)]
    objects = load_all(rendered)
    ids = lambda docs: sorted((d["kind"], d["metadata"]["name"]) for d in docs)
    if ids(objects) != ids(sources):
        fail(f"rendered {ids(objects)}, the manifests hold {ids(sources)}")
    for o in objects:
        where = f"{o['kind']} {o['metadata']['name']}"
        if o["kind"] != "Namespace" and o["metadata"].get("namespace") != k["namespace"]:
            fail(f"{where}: namespace {o['metadata'].get('namespace')!r}, not {k['namespace']!r}")
    images = {i["name"]: f"{i['newName']}:{i['newTag']}" for i in k.get("images", [])}
    used = []
    for o in objects:
        pod = o.get("spec", {}).get("template", {}).get("spec", {})
        for c in pod.get("containers", []) + pod.get("initContainers", []):
            used.append(c["image"])
            if c["image"] not in images.values():
                fail(f"{o['kind']} {o['metadata']['name']}: image {c['image']!r}, not one of {sorted(images.values())}")
    if not used:
        fail("no container in the rendered manifests")
    print(f"kubectl kustomize: {len(objects)} objects in namespace {k['namespace']}; images {sorted(set(used))}")


def cmd_split(rendered, core_out, crd_out):
    core, crd = [], []
    for doc in load_all(rendered):
        (crd if doc["apiVersion"].startswith("monitoring.coreos.com/") else core).append(doc)
    Path(core_out).write_text(yaml.safe_dump_all(core, sort_keys=False))
    Path(crd_out).write_text(json.dumps(crd))
    print(f"{len(core)} Kubernetes objects, {len(crd)} prometheus-operator objects")


def cmd_rules(rule_file, out):
    docs = [d for d in load_all(rule_file) if d["kind"] == "PrometheusRule"]
    if len(docs) != 1:
        fail(f"{rule_file}: expected one PrometheusRule, found {len(docs)}")
    Path(out).write_text(yaml.safe_dump({"groups": docs[0]["spec"]["groups"]}, sort_keys=False))


# --- Grafana ------------------------------------------------------------------------------------

def dashboard_exprs(dashboard):
    """(title, expression) of every panel target, and the metric selector of each variable query."""
    out = []
    for panel in dashboard["panels"]:
        for t in panel.get("targets", []):
            out.append((f'panel "{panel["title"]}" {t["refId"]}', t["expr"]))
    for var in dashboard["templating"]["list"]:
        if var["type"] == "query":
            q = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
            m = re.fullmatch(r"label_values\((.+), *(\w+)\)", q)
            if not m:
                fail(f"variable {var['name']}: {q!r} is not label_values(selector, label)")
            out.append((f"variable {var['name']}", m.group(1)))
    return out


def cmd_dashboard(path):
    from grafana_foundation_sdk.cog import plugins
    from grafana_foundation_sdk.cog.encoder import JSONEncoder
    from grafana_foundation_sdk.models.dashboard import Dashboard

    plugins.register_default_plugins()
    raw = json.loads(Path(path).read_text())
    model = Dashboard.from_json(raw)
    back = json.loads(json.dumps(model, cls=JSONEncoder))
    problems = []

    def compare(a, b, where):
        if isinstance(a, dict):
            if not isinstance(b, dict):
                problems.append(f"{where}: not an object in the model")
                return
            for key in a:
                if key not in b:
                    problems.append(f"{where}/{key}: not a field of Grafana's model")
                else:
                    compare(a[key], b[key], f"{where}/{key}")
        elif isinstance(a, list):
            if not isinstance(b, list) or len(a) != len(b):
                problems.append(f"{where}: list changed by the model")
                return
            for i, (x, y) in enumerate(zip(a, b)):
                compare(x, y, f"{where}[{i}]")
        elif a != b:
            problems.append(f"{where}: {a!r} read as {b!r}")

    compare(raw, back, "")
    ids = [p["id"] for p in raw["panels"]]
    if len(ids) != len(set(ids)):
        problems.append(f"panel ids repeat: {ids}")
    for p in raw["panels"]:
        g = p["gridPos"]
        if g["x"] + g["w"] > 24:
            problems.append(f'panel "{p["title"]}" is wider than the grid')
        if p["type"] != "row" and p.get("datasource", {}).get("uid") != "${datasource}":
            problems.append(f'panel "{p["title"]}" does not use the datasource variable')
    if problems:
        fail("the dashboard is not a clean Grafana dashboard model:\n  " + "\n  ".join(problems))
    panels = [p for p in raw["panels"] if p["type"] != "row"]
    print(f"dashboard: {len(panels)} panels, {len(dashboard_exprs(raw))} expressions, "
          f"loads as grafana-foundation-sdk's Dashboard with no field lost")


# --- settings of the manifests and compose.yaml ----------------------------------------------

def env_names(help_text):
    return set(re.findall(r"\[env: ([A-Z0-9_]+)[=\]]", Path(help_text).read_text()))


# Variables read by the AWS SDK's credential chain, not by a flag.
AWS_VARIABLES = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION"}
SUBCOMMANDS = {"serve", "edge"}


def check_env(where, command, names, helps):
    if command not in SUBCOMMANDS:
        fail(f"{where}: runs {command!r}, expected one of {sorted(SUBCOMMANDS)}")
    unknown = sorted(n for n in names if n not in helps[command] and n not in AWS_VARIABLES)
    if unknown:
        fail(f"{where}: `rapidrtmp {command}` has no flag for {unknown}")


def cmd_settings(serve_help, edge_help, k8s_dir, compose_config):
    helps = {"serve": env_names(serve_help), "edge": env_names(edge_help)}
    if not helps["serve"] or not helps["edge"]:
        fail("no [env: …] in the --help texts")
    folder = Path(k8s_dir)
    objects = [d for p in sorted(folder.glob("*.yaml")) for d in load_all(p)]
    data = {}
    for o in objects:
        if o["kind"] in ("ConfigMap", "Secret"):
            data[(o["kind"], o["metadata"]["name"])] = set(o.get("data", {})) | set(o.get("stringData", {}))
    # The ConfigMap and Secret are shared by `serve` and `edge` (each ignores the other's
    # settings): each of their keys is a variable of one of them. A container's own `env`, and
    # compose's environment, are variables of the subcommand it runs.
    shared = {"serve": helps["serve"] | helps["edge"]}
    shared["edge"] = shared["serve"]
    for (kind, name), keys in sorted(data.items()):
        check_env(f"{kind} {name}", "serve", keys, shared)
    checked = 0
    for o in objects:
        if o["kind"] != "Deployment":
            continue
        for c in o["spec"]["template"]["spec"]["containers"]:
            command = c["args"][0]
            check_env(f'Deployment {o["metadata"]["name"]}', command, {e["name"] for e in c.get("env", [])}, helps)
            for e in c.get("env", []):
                ref = e.get("valueFrom", {}).get("secretKeyRef")
                if ref and ref["key"] not in data.get(("Secret", ref["name"]), set()):
                    fail(f'Deployment {o["metadata"]["name"]}: Secret {ref["name"]} has no key {ref["key"]}')
            for src in c.get("envFrom", []):
                kind, ref = ("ConfigMap", src["configMapRef"]) if "configMapRef" in src else ("Secret", src["secretRef"])
                if (kind, ref["name"]) not in data:
                    fail(f'Deployment {o["metadata"]["name"]}: no {kind} {ref["name"]} in the manifests')
            pre = c.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command")
            if pre and pre[:2] != ["/rapidrtmp", "drain"]:
                fail(f'Deployment {o["metadata"]["name"]}: preStop {pre} is not /rapidrtmp drain')
            checked += 1
    compose = yaml.safe_load(Path(compose_config).read_text())
    for name, svc in compose["services"].items():
        if svc.get("image", "").startswith("minio/"):
            continue
        check_env(f"compose service {name}", svc["command"][0], set(svc.get("environment", {})), helps)
        checked += 1
    print(f"settings: {checked} containers give only variables their subcommand reads")


# --- the image ----------------------------------------------------------------------------------

def runtime_stage(dockerfile):
    """The lines of the Dockerfile's `FROM scratch AS runtime` stage (continuations joined)."""
    text = Path(dockerfile).read_text().replace("\\\n", " ")
    lines, inside = [], False
    for line in text.splitlines():
        if line.startswith("FROM "):
            inside = re.fullmatch(r"FROM scratch AS runtime", line.strip()) is not None
        if inside and line.strip() and not line.lstrip().startswith("#"):
            lines.append(line)
    if not lines:
        fail(f"{dockerfile} has no `FROM scratch AS runtime` stage")
    return lines


def cmd_runtime_stage(dockerfile, out):
    lines = []
    for line in runtime_stage(dockerfile):
        if line.startswith("COPY"):
            m = re.fullmatch(r"COPY --from=build( --chown=\S+)? /out/(\S*) (\S+)", line.strip())
            if not m:
                fail(f"runtime stage: {line!r} does not copy from the build stage's /out")
            line = f"COPY{m.group(1) or ''} out/{m.group(2)} {m.group(3)}"
        elif line.split()[0] in ("RUN", "ADD"):
            fail(f"runtime stage: {line!r}: a scratch stage can only copy")
        lines.append(line)
    Path(out).write_text("# Generated by tests/deploy/check.py from deploy/docker/Dockerfile.\n" + "\n".join(lines) + "\n")


def cmd_image(inspect_json, dockerfile):
    image = json.loads(Path(inspect_json).read_text())[0]
    config = image["Config"]
    stage = "\n".join(runtime_stage(dockerfile))
    problems = []
    user = re.search(r"^USER (\S+)", stage, re.M).group(1)
    if config.get("User") != user or user.split(":")[0] in ("0", "root"):
        problems.append(f"user {config.get('User')!r}: expected the non-root {user}")
    if set(config.get("ExposedPorts", {})) != {"1935/tcp", "8080/tcp"}:
        problems.append(f"exposed ports {sorted(config.get('ExposedPorts', {}))}")
    if set(config.get("Volumes", {})) != {"/data"}:
        problems.append(f"volumes {sorted(config.get('Volumes', {}))}")
    health = image.get("Healthcheck") or config.get("Healthcheck") or {}
    if health.get("Test", [])[:3] != ["CMD", "/rapidrtmp", "health"]:
        problems.append(f"healthcheck {health}")
    if config.get("Entrypoint") != ["/rapidrtmp"] or config.get("Cmd") != ["serve"]:
        problems.append(f"entrypoint {config.get('Entrypoint')} cmd {config.get('Cmd')}")
    env = dict(e.split("=", 1) for e in config.get("Env", []))
    if env.get("RAPIDRTMP_DATA_DIR") != "/data" or env.get("RAPIDRTMP_LOG_FORMAT") != "json":
        problems.append(f"env {env}")
    labels = config.get("Labels") or {}
    for key in ("title", "description", "version", "licenses"):
        if not labels.get(f"org.opencontainers.image.{key}"):
            problems.append(f"no OCI label org.opencontainers.image.{key}")
    workspace = Path(dockerfile).resolve().parents[2] / "Cargo.toml"
    version = re.search(r'^\[workspace\.package\][^\[]*?^version = "([^"]+)"', workspace.read_text(), re.M | re.S)
    if not version or labels.get("org.opencontainers.image.version") != version.group(1):
        problems.append(f"the version label {labels.get('org.opencontainers.image.version')!r} is not the "
                        f"workspace's version {version and version.group(1)!r} (ARG VERSION in the Dockerfile)")
    if problems:
        fail("the image's configuration:\n  " + "\n  ".join(problems))
    print(f"image: user {user}, ports 1935 8080, volume /data, healthcheck {' '.join(health['Test'][1:])}, "
          f"{sum(k.startswith('org.opencontainers.image.') for k in labels)} OCI labels")


def cmd_image_env(inspect_json):
    for e in json.loads(Path(inspect_json).read_text())[0]["Config"].get("Env", []):
        print(e)


def cmd_compose_env(compose_config, service):
    svc = yaml.safe_load(Path(compose_config).read_text())["services"][service]
    for k, v in svc.get("environment", {}).items():
        print(f"{k}={v}")


# --- the live check against Prometheus ----------------------------------------------------------

def metric_names(expr):
    """Metric names in a PromQL expression (identifiers that are not functions, keywords, labels
    or inside strings)."""
    no_strings = re.sub(r"\[[^\]]*\]", "", re.sub(r'"[^"]*"', '""', expr))
    no_labels = re.sub(r"\{[^}]*\}", "{}", no_strings)
    no_groupings = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", no_labels)
    names = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", no_groupings):
        word = m.group(0)
        after = no_groupings[m.end():].lstrip()
        if word in PROMQL_WORDS or after.startswith("("):
            continue
        if re.fullmatch(r"\d+[smhdwy]", word) or word.startswith("$"):
            continue
        names.add(word)
    return names


def selectors(expr):
    """Each `name{…}` or bare `name` selector of an expression, with its label matchers."""
    no_ranges = re.sub(r"\[[^\]]*\]", "", expr)
    no_groupings = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", no_ranges)
    out = []
    for m in re.finditer(r"([A-Za-z_:][A-Za-z0-9_:]*)(\{[^}]*\})?", no_groupings):
        if m.group(1) in metric_names(expr) and not no_groupings[m.end():].lstrip().startswith("("):
            out.append(m.group(1) + (m.group(2) or ""))
    return out


def substitute(expr):
    for k, v in GRAFANA_VARIABLES.items():
        expr = expr.replace(k, v)
    if "$" in expr:
        fail(f"unknown Grafana variable in {expr}")
    return expr


def query(prom, expr):
    url = f"{prom}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=10) as r:
        body = json.load(r)
    if body.get("status") != "success":
        fail(f"Prometheus refused {expr}: {body}")
    return body["data"]["result"]


def exposition_families(text):
    names = set()
    for line in text.splitlines():
        m = re.match(r"# TYPE (\S+) (\S+)", line)
        if m:
            names.add(m.group(1))
            if m.group(2) == "histogram":
                names |= {m.group(1) + s for s in ("_bucket", "_sum", "_count")}
    return names


def cmd_live(prom, dashboard_path, rules_path, metrics_path, metrics_rs):
    dashboard = json.loads(Path(dashboard_path).read_text())
    rules = yaml.safe_load(Path(rules_path).read_text())
    exported = exposition_families(Path(metrics_path).read_text()) | {"up"}
    source = Path(metrics_rs).read_text()
    rule_exprs = [(f"rule {r['alert']}", r["expr"]) for g in rules["groups"] for r in g["rules"]]
    exprs = dashboard_exprs(dashboard) + rule_exprs

    # Every metric named is exported by the node, and written in metrics.rs.
    used = set()
    for where, e in exprs:
        for name in metric_names(substitute(e)):
            used.add(name)
            if name not in exported:
                fail(f"{where} uses {name}, which the node's /metrics does not have")
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            if name != "up" and not re.search(rf"\b({re.escape(name)}|{re.escape(base)})\b", source):
                fail(f"{where} uses {name}, which ingest-node/src/metrics.rs does not write")
    # Every dashboard expression returns data; each selector of every rule does, and the rule's
    # whole expression evaluates without error (an alert that does not fire returns nothing).
    for where, e in dashboard_exprs(dashboard):
        if not query(prom, substitute(e)):
            fail(f"{where}: {substitute(e)} returns no data")
    for where, e in rule_exprs:
        query(prom, e)
        for sel in selectors(e):
            if not query(prom, sel):
                fail(f"{where}: its selector {sel} returns no data")
    # Prometheus loaded every rule and evaluated each without error.
    with urllib.request.urlopen(f"{prom}/api/v1/rules", timeout=10) as r:
        groups = json.load(r)["data"]["groups"]
    loaded = [r for g in groups for r in g["rules"]]
    if len(loaded) != len(rule_exprs):
        fail(f"Prometheus loaded {len(loaded)} rules, the PrometheusRule has {len(rule_exprs)}")
    for r in loaded:
        if r.get("health") != "ok":
            fail(f"rule {r['name']}: health {r.get('health')} {r.get('lastError', '')}")
    print(f"live: {len(dashboard_exprs(dashboard))} dashboard expressions return data, "
          f"{len(rule_exprs)} rules evaluate (health ok) with every selector returning data; "
          f"{len(used)} metric names, all exported: {' '.join(sorted(used))}")


def main():
    commands = {
        "kustomization": cmd_kustomization, "rendered": cmd_rendered, "split": cmd_split, "rules": cmd_rules,
        "dashboard": cmd_dashboard, "settings": cmd_settings, "runtime-stage": cmd_runtime_stage,
        "image": cmd_image, "image-env": cmd_image_env, "compose-env": cmd_compose_env, "live": cmd_live,
    }
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        fail(__doc__)
    commands[sys.argv[1]](*sys.argv[2:])


if __name__ == "__main__":
    main()
