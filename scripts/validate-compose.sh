#!/usr/bin/env bash
# Validates docker-compose.yml against the vendored Compose Specification schema, without Docker.
# Usage: scripts/validate-compose.sh [FILE]   (default: docker-compose.yml at the repository root)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
file="${1:-$root/docker-compose.yml}"
schema="$root/scripts/vendor/compose-spec.json"

if ! python3 -c 'import jsonschema, yaml' >/dev/null 2>&1; then
  # pip where it may install (a user's Python); Debian's packages for Debian's own python3,
  # which refuses pip installs into the system ("externally managed").
  python3 -m pip install --quiet --user 'jsonschema' 'pyyaml' >/dev/null 2>&1 || {
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-jsonschema python3-yaml
  }
fi

python3 - "$file" "$schema" <<'PY'
import json
import sys

import jsonschema
import yaml

path, schema_path = sys.argv[1], sys.argv[2]
with open(schema_path, encoding="utf-8") as f:
    schema = json.load(f)
with open(path, encoding="utf-8") as f:
    document = yaml.safe_load(f)

# The schema declares draft-07 in a spelling (no trailing "#") that jsonschema does not look up.
validator = jsonschema.Draft7Validator(schema)
errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
if errors:
    for error in errors:
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        print(f"{path}: {where}: {error.message}", file=sys.stderr)
    sys.exit(1)
print(f"{path.rsplit('/', 1)[-1]} is valid against the Compose Specification")
PY
