#!/usr/bin/env bash
# Build the web UI: `npm ci && npm run build` in web/ (TypeScript check + Vite), writing web/dist,
# which the daemon embeds when it is compiled (crates/oxve-api/build.rs). Installs Node.js and
# npm from Debian when they are missing (as root). Skips the work when dist is newer than every
# source file.
set -euo pipefail
cd "$(dirname "$0")/../web"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm
  else
    echo "Node.js and npm are needed: apt-get install nodejs npm (as root)" >&2
    exit 1
  fi
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "Node.js >= 20 is needed to build the web UI (found $(node --version))" >&2
  exit 1
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi

if [ -f dist/index.html ] && [ -z "$(find src index.html package-lock.json vite.config.ts tsconfig.json public -newer dist/index.html -print -quit)" ]; then
  echo "web/dist is up to date"
  exit 0
fi
npm run --silent build
