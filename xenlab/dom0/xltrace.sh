#!/bin/sh
# /usr/local/sbin/xl in the lab's dom0 (first on PATH): records every xl call the project makes
# (argv, exit code, wall ms, stdout, stderr) under /out/xltrace/, then behaves exactly like
# /usr/sbin/xl (same output on the same streams, same exit code).  The record is the real-xl
# corpus of what the module actually asked, for the simulator (tests/xlsim) to be checked against.
d=/out/xltrace
mkdir -p "$d"
n=$(date +%s%N)
/usr/sbin/xl "$@" > "$d/$n.out" 2> "$d/$n.err"
rc=$?
e=$(date +%s%N)
printf '%s\t%s\t%s\t%s\n' "$n" "$rc" "$(( (e - n) / 1000000 ))" "$*" >> "$d/INDEX.tsv"
cat "$d/$n.out"
cat "$d/$n.err" >&2
exit $rc
