#!/usr/bin/env bash
# Install what building and testing oxve needs on Debian 12 (idempotent; run as root).
set -euo pipefail

apt_packages=(
  build-essential pkg-config   # cc for bundled SQLite and ring
  libpam0g-dev                 # the pam realm links libpam
  ca-certificates curl
  python3 python3-venv         # API client tests with proxmoxer
)

missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! command -v cargo >/dev/null; then
  echo "cargo not found: install a Rust toolchain (rustup) first" >&2
  exit 1
fi
