#!/bin/bash
# make test-xen: the project's execution module and states driven by Salt inside a real dom0 of a
# real Xen 4.17 under QEMU, results read back and summarised.
#   exit 0 = every step passed, 1 = something failed, 77 = SKIP (QEMU cannot start here at all)
# Writes xenlab/results/: real-xen-results.json, real-xen-results.md, status (pass|fail|skip),
# captured/ (real outputs for corpus tests), xltrace.json (every xl call the project made, with its
# real output), raw/ (this run's dom0 files, serial log; not committed).
#   XENLAB_CACHE=/var/cache/saltext-xen-lab  XENLAB_RUN=<dir> (default: a fresh /tmp dir)
#   XENLAB_ONLY=infra,read,life,stubborn,state,grains,vnc (driver blocks)  MODE=shell (debug shell)
#   XENLAB_CLI=some|all|min (which steps are a fresh salt-call process; the rest use the warm caller)
#   XENLAB_RESULTS=<dir> (default xenlab/results)  XENLAB_VNC=1 (image with qemu-system-xen: vnc block)
#   XENLAB_DEPLOY=pip|sync (the project pip-installed into dom0's Salt, or synced from a file_root)
#   XENLAB_QEMU=<binary> (default qemu-system-x86_64)  XENLAB_NO_INSTALL=1 (no apt-get of host packages)
#   plus boot.sh's ACCEL TCG_CPU TIMEOUT MEM DOM0_MEM DEADLINE and build.sh's knobs
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
RES=${XENLAB_RESULTS:-$HERE/results}
T0=$(date +%s)
export XENLAB_LOADAVG_START=$(cut -d' ' -f1-3 /proc/loadavg)
say() { echo "[test-xen +$(( $(date +%s) - T0 ))s] $*" >&2; }
mkdir -p "$RES"

skip() {  # one clear line, recorded; never a pass
  echo "SKIP real-xen: $*"
  printf 'skip\n' > "$RES/status"
  python3 "$HERE/report.py" --skip "$*" --results "$RES" >/dev/null 2>&1 || true
  exit 77
}

# --- can QEMU start at all? (the only reason to skip)
QEMU_BIN=${XENLAB_QEMU:-qemu-system-x86_64}; export XENLAB_QEMU=$QEMU_BIN
if ! command -v "$QEMU_BIN" >/dev/null || ! command -v debootstrap >/dev/null ||
   ! command -v zstd >/dev/null || ! command -v lz4 >/dev/null || ! command -v cpio >/dev/null ||
   ! [ -x /bin/busybox ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && [ -z "${XENLAB_NO_INSTALL:-}" ]; then
    say "installing host packages: qemu-system-x86 debootstrap busybox-static cpio zstd lz4"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        qemu-system-x86 debootstrap busybox-static cpio zstd lz4 xz-utils kmod perl; } > /tmp/xenlab-apt.log 2>&1 ||
      say "apt-get failed: $(tail -1 /tmp/xenlab-apt.log)"
  fi
fi
command -v "$QEMU_BIN" >/dev/null || skip "$QEMU_BIN is not installed and could not be installed (apt-get qemu-system-x86)"
probe=$(timeout 5 "$QEMU_BIN" -machine pc -accel tcg -nodefaults -display none -monitor none -serial none -S 2>&1); prc=$?
[ "$prc" = 124 ] || skip "$QEMU_BIN cannot start a TCG machine (exit $prc): $(echo "$probe" | head -1)"
[ "$(id -u)" = 0 ] || { echo "FAIL real-xen: needs root (debootstrap, chroot)"; printf 'fail\n' > "$RES/status"; exit 1; }

# one lab run at a time on this machine (2 cores, ~3.5 GB per QEMU)
CACHE=${XENLAB_CACHE:-/var/cache/saltext-xen-lab}; mkdir -p "$CACHE"
exec 8>"$CACHE/.run.lock"
flock -w 900 8 || { echo "FAIL real-xen: another lab run holds $CACHE/.run.lock"; printf 'fail\n' > "$RES/status"; exit 1; }

# --- the cached base (Debian packages + Salt wheels), keyed by a hash of its inputs
t_build=$(date +%s)
if [ -n "${XENLAB_LAB:-}" ]; then LAB=$XENLAB_LAB; else LAB=$(bash "$HERE/build.sh" | tail -1); fi
[ -n "$LAB" ] && [ -e "$LAB/.complete" ] || { echo "FAIL real-xen: the lab build failed"; printf 'fail\n' > "$RES/status"; exit 1; }
BUILD_S=$(( $(date +%s) - t_build ))

