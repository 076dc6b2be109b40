#!/usr/bin/env bash
# Build the oxve test guest from Debian packages only (never downloaded from elsewhere):
#   kernel   linux-image-amd64 (fetched with `apt-get download`, unpacked, not installed)
#   userland busybox-static    (fetched the same way)
#   agent    qemu-guest-agent's qemu-ga with its shared-library closure (libc6, libglib2.0-0,
#            ...) and the dynamic loader, copied from the unpacked .debs (see agent_pkgs)
#   boot     syslinux (BIOS disk, installed into a FAT image with mtools: no mount, no loop
#            device, no root needed) and isolinux (ISO)
#
# Usage: scripts/build-guest-image.sh [OUT_DIR]      (default: target/guest in the repo)
#
# Outputs in OUT_DIR:
#   oxve-guest.raw    bootable BIOS disk image (MBR, one FAT partition labelled OXVEBOOT)
#   oxve-guest.qcow2  the same disk as qcow2
#   oxve-guest.iso    bootable ISO (isolinux, also isohybrid)
#   vmlinuz, initrd.img  the kernel and initramfs, for `qemu -kernel/-initrd`
#   manifest          package versions and sizes
# The guest's behaviour (serial markers, what it writes to disks, ACPI) is in guest/README.md.
#
# Cached: nothing is rebuilt when the outputs exist and neither this script, guest/, nor the
# package versions changed. Downloaded .debs are kept in OUT_DIR/cache. Safe to run concurrently
# (one build at a time under a lock).
#
# Host packages needed: cpio dosfstools mtools syslinux syslinux-common isolinux xorriso fdisk
# qemu-utils binutils zstd (plus apt, dpkg, coreutils, util-linux).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$repo/target/guest}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
guest_src="$repo/guest"
script="$repo/scripts/build-guest-image.sh"
outputs=(oxve-guest.raw oxve-guest.qcow2 oxve-guest.iso vmlinuz initrd.img manifest)

log() { echo "build-guest-image: $*" >&2; }
die() {
    log "error: $*"
    exit 1
}

need_tools() {
    local missing=() t pkg
    for t in cpio:cpio mkfs.vfat:dosfstools mcopy:mtools syslinux:syslinux sfdisk:fdisk \
        xorriso:xorriso qemu-img:qemu-utils readelf:binutils apt-get:apt dpkg-deb:dpkg flock:util-linux zstd:zstd; do
        pkg="${t#*:}"
        command -v "${t%%:*}" >/dev/null || PATH="$PATH:/sbin:/usr/sbin" command -v "${t%%:*}" >/dev/null ||
            missing+=("$pkg")
    done
    for f in /usr/lib/syslinux/mbr/mbr.bin:syslinux-common /usr/lib/syslinux/modules/bios/ldlinux.c32:syslinux-common \
        /usr/lib/ISOLINUX/isolinux.bin:isolinux /usr/lib/ISOLINUX/isohdpfx.bin:isolinux; do
        [ -e "${f%%:*}" ] || missing+=("${f#*:}")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        die "missing host packages: $(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')(apt-get install them)"
    fi
}

# The guest agent and the packages that hold its shared libraries (the closure is computed from
# the ELF NEEDED entries at build time; a library missing here fails the build).
agent_pkgs=(qemu-guest-agent libc6 libglib2.0-0 libpcre2-8-0 libnuma1 libudev1 liburing2)
declare -A agent_ver=()

candidate() {
    apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ { print $2; exit }'
}

