#!/bin/bash
# `ctrain train` stops cleanly on SIGINT: it finishes the batch under way,
# runs the epoch's end (the final line is printed), skips the job's later
# sections and exits 130, the shell's status for SIGINT.
#
#   stop_signal.sh CTRAIN JOB
set -u
ctrain=$1 job=$2
out=$(mktemp) err=$(mktemp)
trap 'kill -9 $pid 2>/dev/null; rm -f "$out" "$err"' EXIT
"$ctrain" train "$job" --epochs 50 --verbose 1 >"$out" 2>"$err" &
pid=$!
# Signal once training is under way (an epoch's line is out: the bar is
# written as a whole when the output is not a terminal).
for _ in $(seq 600); do
    grep -q '/469' "$out" 2>/dev/null && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.2
done
kill -INT $pid
wait $pid
rc=$?
cat "$out" "$err"
[ $rc -eq 130 ] || { echo "stop_signal: exit status $rc, expected 130"; exit 1; }
grep -q 'stopped by SIGINT' "$err" || { echo "stop_signal: no stop message"; exit 1; }
grep -q '^final (epoch [0-9])' "$out" || { echo "stop_signal: no final line, or not before epoch 10"; exit 1; }
echo "stop_signal: passed"
