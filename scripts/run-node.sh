#!/usr/bin/env bash
# Install dependencies, build, and run a single-node oxve daemon with embedded defaults.
# Prints the URL and the admin login. Environment: OXVE_ADMIN_PASSWORD (else generated),
# OXVE_DATA_DIR (default /var/lib/oxve), OXVE_LISTEN (default 0.0.0.0:8006).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
scripts/build-web.sh # the daemon embeds web/dist
cargo build --release --bin oxve
data_dir=${OXVE_DATA_DIR:-/var/lib/oxve}
listen=${OXVE_LISTEN:-0.0.0.0:8006}
if [ -f "$data_dir/initial-admin-password" ]; then
  echo "admin@pve password (from first start): $(cat "$data_dir/initial-admin-password")"
fi
exec target/release/oxve serve --data-dir "$data_dir" --listen "$listen"