resolve_packages() {
    kernel_pkg="${OXVE_GUEST_KERNEL_PKG:-}"
    if [ -z "$kernel_pkg" ]; then
        kernel_pkg="$(apt-cache depends linux-image-amd64 2>/dev/null |
            awk '/Depends: linux-image-[0-9]/ { print $2; exit }')"
    fi
    [ -n "$kernel_pkg" ] || return 1
    kernel_ver="$(candidate "$kernel_pkg")"
    busybox_ver="$(candidate busybox-static)"
    { [ -n "$kernel_ver" ] && [ "$kernel_ver" != "(none)" ]; } || return 1
    { [ -n "$busybox_ver" ] && [ "$busybox_ver" != "(none)" ]; } || return 1
    # One apt-cache call for all of them (each call reads the whole package cache).
    local p v
    while read -r p v; do
        agent_ver[$p]="$v"
    done < <(apt-cache policy "${agent_pkgs[@]}" 2>/dev/null |
        awk '/^[^ ].*:$/ { name = substr($0, 1, length($0) - 1) } /Candidate:/ { print name, $2 }')
    for p in "${agent_pkgs[@]}"; do
        { [ -n "${agent_ver[$p]:-}" ] && [ "${agent_ver[$p]}" != "(none)" ]; } || return 1
    done
    syslinux_ver="$(dpkg-query -W -f='${Version}' syslinux-common 2>/dev/null || echo unknown)"
}

input_hash() {
    {
        sha256sum "$script"
        (cd "$guest_src" && find . -type f | LC_ALL=C sort | xargs sha256sum &&
            find . -type f -perm -u+x | LC_ALL=C sort)
        echo "$kernel_pkg=$kernel_ver busybox-static=$busybox_ver syslinux=$syslinux_ver"
        agent_versions
    } | sha256sum | cut -d' ' -f1
}

up_to_date() {
    [ -f "$out/stamp" ] && [ "$(cat "$out/stamp")" = "$1" ] || return 1
    local f
    for f in "${outputs[@]}"; do
        [ -s "$out/$f" ] || return 1
    done
}

