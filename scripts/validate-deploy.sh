#!/usr/bin/env bash
# Validates deploy/ without a cluster: renders both kustomize overlays, checks every built-in
# object against the Kubernetes schemas (kubernetes-validate, strict), the KEDA ScaledObjects
# against deploy/k8s/schemas/keda-scaledobject.json, the Prometheus alert rules with promtool,
# and that the Grafana dashboards and the collector config parse. Installs what it needs.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
deploy="$root/deploy"
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
export PATH="$HOME/.local/bin:$PATH"

if ! command -v kubectl >/dev/null 2>&1 && ! command -v kustomize >/dev/null 2>&1; then
  echo "==> installing kustomize (Debian package)"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq kustomize
fi
if ! command -v promtool >/dev/null 2>&1; then
  echo "==> installing promtool (Debian package prometheus)"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends prometheus
fi
if ! command -v kubernetes-validate >/dev/null 2>&1 || ! python3 -c 'import jsonschema, yaml' >/dev/null 2>&1; then
  echo "==> installing kubernetes-validate, jsonschema, pyyaml (PyPI)"
  python3 -m pip install --quiet --user 'kubernetes-validate==1.32.*' 'jsonschema' 'pyyaml'
fi

render() {
  if command -v kubectl >/dev/null 2>&1; then kubectl kustomize "$1"; else kustomize build "$1"; fi
}

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
for overlay in dev prod; do
  render "$deploy/k8s/overlays/$overlay" > "$out/$overlay.yaml"
  python3 - "$out/$overlay.yaml" "$out/$overlay" "$deploy/k8s/schemas/keda-scaledobject.json" <<'PY'
import json, os, sys
import jsonschema, yaml
rendered, folder, keda_schema = sys.argv[1], sys.argv[2], sys.argv[3]
os.makedirs(folder, exist_ok=True)
schema = json.load(open(keda_schema, encoding="utf-8"))
builtin = 0
kinds = {}
for i, doc in enumerate(d for d in yaml.safe_load_all(open(rendered, encoding="utf-8")) if d):
    kinds[doc["kind"]] = kinds.get(doc["kind"], 0) + 1
    if doc["apiVersion"].startswith("keda.sh/"):
        jsonschema.validate(doc, schema)
        continue
    with open(os.path.join(folder, f"{i:03d}-{doc['kind']}.yaml"), "w", encoding="utf-8") as f:
        yaml.safe_dump(doc, f)
    builtin += 1
print(f"    {os.path.basename(folder)}: " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())))
PY
  kubernetes-validate --strict --quiet -k 1.32.0 "$out/$overlay"/*.yaml
  echo "==> overlay $overlay: rendered and valid (Kubernetes 1.32 schemas, KEDA ScaledObject schema)"
done

promtool check rules "$deploy/prometheus/alerts.yml"
promtool check config --syntax-only "$deploy/prometheus/prometheus.yml" >/dev/null
python3 - "$deploy" <<'PY'
import json, pathlib, sys
import yaml
deploy = pathlib.Path(sys.argv[1])
for path in sorted((deploy / "grafana" / "dashboards").glob("*.json")):
    d = json.loads(path.read_text(encoding="utf-8"))
    assert d.get("id") is None, f"{path}: dashboards are provisioned with id null"
    assert "__inputs" not in d, f"{path}: exported-for-sharing dashboards carry __inputs"
    for p in d["panels"]:
        assert p["datasource"]["uid"] == "koofill-prometheus", f"{path}: panel {p['title']} uses an unpinned data source"
        assert p["targets"], f"{path}: panel {p['title']} has no query"
for path in [deploy / "otel" / "collector.yaml", *sorted((deploy / "grafana" / "provisioning").rglob("*.yaml"))]:
    yaml.safe_load(path.read_text(encoding="utf-8"))
print("==> dashboards, Grafana provisioning and the collector config parse")
PY
