#!/bin/bash
# Runs a program under mpirun on several emulated nodes: one Linux network
# namespace per host, joined by a bridge in a "switch" namespace, with an
# rsh agent that enters a host's namespace (and gives it its own hostname)
# instead of ssh. Ranks on different hosts then talk TCP over the private
# 10.231.0.0/24, as on a cluster (../shared/specs/multinode_netns.md).
#
#   multinode_netns.sh [--hosts H] [--slots K] [--np N] [--timeout S]
#                      [--mpirun PATH] [--mca NAME VALUE]... -- PROGRAM [ARGS...]
#
# H hosts (default 2) with K slots each (default 1); N ranks (default H*K),
# placed by slot: host 1 gets the first K. --mca adds an MCA parameter to
# the script's own (TCP between hosts, pml ob1). The script first runs
# `hostname` on every rank and checks there are H distinct names, then the
# program; it exits with the program's status (mpirun's; 1 for a 77), 124
# when the program ran past S seconds (default 240), and 77 -- ctest's
# SKIP_RETURN_CODE -- with
# the reason when namespaces cannot be made here (not root, no `ip netns`,
# no bridge or veth, no unshare or mpirun), or when CT_NETNS_FORCE_SKIP=1.
# A trap kills whatever runs in the namespaces and deletes them and the
# temporary directory on any exit, SIGTERM, SIGINT or SIGHUP included; a
# run that was SIGKILLed leaves its namespaces, which the next run deletes.
set -u

SKIP=77
PREFIX=ctnode                  # namespaces are ctnode<pid>-sw, ctnode<pid>-h<i>
NET=10.231.0                   # host i is $NET.i/24, only inside the namespaces

hosts=2
slots=1
np=
limit=240
mpirun=${MPIEXEC:-mpirun}
extra=()                       # --mca NAME VALUE given to the script

say() { printf 'multinode_netns: %s\n' "$*"; }
skip() { say "skipped: $*"; exit $SKIP; }
usage() {
    echo "usage: multinode_netns.sh [--hosts H] [--slots K] [--np N] [--timeout S]" \
         "[--mpirun PATH] [--mca NAME VALUE]... -- PROGRAM [ARGS...]" >&2
    exit 2
}

while [ $# -gt 0 ]; do
    case $1 in
    --hosts) hosts=${2:-}; shift 2 || usage ;;
    --slots) slots=${2:-}; shift 2 || usage ;;
    --np) np=${2:-}; shift 2 || usage ;;
    --timeout) limit=${2:-}; shift 2 || usage ;;
    --mpirun) mpirun=${2:-}; shift 2 || usage ;;
    --mca) [ $# -ge 3 ] || usage; extra+=(--mca "$2" "$3"); shift 3 ;;
    --) shift; break ;;
    *) usage ;;
    esac
done
[ $# -ge 1 ] || usage
for v in "$hosts" "$slots" "$limit" ${np:+"$np"}; do
    case $v in '' | *[!0-9]* | 0*) echo "multinode_netns: '$v' is not a positive integer" >&2; usage ;; esac
done
[ "$hosts" -le 250 ] || { echo "multinode_netns: at most 250 hosts, not $hosts" >&2; exit 2; }
np=${np:-$((hosts * slots))}

[ "${CT_NETNS_FORCE_SKIP:-0}" = 1 ] && skip "CT_NETNS_FORCE_SKIP=1"
[ "$(id -u)" = 0 ] || skip "network namespaces need root (uid is $(id -u))"
for tool in ip unshare timeout "$mpirun"; do
    command -v "$tool" > /dev/null || skip "'$tool' is not installed"
done
mpirun=$(command -v "$mpirun")

sw=$PREFIX$$-sw
host_ns() { printf '%s%s-h%s' "$PREFIX" "$$" "$1"; }
created=()                     # the namespaces this run made, switch first
tmp=
child=
torn_down=0

# Kills every process in namespace $1: TERM, a second's grace, then KILL.
kill_in() {
    local pids
    pids=$(ip netns pids "$1" 2> /dev/null) || return 0
    [ -n "$pids" ] || return 0
    kill -TERM $pids 2> /dev/null
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        pids=$(ip netns pids "$1" 2> /dev/null)
        [ -n "$pids" ] || return 0
        sleep 0.1
    done
    kill -KILL $pids 2> /dev/null
    sleep 0.1
}

teardown() {
    [ $torn_down = 1 ] && return
    torn_down=1
    local ns
    for ns in "${created[@]}"; do kill_in "$ns"; done
    [ -n "$child" ] && kill -KILL "$child" 2> /dev/null
    for ns in "${created[@]}"; do ip netns del "$ns" 2> /dev/null; done
    [ -n "$tmp" ] && rm -rf "$tmp"
}
on_signal() {
    say "got SIG$1; tearing down"
    teardown
    trap - "$1"
    kill -"$1" $$
}
trap teardown EXIT
for s in TERM INT HUP; do trap "on_signal $s" "$s"; done

