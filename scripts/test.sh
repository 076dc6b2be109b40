#!/usr/bin/env bash
# Run every test of oxve: formatting, lints, unit and integration tests against a real
# daemon, and the Proxmox API client tests (proxmoxer). Installs what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh

echo "== web UI build (npm)"
# Before cargo: the daemon embeds web/dist when it is compiled.
scripts/build-web.sh

echo "== cargo fmt"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

echo "== cargo build"
cargo build --workspace --bins

echo "== guest image"
# Package lists must be current for apt-get download of the guest kernel and busybox.
[ -n "$(find /var/lib/apt/lists -name '*bookworm-backports*Packages*' 2>/dev/null | head -1)" ] || apt-get update -qq
scripts/build-guest-image.sh target/guest

echo "== container template"
scripts/build-ct-template.sh target/ct-template

echo "== proxmoxer client"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install -q -r tests/clients/requirements.txt

# A throwaway host account for the PAM realm tests, removed again on exit.
if [ "$(id -u)" = 0 ] && command -v useradd >/dev/null; then
  pam_user=oxvepamtest$$
  pam_password="pam-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  useradd --no-create-home --shell /usr/sbin/nologin "$pam_user"
  trap 'userdel "$pam_user" 2>/dev/null || true' EXIT
  echo "$pam_user:$pam_password" | chpasswd
  export OXVE_PAM_TEST_USER=$pam_user OXVE_PAM_TEST_PASSWORD=$pam_password
fi

echo "== cargo test"
set +e
OXVE_CLIENT_PYTHON="$PWD/.venv/bin/python" cargo test --workspace --no-fail-fast 2>&1 | tee target/test-output.txt
status=${PIPESTATUS[0]}
set -e

echo "== web UI (Chromium)"
set +e
OXVE_BIN="$PWD/target/debug/oxve" web/run-tests.sh 2>&1 | tee target/web-test-output.txt
web_status=${PIPESTATUS[0]}
set -e
[ "$status" = 0 ] && status=$web_status

# One closing line for everything: cargo's "test result:" lines and node's "pass N"/"fail N".
awk '/^test result:/ { for (i = 1; i < NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     $2 == "pass" && $3 ~ /^[0-9]+$/ && NF == 3 { p += $3 } $2 == "fail" && $3 ~ /^[0-9]+$/ && NF == 3 { f += $3 }
     END { printf "%d passed, %d failed\n", p, f }' target/test-output.txt target/web-test-output.txt
exit "$status"
