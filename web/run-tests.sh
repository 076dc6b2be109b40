#!/usr/bin/env bash
# End-to-end tests of the web UI: Debian's Chromium driven by Playwright (playwright-core, no
# browser download) against real `oxve serve` daemons. Installs what it needs: the chromium
# Debian package (and nodejs/npm if missing), then `npm ci` and the UI build (scripts/build-web.sh). Builds target/debug/oxve
# unless OXVE_BIN points at a binary. Exits non-zero when a test fails.
set -euo pipefail
cd "$(dirname "$0")"
repo=$(cd .. && pwd)

apt_install() {
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
  else
    echo "missing $*: install them (apt-get install $*) or run as root" >&2
    exit 1
  fi
}

if [ ! -x /usr/bin/chromium ]; then apt_install chromium; fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then apt_install nodejs npm; fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "Node.js >= 20 is needed (found $(node --version))" >&2
  exit 1
fi

# npm ci and the Vite build of dist/, which the daemon embeds.
"$repo/scripts/build-web.sh"

if [ -z "${OXVE_BIN:-}" ]; then
  (cd "$repo" && cargo build -q -p oxve)
  export OXVE_BIN="$repo/target/debug/oxve"
fi
mkdir -p "$repo/target"

# One test file at a time: each test starts its own daemon and browser, on 2 cores.
exec node --test --test-concurrency=1 --test-reporter=spec tests/
