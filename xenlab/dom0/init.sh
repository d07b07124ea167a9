#!/bin/sh
# /init of the lab's dom0 (the whole root filesystem is the initramfs, kept in RAM: no disk,
# no switch_root).  Starts the Xen daemons with Debian's own init script, then runs the test
# driver (Salt inside dom0, against the real xl) and writes /out as a raw tar to /dev/vda, where
# the host reads it back.  Powers off whatever happens.
# Kernel command line: lab=run (default) | lab=shell (daemons up, then a root shell on hvc0)
#                      lab.deadline=<s> (the driver's overall budget, default 660)
#                      lab.only=<blocks> (driver blocks, e.g. infra,read; default all)
#                      lab.cli=all|some|min (steps run as a fresh salt-call; the rest: warm caller)
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm /run /tmp /out
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tmpfs tmpfs /tmp
mkdir -p /run/lock /var/log/xen/console /var/lib/xen/save
# the initramfs root is a tmpfs capped at 50% of dom0 RAM; Salt, the save images (= guest RAM)
# and libxl's userdata live on it (xen-lab pitfall 4)
mount -o remount,size=85% /
hostname dom0
ip link set lo up
up() { cut -d' ' -f1 /proc/uptime; }
arg() { tr ' ' '\n' < /proc/cmdline | sed -n "s/^$1=//p" | tail -1; }
echo "LAB: dom0 /init at uptime $(up)s, hypervisor $(cat /sys/hypervisor/type 2>/dev/null) $(cat /sys/hypervisor/version/major 2>/dev/null).$(cat /sys/hypervisor/version/minor 2>/dev/null)$(cat /sys/hypervisor/version/extra 2>/dev/null)"

for m in xenfs xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xen-netback xen-blkback bridge loop tun virtio_pci virtio_blk; do
  modprobe "$m" 2>/dev/null || echo "LAB: modprobe $m failed"
done
/etc/init.d/xen start > /tmp/xen-init.log 2>&1
echo "LAB: /etc/init.d/xen start rc=$? at uptime $(up)s"
if ! pgrep -x oxenstored >/dev/null && ! pgrep -x xenstored >/dev/null; then
  echo "LAB: starting xenstored/xenconsoled by hand"
  [ -e /proc/xen/capabilities ] || mount -t xenfs xenfs /proc/xen
  mkdir -p /run/xen /run/xenstored
  /usr/lib/xen-4.17/bin/oxenstored --pid-file /run/xenstore.pid
  /usr/lib/xen-4.17/bin/xen-init-dom0
  /usr/lib/xen-4.17/bin/xenconsoled --pid-file /run/xenconsoled.pid --log=guest --log-dir=/var/log/xen/console
fi
# the DomUs' bridge, with no uplink: nothing leaves the VM
brctl addbr xenbr0 && ip link set xenbr0 up

if [ "$(arg lab)" = shell ]; then
  echo "LAB: shell mode"
  exec setsid sh -c 'exec /bin/bash </dev/hvc0 >/dev/hvc0 2>&1'
fi

if [ "$(arg lab)" = probe ] && [ -x /root/xenlab/probe.sh ]; then   # development: any script
  echo "LAB: probe mode"
  timeout -k 5 "$(arg lab.deadline)" /root/xenlab/probe.sh > /out/probe.txt 2>&1
fi
DEADLINE=$(arg lab.deadline); DEADLINE=${DEADLINE:-660}
# where dom0's CPU goes, every 30 s (xentop: per domain; ps: per process in dom0)
( while :; do echo "== uptime $(up)"; xentop -b -i 1 2>/dev/null | head -6
    ps -eo pcpu,cputime,rss,args --sort=-pcpu | head -8 | cut -c1-160; sleep 30; done ) > /out/monitor.log 2>&1 &
[ "$(arg lab)" = probe ] || {
echo "LAB: driver start at uptime $(up)s (deadline ${DEADLINE}s)"
# the driver keeps its own per-step timeouts; this one bounds the whole run so the results
# are always written back (they are flushed after every step)
timeout -k 5 "$DEADLINE" /usr/bin/python3 /root/xenlab/driver.py --out /out --deadline $((DEADLINE - 10)) --only "$(arg lab.only)" --cli "$(arg lab.cli | grep . || echo some)"
echo "LAB: driver finished rc=$? at uptime $(up)s"
}

# what is left running, the logs
ps -eo pid,cputime,rss,args --sort=-cputime | head -25 | cut -c1-200 > /out/ps-dom0-end.txt 2>&1
xl list > /out/xl-list-final.txt 2>&1
free -m > /out/free-dom0.txt 2>&1
df -m / /tmp > /out/df-dom0.txt 2>&1
mkdir -p /out/varlog
cp -r /var/log/xen/. /out/varlog/ 2>/dev/null
[ -f /var/log/salt/minion ] && tail -c 2000000 /var/log/salt/minion > /out/varlog/salt-minion.log
cp /tmp/xen-init.log /out/varlog/ 2>/dev/null
echo "$(up)" > /out/dom0-uptime-at-end

if [ -b /dev/vda ]; then
  tar -C /out -cf /dev/vda . && sync && echo "LAB: results written to /dev/vda"
else
  echo "LAB: no /dev/vda, dumping results to the console"
  echo "===LAB-TAR-BEGIN==="; tar -C /out -czf - . | base64; echo "===LAB-TAR-END==="
fi
echo "LAB: powering off at uptime $(up)s"
sync
busybox poweroff -f