# --- this run's overlay: /init, the driver, Salt config, SLS, DomU configs, the project's code
RUN=${XENLAB_RUN:-$(mktemp -d /tmp/xenlab-run.XXXXXX)}; mkdir -p "$RUN"
say "run dir $RUN, lab $LAB (base ready in ${BUILD_S}s)"
OV=$RUN/overlay; rm -rf "$OV"; mkdir -p "$OV"/{root/xenlab,etc/salt,srv/salt,srv/saltext-xen,root/xen}
install -m 0755 "$HERE/dom0/init.sh" "$OV/init"
install -m 0755 "$HERE/dom0/driver.py" "$OV/root/xenlab/driver.py"
install -m 0755 "$HERE/dom0/warmcall.py" "$OV/root/xenlab/warmcall.py"
mkdir -p "$OV/usr/local/sbin"; install -m 0755 "$HERE/dom0/xltrace.sh" "$OV/usr/local/sbin/xl"
install -m 0644 "$HERE/dom0/minion" "$OV/etc/salt/minion"
cp -r "$HERE/dom0/salt/." "$OV/srv/salt/"
[ -n "${XENLAB_PROBE:-}" ] && install -m 0755 "$XENLAB_PROBE" "$OV/root/xenlab/probe.sh"   # MODE=probe
cp -r "$HERE/dom0/xen/." "$OV/root/xen/"
# the project as it is now (its working tree, committed or not): installed into dom0's Salt venv
# the way `pip install saltext-xen` does it (wheel built on the host, unpacked into the overlay;
# Salt finds the loader folders through the salt.loader entry point), and also copied as a
# file_root for XENLAB_DEPLOY=sync (saltutil.sync_all inside dom0, ~60-80 s more under TCG)
DEPLOY=${XENLAB_DEPLOY:-pip}
(cd "$REPO" && git ls-files -co --exclude-standard -- _modules _states _grains _utils _runners _beacons \
   setup.py setup.cfg pyproject.toml requirements.txt README.md | grep -v -e '__pycache__' -e '\.pyc$' |
   cpio -pdm --quiet "$RUN/src")
cp -a "$RUN/src/." "$OV/srv/saltext-xen/"
COMMIT=$(cd "$REPO" && git rev-parse --short HEAD 2>/dev/null)
(cd "$REPO" && git diff --quiet HEAD -- _modules _states _grains _utils 2>/dev/null &&
  [ -z "$(git ls-files -o --exclude-standard -- _modules _states _grains _utils)" ]) || COMMIT="$COMMIT+dirty"
echo "$COMMIT" > "$OV/srv/saltext-xen/.xenlab-commit"
echo "$DEPLOY" > "$OV/srv/saltext-xen/.xenlab-deploy"
if [ "$DEPLOY" = pip ]; then
  PIP=${PIP:-$REPO/.venv/bin/pip}; [ -x "$PIP" ] || PIP="python3 -m pip"
  $PIP wheel -q --no-deps -w "$RUN/wheel" "$RUN/src" > "$RUN/wheel.log" 2>&1 &&
  $PIP install -q --no-deps --no-index --target "$OV/opt/salt/lib/python3.11/site-packages" "$RUN"/wheel/*.whl \
    >> "$RUN/wheel.log" 2>&1 ||
    { grep -v 'Location' "$RUN/wheel.log" | tail -5; echo "FAIL real-xen: the project wheel did not build"; printf 'fail\n' > "$RES/status"; exit 1; }
fi
# one initramfs of two concatenated cpio archives, unpacked in order by the dom0 kernel: the
# overlay first (gzip, self-delimiting; it shares no file with the base), then the cached base
# (lz4 legacy frames run to the end of the buffer, so it goes last)
(cd "$OV" && find . | cpio -o -H newc --quiet -R 0:0 | gzip -1) > "$RUN/overlay.cpio.gz"
cat "$RUN/overlay.cpio.gz" "$LAB/base.cpio" > "$RUN/dom0-initrd.img"

# --- boot; QEMU is stopped by boot.sh's trap, and by ours if we are interrupted
trap 'pid=$(cat "$RUN/qemu.pid" 2>/dev/null) && kill "$pid" 2>/dev/null; exit 130' INT TERM
say "boot (QEMU ${ACCEL:-tcg})"
t_boot=$(date +%s)
bash "$HERE/boot.sh" "$LAB" "$RUN"; QRC=$?
BOOT_S=$(( $(date +%s) - t_boot ))
[ "${MODE:-run}" = shell ] && exit "$QRC"

# --- read back
rm -rf "$RES/raw"; mkdir -p "$RES/raw"
tar -C "$RES/raw" -xf "$RUN/out.img" 2>/dev/null || say "no result tar on out.img (dom0 did not get that far)"
cp "$RUN/serial.log" "$RES/raw/serial.log" 2>/dev/null
XENLAB_QEMU_HWM_KB=$(cat "$RUN/qemu-hwm-kb" 2>/dev/null) \
python3 "$HERE/report.py" --results "$RES" --lab "$LAB" --qemu-rc "$QRC" \
  --build-s "$BUILD_S" --boot-s "$BOOT_S" --total-s "$(( $(date +%s) - T0 ))"; RRC=$?
[ -n "${XENLAB_KEEP_RUN:-}" ] || rm -rf "$RUN"
exit "$RRC"
