#!/usr/bin/env bash
# Installs what tests/test_browser.py needs: Debian's Chromium (never a browser download)
# and the pinned playwright-core driver in tests/browser/node_modules. Idempotent.
# When any of it is missing the browser test skips and says why, so CI may call this
# as `.ci/install-browser.sh || echo "..." >&2` and still report the skip.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -eq 0 ]; then SUDO=(); else SUDO=(sudo -n); fi

if ! command -v chromium >/dev/null; then
  command -v apt-get >/dev/null || { echo "install-browser: no apt-get; install chromium yourself" >&2; exit 1; }
  "${SUDO[@]}" apt-get update -qq
  # chromium-driver: for anyone who prefers Selenium; the test itself uses playwright-core.
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends \
    chromium chromium-driver fonts-dejavu-core
fi
# Debian's launcher script may print a harmless "[: ... unexpected operator" about /dev/shm.
chromium --version 2>/dev/null

command -v npm >/dev/null || { echo "install-browser: needs node >= 20 and npm" >&2; exit 1; }
# playwright-core drives Chromium; axe-core (tests/test_accessibility.py) checks WCAG 2 AA.
lock_version() { node -p "require('./tests/browser/package-lock.json').packages['node_modules/$1'].version"; }
have_version() { node -p "try { require('./tests/browser/node_modules/$1/package.json').version } catch { '' }"; }
wanted=$(lock_version playwright-core)
if [ "$(have_version playwright-core)" != "$wanted" ] || \
   [ "$(have_version axe-core)" != "$(lock_version axe-core)" ]; then
  # playwright-core downloads no browser; the variable makes sure of it.
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix tests/browser --no-audit --no-fund --silent
fi
echo "playwright-core $wanted, axe-core $(lock_version axe-core)"
