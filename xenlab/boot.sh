#!/bin/bash
# Boot the lab under QEMU: Xen 4.17 (multiboot, QEMU -kernel) + dom0 kernel + the dom0 initramfs
# (cached base + this run's overlay), serial console to serial.log with seconds since QEMU start,
# results read back from the raw tar on the virtio disk out.img.
#   boot.sh LAB_DIR RUN_DIR       (RUN_DIR holds dom0-initrd.img; gets out.img, serial.log, qemu.pid)
#   ACCEL=tcg|kvm  TCG_CPU=qemu64,+svm,+npt,model-id=...  MODE=run|shell  MEM=3072 (MiB)
#   DOM0_MEM=1536M  DEADLINE=660 (s, the in-dom0 driver's budget)  TIMEOUT=DEADLINE+120 (s, QEMU's)
# QEMU is killed whatever happens (trap on EXIT/INT/TERM, by the pid QEMU wrote itself).
set -uo pipefail
LAB=${1:?usage: boot.sh LAB_DIR RUN_DIR}; RUN=${2:?usage: boot.sh LAB_DIR RUN_DIR}
MODE=${MODE:-run}; DEADLINE=${DEADLINE:-660}; TIMEOUT=${TIMEOUT:-$(( DEADLINE + 120 ))}
ACCEL=${ACCEL:-tcg}
# TCG: a plain CPU model (-cpu max crashes dom0: xen-lab pitfall 1); +svm,+npt so PVH/HVM DomUs
# can use HAP (Debian's Xen has no shadow paging: pitfall 2).  /dev/kvm here is kvm_pvm without
# VMX, which dies on Xen's first rdsspq: KVM only where the host CPU really has vmx/svm.
# model-id: qemu64 calls itself "QEMU Virtual CPU version 2.5+" in /proc/cpuinfo, and Salt's core
# grains then say virtual=kvm even on a Xen dom0 (the cpuinfo test runs last and wins); a neutral
# brand string lets the grains see what a dom0 on hardware sees.  Nothing else changes.
if [ "$ACCEL" = kvm ]; then ACC=(-accel kvm -cpu host); else ACC=(-accel tcg,thread=multi -cpu "${TCG_CPU:-qemu64,+svm,+npt,model-id=x86-64 CPU (xen-lab TCG)}"); fi
XEN_CMDLINE="console=com1 com1=115200,8n1 bootscrub=false dom0_mem=${DOM0_MEM:-1536M},max:${DOM0_MEM:-1536M} dom0_max_vcpus=2 loglvl=all guest_loglvl=all"
DOM0_CMDLINE="console=hvc0 earlyprintk=xen loglevel=4 lab=$MODE lab.deadline=$DEADLINE${XENLAB_ONLY:+ lab.only=$XENLAB_ONLY}${XENLAB_CLI:+ lab.cli=$XENLAB_CLI}"
cd "$RUN"
rm -f out.img qemu.pid; truncate -s 64M out.img
stop_qemu() {
  local pid; pid=$(cat "$RUN/qemu.pid" 2>/dev/null) || return 0
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    echo "[boot] stopping QEMU pid $pid" >&2
    kill "$pid" 2>/dev/null; sleep 1; kill -9 "$pid" 2>/dev/null
  fi
  rm -f "$RUN/qemu.pid"
}
trap stop_qemu EXIT
trap 'stop_qemu; exit 130' INT TERM
QEMU=(timeout --foreground "$TIMEOUT" "${XENLAB_QEMU:-qemu-system-x86_64}" "${ACC[@]}" -machine pc -smp 2 -m "${MEM:-3072}"
  -nodefaults -nographic -no-reboot -pidfile "$RUN/qemu.pid"
  -kernel "$LAB/xen" -append "$XEN_CMDLINE"
  -initrd "$LAB/vmlinuz $DOM0_CMDLINE,$RUN/dom0-initrd.img"
  -drive file="$RUN/out.img",format=raw,if=virtio)
echo "[boot] accel=$ACCEL mode=$MODE deadline=${DEADLINE}s timeout=${TIMEOUT}s start $(date -u +%T)" >&2
t0=$(date +%s)
# QEMU's peak RSS (VmHWM), sampled while it runs
( for _ in $(seq 1 $((TIMEOUT + 30))); do
    pid=$(cat "$RUN/qemu.pid" 2>/dev/null) && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null &&
      awk '/VmHWM/{print $2}' /proc/"$pid"/status > "$RUN/qemu-hwm-kb.tmp" 2>/dev/null &&
      mv "$RUN/qemu-hwm-kb.tmp" "$RUN/qemu-hwm-kb"
    [ -e "$RUN/qemu.done" ] && break
    sleep 2
  done ) & SAMPLER=$!
rm -f "$RUN/qemu.done"
if [ "$MODE" = shell ]; then
  "${QEMU[@]}" -serial mon:stdio; rc=$?        # Ctrl-a x quits
else
  "${QEMU[@]}" -serial stdio </dev/null | perl -MTime::HiRes=time -ne \
    'BEGIN{$|=1;$t0=time} s/\r//g; printf "%7.1f %s", time-$t0, $_' > serial.log
  rc=${PIPESTATUS[0]}
fi
touch "$RUN/qemu.done"; wait "$SAMPLER" 2>/dev/null
echo "[boot] qemu rc=$rc after $(( $(date +%s) - t0 ))s$([ "$rc" = 124 ] && echo ' (TIMEOUT)')" >&2
exit "$rc"