# Namespaces and temporary directories of this prefix whose run is gone
# (SIGKILLed, or a crash).
is_stale() {
    local pid=${1#"$PREFIX"}
    pid=${pid%%[!0-9]*}
    [ -n "$pid" ] || return 1
    [ "$pid" = $$ ] || ! kill -0 "$pid" 2> /dev/null
}
tmpdir=${TMPDIR:-/tmp}
for d in "$tmpdir/$PREFIX"[0-9]*.*; do
    [ -d "$d" ] && is_stale "${d##*/}" && rm -rf "$d"
done
for ns in $(ip netns list 2> /dev/null | awk '{print $1}'); do
    case $ns in "$PREFIX"[0-9]*-*) ;; *) continue ;; esac
    is_stale "$ns" || continue
    say "deleting $ns, left by a run that is gone"
    kill_in "$ns"
    ip netns del "$ns" 2> /dev/null
done

t0=$(date +%s.%N)
err=$(ip netns add "$sw" 2>&1) || skip "cannot make a network namespace: ip netns add: $err"
created+=("$sw")
err=$(ip -n "$sw" link add br0 type bridge 2>&1 && ip -n "$sw" link set br0 up 2>&1) ||
    skip "cannot make a bridge in a namespace: $err"
for i in $(seq "$hosts"); do
    ns=$(host_ns "$i")
    err=$(ip netns add "$ns" 2>&1) || skip "cannot make a network namespace: ip netns add: $err"
    created+=("$ns")
    err=$(ip -n "$sw" link add "p$i" type veth peer name eth0 netns "$ns" 2>&1 &&
          ip -n "$sw" link set "p$i" master br0 up 2>&1 &&
          ip -n "$ns" addr add "$NET.$i/24" dev eth0 2>&1 &&
          ip -n "$ns" link set eth0 up 2>&1 &&
          ip -n "$ns" link set lo up 2>&1) ||
        skip "cannot connect host $i to the bridge: $err"
done
err=$(ip netns exec "$(host_ns 1)" unshare --uts hostname node1 2>&1) ||
    skip "cannot give a namespace its own hostname: unshare --uts: $err"

tmp=$(mktemp -d "$tmpdir/$PREFIX$$.XXXXXX") || exit 1
# Open MPI calls the agent as ssh: AGENT [OPTIONS] HOST COMMAND... The
# command's words are joined and given to a shell, as sshd would.
cat > "$tmp/agent" << EOF
#!/bin/sh
while [ \$# -gt 0 ]; do
    case \$1 in -*) shift ;; *) break ;; esac
done
host=\$1
shift
case \$host in
$NET.[0-9]*) i=\${host#$NET.} ;;
*) echo "multinode_netns agent: unknown host '\$host'" >&2; exit 255 ;;
esac
exec ip netns exec $PREFIX$$-h\$i unshare --uts sh -c "hostname node\$i; \$*"
EOF
chmod +x "$tmp/agent"
for i in $(seq "$hosts"); do echo "$NET.$i slots=$slots"; done > "$tmp/hostfile"

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_mpi_yield_when_idle=1
xs=()
for v in OMPI_ALLOW_RUN_AS_ROOT OMPI_ALLOW_RUN_AS_ROOT_CONFIRM OMPI_MCA_mpi_yield_when_idle \
         CT_TEST CT_COLLECTIVE_TIMEOUT ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS; do
    [ -n "${!v+x}" ] && xs+=(-x "$v")
done
net="$NET.0/24"
run_args=(--hostfile "$tmp/hostfile" -np "$np" --oversubscribe --bind-to none
          --mca plm_rsh_agent "$tmp/agent"
          --mca oob_tcp_if_include "$net" --mca btl_tcp_if_include "$net"
          --mca btl self,vader,tcp --mca pml ob1 "${extra[@]}" "${xs[@]}")

# Runs mpirun with $1 seconds to live and the rest as its arguments, from
# host 1 (named node1), in the background so that a signal reaches the
# trap at once; sets rc.
run_mpirun() {
    local secs=$1
    shift
    ip netns exec "$(host_ns 1)" unshare --uts sh -c 'hostname node1; exec "$@"' sh \
        timeout -k 10 "$secs" "$mpirun" "${run_args[@]}" "$@" < /dev/null &
    child=$!
    wait "$child"
    rc=$?
    child=
}

t1=$(date +%s.%N)
run_mpirun 60 hostname > "$tmp/names" 2> "$tmp/names.err"
names=$(sort -u "$tmp/names" | tr '\n' ' ')
count=$(sort -u "$tmp/names" | wc -l)
if [ $rc -ne 0 ] || [ "$count" -ne "$hosts" ]; then
    cat "$tmp/names" "$tmp/names.err"
    say "FAILED: mpirun of hostname on $hosts hosts exited $rc and named $count distinct" \
        "hosts (${names% }), not $hosts"
    exit 1
fi
t2=$(date +%s.%N)
say "$np ranks on $hosts hosts (${names% }), by $(sort "$tmp/names" | uniq -c | awk '{print $1}' | tr '\n' ' ' | sed 's/ $//') ranks"

run_mpirun "$limit" "$@"
t3=$(date +%s.%N)
times=$(awk -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" \
        'BEGIN { printf "setup %.2f s, hostname %.2f s, program %.2f s", b - a, c - b, d - c }')
if [ $rc -eq 124 ]; then
    say "FAILED: '$*' ran past ${limit} s and was stopped ($times)"
    exit 124
elif [ $rc -ne 0 ]; then
    say "FAILED: '$*' exited $rc on $hosts hosts x $slots slots ($times)"
    # The program's own 77 is a failure here, not a skip.
    [ $rc -eq $SKIP ] && exit 1
    exit $rc
fi
say "passed: '$*' exited 0 on $hosts hosts x $slots slots ($times)"
