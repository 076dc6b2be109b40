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
  cpio dosfstools mtools syslinux syslinux-common isolinux xorriso fdisk binutils  # guest image
  btrfs-progs                     # btrfs storage tests on a loop file
  lxc zstd e2fsprogs              # containers: liblxc tools, vztmpl archives, ext4 rootfs images
  lxcfs                           # containers see their own limits in /proc/meminfo, cpuinfo, ...
  lzop pigz                       # compress=lzo and compress=gzip with pigz=N (piped through the tools)
  wrk                             # API benchmark (bench/)
  iproute2 iputils-ping nftables dnsmasq-base busybox-static  # networking: netns, NAT, DHCP (udhcpc in tests)
  wireguard-tools wireguard-go    # VPN endpoints (userspace WireGuard where the kernel has none)
)
backports_packages=(qemu-system-x86 qemu-utils)

# The lxc package's lxc-net service would create a host bridge (lxcbr0); oxve wires its own
# networks, so keep it off (the package keeps an existing file).
[ -e /etc/default/lxc-net ] || echo 'USE_LXC_BRIDGE="false"' >/etc/default/lxc-net

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

# Unprivileged containers map their ids to root's subordinate range 100000-165535 (as Proxmox).
for f in /etc/subuid /etc/subgid; do
  grep -qs '^root:100000:65536$' "$f" || echo 'root:100000:65536' >>"$f"
done

# lxcfs runs as a host service (as on Proxmox): LXC's common config then bind-mounts its
# /proc files into every container it starts. Without systemd, start it detached.
# An lxcfs that died leaves its FUSE mount behind ("Transport endpoint is not connected"):
# drop that mount first, or mkdir and every container start would fail on it.
if ! mountpoint -q /var/lib/lxcfs && grep -qs ' /var/lib/lxcfs ' /proc/mounts; then
  umount -l /var/lib/lxcfs
fi
if ! mountpoint -q /var/lib/lxcfs; then
  if [ -d /run/systemd/system ]; then
    systemctl enable --now lxcfs
  else
    mkdir -p /var/lib/lxcfs
    setsid lxcfs /var/lib/lxcfs </dev/null >/var/log/lxcfs.log 2>&1 &
    for _ in $(seq 50); do mountpoint -q /var/lib/lxcfs && break; sleep 0.1; done
  fi
fi

if ! command -v cargo >/dev/null; then
  echo "cargo not found: install a Rust toolchain (rustup) first" >&2
  exit 1
fi
