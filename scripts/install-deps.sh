#!/usr/bin/env bash
# Install what building and testing oxve needs on Debian 12 (idempotent; run as root).
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

# QEMU comes from bookworm-backports: the machine's qemu-utils is the backports build, which
# conflicts with bookworm's own qemu-system-x86.
backports=/etc/apt/sources.list.d/bookworm-backports.sources
if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
  cat >"$backports" <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi

apt_packages=(
  build-essential pkg-config      # cc for bundled SQLite and ring
  ca-certificates curl
  python3 python3-venv            # API client tests with proxmoxer
  cpio dosfstools mtools syslinux syslinux-common isolinux xorriso fdisk  # guest image
  btrfs-progs                     # btrfs storage tests on a loop file
  wrk                             # API benchmark (bench/)
  iproute2 iputils-ping nftables dnsmasq-base busybox-static  # networking: netns, NAT, DHCP (udhcpc in tests)
  wireguard-tools wireguard-go    # VPN endpoints (userspace WireGuard where the kernel has none)
)
backports_packages=(qemu-system-x86 qemu-utils)

missing=()
for p in "${apt_packages[@]}" "${backports_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${apt_packages[@]}"
  apt-get install -y -qq --no-install-recommends -t bookworm-backports "${backports_packages[@]}"
fi

if ! command -v cargo >/dev/null; then
  echo "cargo not found: install a Rust toolchain (rustup) first" >&2
  exit 1
fi
