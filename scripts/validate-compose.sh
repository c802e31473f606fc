#!/usr/bin/env bash
# Validates docker-compose.yml against the vendored Compose Specification schema, without Docker,
# and checks that every variable it reads (${NAME...}) is documented in the .env.example beside it.
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
import os
import re
import sys

import jsonschema
import yaml

path, schema_path = sys.argv[1], sys.argv[2]
with open(schema_path, encoding="utf-8") as f:
    schema = json.load(f)
with open(path, encoding="utf-8") as f:
    text = f.read()
document = yaml.safe_load(text)

# The schema declares draft-07 in a spelling (no trailing "#") that jsonschema does not look up.
validator = jsonschema.Draft7Validator(schema)
errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
if errors:
    for error in errors:
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        print(f"{path}: {where}: {error.message}", file=sys.stderr)
    sys.exit(1)
print(f"{path.rsplit('/', 1)[-1]} is valid against the Compose Specification")

# Variables come from .env, which people write from .env.example: an undocumented one would only
# show up as Compose refusing to start.
used = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", text))
example = os.path.join(os.path.dirname(os.path.abspath(path)), ".env.example")
documented = set()
if os.path.exists(example):
    with open(example, encoding="utf-8") as f:
        documented = set(re.findall(r"^([A-Za-z_][A-Za-z0-9_]*)=", f.read(), re.M))
missing = sorted(used - documented)
if missing:
    print(f"{path}: not documented in {example}: {', '.join(missing)}", file=sys.stderr)
    sys.exit(1)
print(f"every variable it reads is documented in .env.example ({len(used)})")
PY
