#!/bin/bash
# Build (or reuse) the cached part of the real-Xen lab: everything that does not change with the
# project's code.  Debian packages and PyPI wheels only; needs root (debootstrap, chroot).
#
#   $CACHE/lab-<key>/xen             uncompressed multiboot Xen 4.17 (ELF32, QEMU -kernel takes it)
#   $CACHE/lab-<key>/vmlinuz         Debian 12 kernel, dom0 and DomU
#   $CACHE/lab-<key>/base.cpio       dom0 root filesystem as a compressed cpio (an initramfs, no disk image):
#                                    minbase bookworm + xen-utils-4.17 + python3 + Salt in /opt/salt
#                                    (offline from wheels built on the host) + the DomU busybox kit
#   $CACHE/lab-<key>/versions.env    what went in (hypervisor, tools, kernel, salt, python)
#
# <key> = sha256 of the build inputs (this script, xenlab/domu/*, requirements.txt), so a cache hit
# needs no network at all; the project's code is NOT in the base (run.sh appends it per run as a
# second cpio).  Prints the lab directory on stdout's last line.
#   XENLAB_CACHE=/var/cache/saltext-xen-lab  XENLAB_REBUILD=1  XENLAB_KEEP=3 (lab dirs kept)
#   MIRROR, SECMIRROR (Debian), PIP (the pip that builds the wheels), KPKG (kernel package)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
CACHE=${XENLAB_CACHE:-/var/cache/saltext-xen-lab}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECMIRROR=${SECMIRROR:-http://deb.debian.org/debian-security}
XPKG=xen-hypervisor-4.17-amd64
# dom0 packages: the toolstack, bridge, Debian's python3 for Salt (venv), nothing else
DOM0_PKGS=xen-utils-4.17,bridge-utils,iproute2,kmod,procps,busybox,python3,python3-venv
# XENLAB_VNC=1: also qemu-system-xen (the PV vfb/VNC backend; xen-utils only recommends it),
# for the driver's vnc block; ~60 MB more in dom0's RAM, so not in the default image
[ -n "${XENLAB_VNC:-}" ] && DOM0_PKGS=$DOM0_PKGS,qemu-system-xen
REQS=$REPO/requirements.txt
# base.cpio compression: dom0's kernel unpacks it under TCG, where zstd costs ~1 s per 10 MB of
# archive; lz4 (legacy frame, what the kernel takes) unpacks several times faster
COMPRESS=${XENLAB_COMPRESS:-lz4}
t0=$(date +%s)
log() { echo "[build +$(( $(date +%s) - t0 ))s] $*" >&2; }

key_inputs() {  # everything the cached base depends on (order matters)
  cat "$HERE/build.sh" "$HERE"/domu/* "$REQS"
  echo "$DOM0_PKGS ${KPKG:-default-kernel} $MIRROR $SECMIRROR $COMPRESS"
}
KEY=$(key_inputs | sha256sum | cut -c1-16)
LAB=$CACHE/lab-$KEY
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9                                    # one build at a time per cache
if [ -e "$LAB/.complete" ] && [ -z "${XENLAB_REBUILD:-}" ]; then
  log "cache hit: $LAB (key $KEY, built $(cat "$LAB/.complete"))"
  touch "$LAB"                             # last use, for XENLAB_KEEP
  echo "$LAB"; exit 0
fi
log "cache miss: building $LAB (key $KEY)"
WORK=$CACHE/build-$KEY
umount_all() { for m in proc dev/pts dev sys; do mountpoint -q "$WORK/rootfs/$m" 2>/dev/null && umount -l "$WORK/rootfs/$m"; done; true; }
trap umount_all EXIT
umount_all; rm -rf "$WORK"; mkdir -p "$WORK/debs"; cd "$WORK"

# --- wheels for Salt, built on the host (Salt is source-only on PyPI; timelib compiles C).  Keyed
# by the requirements alone and kept across lab keys: host and dom0 are both CPython 3.11 / glibc
# 2.36, so cp311/abi3/manylinux wheels install on Debian's python3.11 as they are.
WKEY=$(cat "$REQS" | sha256sum | cut -c1-16)
WHEELS=$CACHE/wheels-$WKEY
PIP=${PIP:-}
if [ -z "$PIP" ]; then
  if [ -x "$REPO/.venv/bin/pip" ]; then PIP=$REPO/.venv/bin/pip; else PIP="python3 -m pip"; fi
fi
wheels() {
  [ -e "$WHEELS/.complete" ] && return 0
  rm -rf "$WHEELS.tmp"; mkdir -p "$WHEELS.tmp"
  $PIP wheel -q -w "$WHEELS.tmp" -r "$REQS" > "$WORK/wheels.log" 2>&1 || { cat "$WORK/wheels.log" >&2; return 1; }
  rm -rf "$WHEELS"; mv "$WHEELS.tmp" "$WHEELS"; date -u +%FT%TZ > "$WHEELS/.complete"
}
log "wheels -> $WHEELS (background)"
wheels & WPID=$!

# --- hypervisor + kernel: downloaded and unpacked, the host is not modified
[ -n "${KPKG:-}" ] || KPKG=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
log "download $XPKG $KPKG"
(cd debs && apt-get download -q "$XPKG" "$KPKG" 2>&1 | grep -v -e 'unsandboxed' -e '^Get:' >&2 || true)
for d in debs/*.deb; do dpkg-deb -x "$d" extract; done
KVER=$(ls extract/lib/modules)
zcat extract/boot/xen-4.17-amd64.gz > xen
cp extract/boot/vmlinuz-"$KVER" vmlinuz

# --- dom0 root filesystem
log "debootstrap minbase bookworm + $DOM0_PKGS"
debootstrap --variant=minbase --include="$DOM0_PKGS" bookworm rootfs "$MIRROR" > debootstrap.log 2>&1 ||
  { tail -20 debootstrap.log >&2; exit 1; }
cat > rootfs/etc/apt/sources.list <<SRC
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb $SECMIRROR bookworm-security main
SRC
cp /etc/resolv.conf rootfs/etc/resolv.conf
log "upgrade from bookworm-security (tools == hypervisor point release)"
{ chroot rootfs apt-get update -qq &&
  DEBIAN_FRONTEND=noninteractive chroot rootfs apt-get -y -qq upgrade &&
  chroot rootfs apt-get clean; } > upgrade.log 2>&1 || { tail -20 upgrade.log >&2; exit 1; }
: > rootfs/etc/resolv.conf                 # the lab has no network: no resolver at all

log "waiting for the wheels"
wait $WPID
log "salt into /opt/salt (Debian python3 venv, offline from $(ls "$WHEELS"/*.whl | wc -l) wheels)"
mkdir -p rootfs/tmp/wheels; cp "$WHEELS"/*.whl rootfs/tmp/wheels/; cp "$REQS" rootfs/tmp/wheels/requirements.txt
mount -t proc proc rootfs/proc
chroot rootfs python3 -m venv /opt/salt
chroot rootfs env -u PIP_FIND_LINKS PIP_CONFIG_FILE=/dev/null /opt/salt/bin/pip install -q --no-index \
  --no-cache-dir --find-links /tmp/wheels -r /tmp/wheels/requirements.txt
umount rootfs/proc
rm -rf rootfs/tmp/wheels
# Salt's optional extras that salt-call never imports on the lab's paths (measured with
# python -X importtime on test.version, state.apply, saltutil.sync_all, grains.items): every MB
# here is RAM in dom0 and unpack time at boot, and GitPython is imported (slowly) by gitfs only
# when present.  Salt checks them all with try/except ImportError.
SP=rootfs/opt/salt/lib/python3.11/site-packages
( cd "$SP" && rm -rf libcloud apache_libcloud-* pip pip-* virtualenv virtualenv-* pygments pygments-* \
    rich rich-* git GitPython-* gitpython-* gitdb gitdb-* smmap smmap-* setuptools setuptools-* pkg_resources \
    _distutils_hack distutils-precedence.pth )
for b in salt-call salt-minion; do ln -sf /opt/salt/bin/$b rootfs/usr/local/bin/$b; done

log "prune rootfs + kernel modules"
rm -rf rootfs/usr/share/doc/* rootfs/usr/share/man/* rootfs/usr/share/info/* \
       rootfs/usr/share/locale/* rootfs/var/lib/apt/lists/* rootfs/var/cache/apt/*.bin \
       rootfs/var/cache/debconf/*-old rootfs/root/.cache rootfs/usr/lib/udev/hwdb.bin
M=rootfs/lib/modules/$KVER; rm -rf "$M"; mkdir -p "$M/kernel"
S=extract/lib/modules/$KVER
for p in drivers/xen drivers/net/xen-netback drivers/net/xen-netfront.ko drivers/net/tun.ko \
         drivers/block/xen-blkback drivers/block/xen-blkfront.ko drivers/block/loop.ko \
         drivers/block/virtio_blk.ko drivers/virtio net/bridge net/802 net/llc; do
  mkdir -p "$M/kernel/$(dirname $p)"; cp -a "$S/kernel/$p" "$M/kernel/$p"
done
cp "$S"/modules.order "$S"/modules.builtin* "$M"/ 2>/dev/null || true
chroot rootfs depmod "$KVER"

log "DomU busybox initramfs"
rm -rf domu-root; mkdir -p domu-root/{bin,sbin,etc,proc,sys,dev,tmp,root,lib/modules}
cp /bin/busybox domu-root/bin/busybox
for a in $(domu-root/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox domu-root/bin/"$a"; done
for a in init poweroff reboot halt; do ln -sf ../bin/busybox domu-root/sbin/$a; done
ln -sf bin/busybox domu-root/init
cp "$S"/kernel/drivers/net/xen-netfront.ko domu-root/lib/modules/
install -m 0644 "$HERE"/domu/inittab domu-root/etc/inittab
install -m 0755 "$HERE"/domu/rc domu-root/etc/rc
(cd domu-root && find . | cpio -o -H newc --quiet | gzip -9) > domu-initrd.cpio.gz

mkdir -p rootfs/root/domu rootfs/var/lib/xen/save rootfs/var/log/xen/console
# The DomU kernel as the plain ELF inside the bzImage: libxc would otherwise unpack the xz
# payload in dom0 on every xl create, ~10 s of TCG each time (66 MB of RAM in dom0 instead)
off=$(python3 -c "import sys; print(open(sys.argv[1], 'rb').read().find(b'\xfd7zXZ\x00'))" vmlinuz)
[ "$off" -gt 0 ] && { tail -c +$((off + 1)) vmlinuz | xz -dc 2>/dev/null > rootfs/root/domu/vmlinux || true; }
[ "$(head -c 4 rootfs/root/domu/vmlinux 2>/dev/null | od -An -c | tr -d ' ')" = '177ELF' ] ||
  { log "no xz payload in vmlinuz: the DomU boots the compressed kernel"; cp vmlinuz rootfs/root/domu/vmlinux; }
cp domu-initrd.cpio.gz rootfs/root/domu/initrd.cpio.gz
echo dom0 > rootfs/etc/hostname
printf '127.0.0.1\tlocalhost\n127.0.1.1\tdom0\n' > rootfs/etc/hosts
# every guest console into /var/log/xen/console/guest-<name>.log
grep -q '^XENCONSOLED_ARGS=' rootfs/etc/default/xen ||
  echo 'XENCONSOLED_ARGS="--log=guest --log-dir=/var/log/xen/console"' >> rootfs/etc/default/xen

{
  echo "HYPERVISOR=$(dpkg-deb -f debs/${XPKG}_*.deb Version)"
  echo "TOOLS=$(chroot rootfs dpkg-query -W -f '${Version}' xen-utils-4.17)"
  echo "KERNEL=$KPKG $(dpkg-deb -f debs/${KPKG}_*.deb Version)"
  echo "PYTHON=$(chroot rootfs python3 -c 'import platform; print(platform.python_version())')"
  echo "SALT=$(chroot rootfs /opt/salt/bin/python -c 'import salt.version; print(salt.version.__version__)')"
  echo "ROOTFS_MB=$(du -sm rootfs | cut -f1)"
  echo "KEY=$KEY"
} > versions.env
log "versions: $(tr '\n' ' ' < versions.env)"

log "pack base.cpio ($COMPRESS)"
case $COMPRESS in
  zstd) (cd rootfs && find . | cpio -o -H newc --quiet | zstd -q -T0 -10) > base.cpio ;;
  lz4)  (cd rootfs && find . | cpio -o -H newc --quiet | lz4 -q -l -9) > base.cpio ;;
  none) (cd rootfs && find . | cpio -o -H newc --quiet) > base.cpio ;;
  *) echo "XENLAB_COMPRESS: zstd, lz4 or none" >&2; exit 2 ;;
esac

rm -rf "$LAB"; mkdir -p "$LAB"
mv xen vmlinuz base.cpio versions.env "$LAB"/
date -u +%FT%TZ > "$LAB/.complete"
cd "$CACHE"; umount_all; rm -rf "$WORK"
# keep the newest XENLAB_KEEP lab dirs (by last use)
ls -dt "$CACHE"/lab-*/ 2>/dev/null | tail -n +$(( ${XENLAB_KEEP:-3} + 1 )) | xargs -r rm -rf
log "done: $LAB base $(du -h "$LAB/base.cpio" | cut -f1)"
echo "$LAB"
