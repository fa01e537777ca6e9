#!/bin/sh
# Runs a command that must fail: passes when it exits non-zero and its
# output (stdout and stderr, echoed) contains every given text.
#
#   expect_failure.sh TEXT... -- COMMAND [ARGS...]
texts=""
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
  texts="$texts$1
"
  shift
done
if [ $# -lt 2 ]; then
  echo "usage: expect_failure.sh TEXT... -- COMMAND [ARGS...]" >&2
  exit 2
fi
shift
out=$("$@" 2>&1)
rc=$?
printf '%s\n' "$out"
if [ $rc -eq 0 ]; then
  echo "expect_failure: '$*' exited 0; it should have failed" >&2
  exit 1
fi
printf '%s' "$texts" | while IFS= read -r t; do
  if ! printf '%s' "$out" | grep -qF -- "$t"; then
    echo "expect_failure: the output does not contain '$t'" >&2
    exit 1
  fi
done || exit 1
echo "expect_failure: exited $rc with the expected messages"
