#!/usr/bin/env bash
# Installs what `make hub` and tests/test_hub.py need besides the Python packages (the `hub`
# extra, in `dev`): JupyterHub's proxy, configurable-http-proxy, pinned in hub/package-lock.json
# and installed into hub/node_modules (git-ignored). Idempotent. Without npm it exits 1 with the
# reason; tests/test_hub.py then skips and says why.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v npm >/dev/null || { echo "install-hub: needs node >= 20 and npm" >&2; exit 1; }
wanted=$(node -p "require('./hub/package-lock.json').packages['node_modules/configurable-http-proxy'].version")
have=$(node -p "try { require('./hub/node_modules/configurable-http-proxy/package.json').version } catch { '' }")
if [ "$have" != "$wanted" ]; then
  npm ci --prefix hub --no-audit --no-fund --silent
fi
echo "configurable-http-proxy $wanted"
