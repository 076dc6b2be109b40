#!/usr/bin/env bash
# Build oxve's container template (a vztmpl) from Debian packages only: a busybox system
# (busybox-static, fetched with `apt-get download`, unpacked, not installed) with a tiny
# /sbin/init that
#   - sets the hostname from /etc/hostname and brings up lo,
#   - writes "oxve-ct-init started <hostname>" to /run/oxve-init (tests look for it),
#   - stays alive, and exits on SIGPWR/SIGTERM (halt) or SIGINT (reboot), as lxc-stop expects.
#
# Usage: scripts/build-ct-template.sh [OUT_DIR]     (default: target/ct-template in the repo)
# Output: OUT_DIR/oxve-busybox_1.0_amd64.tar.zst (a Proxmox-style vztmpl: rootfs at the top
# level, files owned by root) and OUT_DIR/manifest.
#
# On request, a Debian minbase system instead (debootstrap from the apt mirror; needs the
# debootstrap package and a few minutes; systemd as init, ifupdown and iproute2):
#   scripts/build-ct-template.sh --debian [OUT_DIR]
#   -> OUT_DIR/debian-12-minbase_12_amd64.tar.zst    (mirror: $OXVE_DEBIAN_MIRROR or deb.debian.org)
#
# Cached: nothing is rebuilt when the output exists and neither this script nor the package
# version changed. Safe to run concurrently (one build at a time under a lock).
# Host packages needed: apt, dpkg, tar, zstd, util-linux (flock).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
debian=0
if [ "${1:-}" = --debian ]; then
    debian=1
    shift
fi
out="${1:-$repo/target/ct-template}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
script="$repo/scripts/build-ct-template.sh"
name=oxve-busybox_1.0_amd64.tar.zst

log() { echo "build-ct-template: $*" >&2; }
die() {
    log "error: $*"
    exit 1
}

for t in apt-get dpkg-deb tar zstd flock; do
    command -v "$t" >/dev/null || die "missing host tool '$t'"
done

exec 9>"$out/.lock"
flock 9

if [ "$debian" = 1 ]; then
    command -v debootstrap >/dev/null || PATH="$PATH:/usr/sbin" command -v debootstrap >/dev/null ||
        die "debootstrap is not installed (apt-get install debootstrap)"
    name=debian-12-minbase_12_amd64.tar.zst
    mirror="${OXVE_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
    stamp="debian bookworm minbase $mirror script=$(sha256sum "$script" | cut -c1-16)"
    if [ -f "$out/$name" ] && [ "$(cat "$out/$name.manifest" 2>/dev/null)" = "$stamp" ]; then
        echo "$out/$name"
        exit 0
    fi
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
    log "debootstrap bookworm (minbase) from $mirror"
    PATH="$PATH:/usr/sbin:/sbin" debootstrap --variant=minbase \
        --include=systemd-sysv,ifupdown,iproute2,ca-certificates bookworm "$work/rootfs" "$mirror" >&2 ||
        die "debootstrap failed"
    root="$work/rootfs"
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    echo localhost >"$root/etc/hostname"
    : >"$root/etc/resolv.conf"
    printf 'auto lo\niface lo inet loopback\n' >"$root/etc/network/interfaces"
    tar --numeric-owner -C "$root" -cf - . | zstd -q -19 -T0 -o "$work/$name"
    mv -f "$work/$name" "$out/$name"
    echo "$stamp" >"$out/$name.manifest"
    log "built $out/$name"
    echo "$out/$name"
    exit 0
fi

version="$(apt-cache policy busybox-static 2>/dev/null | awk '/Candidate:/ { print $2; exit }')"
{ [ -n "$version" ] && [ "$version" != "(none)" ]; } || die "cannot resolve busybox-static: run apt-get update"
stamp="busybox-static=$version script=$(sha256sum "$script" | cut -c1-16)"
if [ -f "$out/$name" ] && [ "$(cat "$out/manifest" 2>/dev/null)" = "$stamp" ]; then
    echo "$out/$name"
    exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$out/cache"
deb="$(ls "$out/cache"/busybox-static_*.deb 2>/dev/null | grep -F "_${version//:/%3a}_" | head -1 || true)"
if [ -z "$deb" ]; then
    log "downloading busybox-static=$version"
    (cd "$out/cache" && apt-get download -q -o APT::Sandbox::User=root "busybox-static=$version" >/dev/null) ||
        die "apt-get download busybox-static=$version failed"
    deb="$(ls "$out/cache"/busybox-static_*.deb | head -1)"
fi
dpkg-deb -x "$deb" "$work/pkg"

root="$work/rootfs"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,dev,proc,sys,run,tmp,root,var/log,home}
chmod 1777 "$root/tmp"
chmod 0700 "$root/root"
install -m 0755 "$work/pkg/bin/busybox" "$root/bin/busybox"
while read -r applet; do
    [ "$applet" = bin/busybox ] && continue
    [ "$applet" = sbin/init ] && continue
    ln -sf /bin/busybox "$root/$applet"
done < <("$root/bin/busybox" --list-full)

cat >"$root/sbin/init" <<'INIT'
#!/bin/sh
# oxve container init: hostname, loopback, a marker, then wait for lxc-stop's signal.
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
[ -s /etc/hostname ] && hostname -F /etc/hostname
ip link set lo up 2>/dev/null
mkdir -p /run
echo "oxve-ct-init started $(hostname)" >/run/oxve-init
halt() { echo "oxve-ct-init stopping" >>/run/oxve-init; exit 0; }
trap halt PWR TERM
trap 'exit 1' INT
while :; do
    sleep 3600 &
    wait $!
done
INIT
chmod 0755 "$root/sbin/init"

cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$root/etc/group" <<'EOF'
root:x:0:
nogroup:x:65534:
EOF
echo 'root:*:19000:0:99999:7:::' >"$root/etc/shadow"
chmod 0640 "$root/etc/shadow"
echo localhost >"$root/etc/hostname"
printf '127.0.0.1 localhost\n::1 localhost\n' >"$root/etc/hosts"
: >"$root/etc/resolv.conf"
echo 'NAME="oxve busybox"' >"$root/etc/os-release"

tar --numeric-owner --owner=0 --group=0 -C "$root" -cf - . | zstd -q -19 -o "$work/$name"
mv -f "$work/$name" "$out/$name"
echo "$stamp" >"$out/manifest"
log "built $out/$name"
echo "$out/$name"