# fetch PACKAGE VERSION -> path of the .deb in the cache
fetch() {
    local dir="$out/cache/debs" deb
    mkdir -p "$dir"
    deb="$(find "$dir" -maxdepth 1 -name "${1}_${2//:/%3a}_*.deb" | head -n1)"
    if [ -z "$deb" ]; then
        log "downloading $1=$2"
        (cd "$dir" && apt-get download -q -o APT::Sandbox::User=root "$1=$2" >/dev/null) ||
            die "apt-get download $1=$2 failed"
        deb="$(find "$dir" -maxdepth 1 -name "${1}_${2//:/%3a}_*.deb" | head -n1)"
    fi
    [ -n "$deb" ] || die "no .deb for $1 in $dir"
    echo "$deb"
}

agent_versions() {
    local p
    for p in "${agent_pkgs[@]}"; do
        echo "$p=${agent_ver[$p]}"
    done
}

# add_agent WORK: qemu-ga as /usr/sbin/qemu-ga plus every shared library it needs (recursively)
# in /lib/x86_64-linux-gnu, and the loader at its ELF interpreter path /lib64/ld-linux-x86-64.so.2.
add_agent() {
    local aroot="$1/agent" p deb lib src
    mkdir -p "$aroot"
    for p in "${agent_pkgs[@]}"; do
        deb="$(fetch "$p" "${agent_ver[$p]}")"
        dpkg-deb -x "$deb" "$aroot"
    done
    install -D -m 0755 "$aroot/usr/sbin/qemu-ga" "$rootfs/usr/sbin/qemu-ga"
    local libdir="$rootfs/lib/x86_64-linux-gnu"
    mkdir -p "$libdir" "$rootfs/lib64"
    local queue=("$rootfs/usr/sbin/qemu-ga") f
    declare -A seen=()
    while [ ${#queue[@]} -gt 0 ]; do
        f="${queue[0]}"
        queue=("${queue[@]:1}")
        for lib in $(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p') ld-linux-x86-64.so.2; do
            [ -z "${seen[$lib]:-}" ] || continue
            seen[$lib]=1
            src="$(find "$aroot/lib" "$aroot/usr/lib" -path '*/x86_64-linux-gnu/*' -name "$lib" 2>/dev/null | head -n1)"
            [ -n "$src" ] || die "qemu-ga needs $lib, which none of: ${agent_pkgs[*]} holds"
            cp -L "$src" "$libdir/$lib"
            chmod 0755 "$libdir/$lib"
            queue+=("$libdir/$lib")
        done
    done
    ln -sf /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 "$rootfs/lib64/ld-linux-x86-64.so.2"
}

# add_module NAME: copy the module and (recursively) its dependencies into the rootfs.
declare -A module_path=() module_done=()
index_modules() {
    local f name
    while IFS= read -r f; do
        name="$(basename "$f" .ko)"
        module_path["${name//-/_}"]="$f"
    done < <(cd "$kroot/lib/modules/$kver" && find kernel -name '*.ko')
}
add_module() {
    local name="${1//-/_}" rel deps dep
    [ -z "${module_done[$name]:-}" ] || return 0
    module_done[$name]=1
    rel="${module_path[$name]:-}"
    if [ -z "$rel" ]; then
        grep -q "/${1}.ko\$" "$kroot/lib/modules/$kver/modules.builtin" ||
            grep -q "/${name}.ko\$" "$kroot/lib/modules/$kver/modules.builtin" ||
            die "kernel module $1 not found in $kernel_pkg"
        return 0
    fi
    install -D -m 0644 "$kroot/lib/modules/$kver/$rel" "$rootfs/lib/modules/$kver/$rel"
    deps="$(grep -a -o 'depends=[^[:cntrl:]]*' "$kroot/lib/modules/$kver/$rel" | head -n1 | cut -d= -f2)"
    for dep in ${deps//,/ }; do
        add_module "$dep"
    done
}

build() {
    local work="$1"
    kroot="$work/kernel"
    rootfs="$work/rootfs"
    local bbroot="$work/busybox" kdeb bbdeb
    kdeb="$(fetch "$kernel_pkg" "$kernel_ver")"
    bbdeb="$(fetch busybox-static "$busybox_ver")"

    log "unpacking $kernel_pkg and busybox-static"
    mkdir -p "$kroot" "$bbroot" "$rootfs"
    dpkg-deb -x "$kdeb" "$kroot"
    dpkg-deb -x "$bbdeb" "$bbroot"
    kver="$(basename "$(find "$kroot/lib/modules" -mindepth 1 -maxdepth 1 -type d | head -n1)")"
    [ -f "$kroot/boot/vmlinuz-$kver" ] || die "no vmlinuz-$kver in $kdeb"

    log "assembling the initramfs (kernel $kver)"
    (cd "$rootfs" && mkdir -p bin sbin usr/bin usr/sbin dev proc sys run tmp root var/log etc/oxve lib/modules/"$kver" && ln -s /run var/run)
    install -m 0755 "$bbroot/bin/busybox" "$rootfs/bin/busybox"
    local applet
    while IFS= read -r applet; do
        [ "$applet" = bin/busybox ] && continue
        mkdir -p "$rootfs/$(dirname "$applet")"
        ln -sf /bin/busybox "$rootfs/$applet"
    done < <("$rootfs/bin/busybox" --list-full)
    ln -sf /bin/busybox "$rootfs/init"
    cp -R "$guest_src/rootfs/." "$rootfs/"
    chmod 0755 "$rootfs/etc/init.d/rcS" "$rootfs/etc/init.d/rcK" "$rootfs/etc/acpi/PWRF/00000080"
    chmod 0755 "$rootfs/sbin/shutdown"
    log "adding qemu-guest-agent"
    add_agent "$work"
    echo "root:x:0:0:root:/root:/bin/sh" >"$rootfs/etc/passwd"
    echo "root:x:0:" >"$rootfs/etc/group"

    index_modules
    local m
    # `~name`: copied, but loaded on demand (the kernel asks modprobe) instead of at boot.
    sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$guest_src/modules.list" | tr -d ' \t' >"$work/modules"
    grep -v '^~' "$work/modules" >"$rootfs/etc/oxve/modules" || true
    while IFS= read -r m; do
        add_module "${m#\~}"
    done <"$work/modules"
    cp "$kroot/lib/modules/$kver/modules.builtin" "$kroot/lib/modules/$kver/modules.order" \
        "$rootfs/lib/modules/$kver/"
    "$rootfs/bin/busybox" depmod -b "$rootfs" "$kver"

    find "$rootfs" -exec touch -h -d @1 {} +
    # zstd: smaller than gzip and faster to unpack under TCG (the kernel has CONFIG_RD_ZSTD).
    (cd "$rootfs" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --reproducible --quiet) | zstd -19 -q -c >"$work/initrd.img"
    cp "$kroot/boot/vmlinuz-$kver" "$work/vmlinuz"

    log "building the disk image"
    local payload part_mib
    payload=$(($(stat -c %s "$work/vmlinuz") + $(stat -c %s "$work/initrd.img")))
    part_mib=$((payload / 1048576 + 8))
    mkfs.vfat -n OXVEBOOT -i 0a5e0001 -h 2048 -C "$work/part.img" $((part_mib * 1024)) >/dev/null
    MTOOLS_SKIP_CHECK=1 mcopy -i "$work/part.img" "$work/vmlinuz" "$work/initrd.img" "$guest_src/syslinux.cfg" ::/
    syslinux --install "$work/part.img"
    truncate -s $(((part_mib + 1) * 1048576)) "$work/oxve-guest.raw"
    printf 'label: dos\nlabel-id: 0x0a5e0001\nstart=2048, type=e, bootable\n' |
        sfdisk --quiet --no-reread --no-tell-kernel "$work/oxve-guest.raw" >/dev/null
    dd if=/usr/lib/syslinux/mbr/mbr.bin of="$work/oxve-guest.raw" bs=440 count=1 conv=notrunc status=none
    dd if="$work/part.img" of="$work/oxve-guest.raw" bs=1M seek=1 conv=notrunc status=none
    qemu-img convert -f raw -O qcow2 "$work/oxve-guest.raw" "$work/oxve-guest.qcow2"

    log "building the ISO"
    local iso="$work/iso"
    mkdir -p "$iso/isolinux" "$iso/boot"
    cp /usr/lib/ISOLINUX/isolinux.bin /usr/lib/syslinux/modules/bios/ldlinux.c32 "$iso/isolinux/"
    cp "$guest_src/isolinux.cfg" "$iso/isolinux/isolinux.cfg"
    cp "$work/vmlinuz" "$work/initrd.img" "$iso/boot/"
    xorriso -as mkisofs -quiet -o "$work/oxve-guest.iso" -V OXVEISO -J -R \
        -b isolinux/isolinux.bin -c isolinux/boot.cat -no-emul-boot -boot-load-size 4 -boot-info-table \
        -isohybrid-mbr /usr/lib/ISOLINUX/isohdpfx.bin "$iso" 2>/dev/null

    {
        echo "kernel=$kernel_pkg $kernel_ver ($kver)"
        echo "busybox-static=$busybox_ver"
        echo "syslinux=$syslinux_ver"
        agent_versions
        echo "modules=$(find "$rootfs/lib/modules" -name '*.ko' | wc -l)"
        local f
        for f in oxve-guest.raw oxve-guest.qcow2 oxve-guest.iso vmlinuz initrd.img; do
            echo "size.$f=$(stat -c %s "$work/$f")"
        done
    } >"$work/manifest"
}

need_tools
if ! resolve_packages; then
    if up_to_date "$(cat "$out/stamp" 2>/dev/null)"; then
        log "warning: cannot resolve the Debian packages (apt-get update?); using the existing image"
        exit 0
    fi
    die "cannot resolve linux-image-amd64, busybox-static and ${agent_pkgs[*]}: run apt-get update"
fi
hash="$(input_hash)"
if up_to_date "$hash"; then
    log "up to date: $out"
    exit 0
fi

exec 9>"$out/.lock"
flock 9
if up_to_date "$hash"; then
    log "up to date: $out (built concurrently)"
    exit 0
fi
rm -rf "$out"/.build.* # left by a build that was killed
work="$(mktemp -d "$out/.build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
rm -f "$out/stamp"
build "$work"
for f in "${outputs[@]}"; do
    mv -f "$work/$f" "$out/$f"
done
echo "$hash" >"$out/stamp"
log "built in $out: $(tr '\n' ' ' <"$out/manifest")"
