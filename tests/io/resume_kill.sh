#!/bin/bash
# End-to-end kill-and-resume of `ctrain train` with a BackupAndRestore
# callback (tests/io/resume/job.json: shuffled CSV data reshuffled each
# epoch, a model with BatchNormalization and Dropout, a CSVLogger, a
# TensorBoard callback and a ModelCheckpoint of the final weights). Each
# mode interrupts a run, runs the same command again until it ends, and
# compares the outcome with a run that was never interrupted: the
# CSVLogger file and TensorBoard's scalars byte for byte and the weights
# bitwise in one process; all within 1e-6 under mpirun.
#
#   resume_kill.sh MODE CTRAIN SOURCE_DIR [MPIRUN ARGS...]
#
#   sigkill   two kill -9 at random points (each some saves after the last)
#   sigterm   SIGTERM in epoch 2: exit 75 and the message, then the rerun
#   crash     SIGKILL inside the 3rd save (CTRAIN_TEST_CRASH_IN_SAVE write:3
#             and part:3): the previous checkpoint stays listed and whole,
#             the rerun resumes from it and leaves no stray file
#   resume    --resume never starts afresh; --resume FILE resumes from FILE
#   mpi       under MPIRUN ARGS (2 ranks): SIGTERM to mpirun, then to the
#             ranks; -np 1 on a 2-rank checkpoint fails naming the sizes.
#             The BatchNormalization is not synchronized, so each rank has
#             moving statistics of its own, which its part of the
#             checkpoint must carry
#
# The random points come from RESUME_KILL_SEED (printed; set it to replay
# a failure). Exits 77 (skipped) without python3's h5py. Nothing here
# asserts on time: the delays only choose where a kill lands.
set -u
mode=${1:?mode} ctrain=${2:?ctrain} src=${3:?source dir}
shift 3
mpirun=("$@")
here=$src/tests/io/resume
py=/usr/bin/python3
tb_scalars=$(dirname "$ctrain")/ct_tb_scalars
check() { "$py" "$here/resume_check.py" "$@"; }

"$py" -c 'import h5py, numpy' 2>/dev/null || { echo "resume_kill: no python3 h5py: skipped"; exit 77; }
if [ "$mode" = mpi ] && ! command -v "${mpirun[0]:-mpirun}" >/dev/null; then
    echo "resume_kill: no mpirun: skipped"
    exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/resume_kill.XXXXXX")
pid=
cleanup() {
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
    echo "resume_kill $mode: FAILED: $*"
    exit 1
}

seed=${RESUME_KILL_SEED:-$(($(date +%s%N) % 1000000))}
RANDOM=$seed
echo "resume_kill $mode: seed $seed (RESUME_KILL_SEED=$seed replays it)"

check make-data "$tmp" || fail "cannot write the data"
model=$here/model.json

# A fresh run directory: the job, its model and the data (the job's paths
# are relative to its file).
newdir() {
    local d=$tmp/$1
    mkdir -p "$d"
    cp "$here/job.json" "$model" "$tmp/train.csv" "$tmp/val.csv" "$d/"
    echo "$d"
}

# The job with delete_checkpoint false: the backup stays for inspection.
keep_backup() {
    sed -i 's/"save_freq": 25}/"save_freq": 25, "delete_checkpoint": false}/' "$1/job.json"
    grep -q '"delete_checkpoint": false' "$1/job.json" || fail "cannot edit $1/job.json"
}

runs=0
# launch DIR [ARGS...]: the training command of DIR, in the background
# (pid), its output in DIR/out.<n> (out_file). Under mpi, through mpirun.
launch() {
    local d=$1
    shift
    runs=$((runs + 1))
    out_file=$d/out.$runs
    if [ "$mode" = mpi ] && [ "${NP1:-0}" = 0 ]; then
        "${mpirun[@]}" "$ctrain" train "$d/job.json" --verbose 2 "$@" >"$out_file" 2>&1 &
    else
        "$ctrain" train "$d/job.json" --verbose 2 "$@" >"$out_file" 2>&1 &
    fi
    pid=$!
}

# finish: waits for pid, prints its output (so that ctest sees sanitizer
# reports), sets rc.
finish() {
    wait "$pid"
    rc=$?
    pid=
    echo "---- $out_file (exit status $rc)"
    cat "$out_file"
}

run() {
    launch "$@"
    finish
}

alive() { [ -e "/proc/$1" ] && ! grep -q '^[0-9]* ([^)]*) Z' "/proc/$1/stat" 2>/dev/null; }

now_ms() { date +%s%3N; }
sleep_ms() { sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"; }

# The first line of DIR's checkpoint list ("" when none).
latest() { head -n 1 "$1/backup/checkpoint" 2>/dev/null; }
latest_file() { latest "$1" | sed -n 's/^model_checkpoint_path: "\(.*\)"$/\1/p'; }

# The number of DIR's listed checkpoint (ckpt-<n>.h5; 0 when none).
latest_number() {
    local f
    f=$(latest_file "$1")
    f=${f#ckpt-}
    echo "${f%.h5}" | grep -x '[0-9][0-9]*' || echo 0
}

# wait_number DIR N: until DIR's list names a checkpoint numbered above N
# (or the run has ended). Counting saves, not time, places a kill at the
# same point of a run however fast the machine is at that moment.
wait_number() {
    while alive "$pid"; do
        [ "$(latest_number "$1")" -gt "$2" ] && return 0
        sleep 0.01
    done
    return 1
}

# wait_epochs DIR N: until the CSV log has N epochs (or the run has ended).
wait_epochs() {
    while alive "$pid"; do
        [ "$({ wc -l <"$1/log.csv"; } 2>/dev/null || echo 0)" -gt "$2" ] && return 0
        sleep 0.01
    done
    return 1
}

# same A B: the outcome of run directories A and B agree: bitwise in one
# process, within 1e-6 under mpirun. That includes TensorBoard's scalars:
# each (run, tag, step) once, as the uninterrupted run wrote them, which
# needs the resumed runs to have rolled the log directory back.
same() {
    "$tb_scalars" "$1/logs" >"$1/scalars.txt" || fail "ct_tb_scalars $1/logs failed"
    "$tb_scalars" "$2/logs" >"$2/scalars.txt" || fail "ct_tb_scalars $2/logs failed"
    [ "$(wc -l <"$1/scalars.txt")" -gt 100 ] || fail "too few TensorBoard scalars in $1/logs"
    if [ "$mode" = mpi ]; then
        check same-log "$1/log.csv" "$2/log.csv" 1e-6 || fail "the CSV logs differ"
        check same-weights "$1/final.weights.h5" "$2/final.weights.h5" 1e-6 ||
            fail "the final weights differ"
        paste -d' ' "$1/scalars.txt" "$2/scalars.txt" | awk '
            function abs(x) { return x < 0 ? -x : x }
            NF != 8 || $1 != $5 || $2 != $6 || $3 != $7 || abs($4 - $8) > 1e-6 * (1 + abs($4)) {
                print "first difference: " $0; bad = 1; exit }
            END { exit bad }' || fail "the TensorBoard scalars differ"
    else
        cmp "$1/scalars.txt" "$2/scalars.txt" || {
            diff "$1/scalars.txt" "$2/scalars.txt" | head -20
            fail "the TensorBoard scalars differ"
        }
        echo "resume_kill: TensorBoard scalars identical ($(wc -l <"$1/scalars.txt") values)"
        cmp "$1/log.csv" "$2/log.csv" || {
            diff "$1/log.csv" "$2/log.csv"
            fail "the CSV logs differ"
        }
        echo "resume_kill: CSV logs identical ($(($(wc -l <"$1/log.csv") - 1)) epochs)"
        check same-weights "$1/final.weights.h5" "$2/final.weights.h5" 0 ||
            fail "the final weights differ"
    fi
}

# The listed checkpoint of DIR: its file (and under mpi rank 1's) whole.
listed_whole() {
    local f
    f=$(latest_file "$1")
    [ -n "$f" ] || fail "no checkpoint listed in $1/backup"
    echo "resume_kill: listed: $f: $(check ckpt-state "$1/backup/$f")" || fail "$f is not whole"
    if [ "$mode" = mpi ]; then
        local r=${f%.h5}.replica-1.h5
        [ -f "$1/backup/$r" ] || fail "rank 1's part $r is missing"
        echo "resume_kill: listed: $r: $(check ckpt-state "$1/backup/$r")" || fail "$r is not whole"
    fi
}

# The straight run, and how long it takes (the kills' delays scale with it).
straight=$(newdir straight)
t0=$(now_ms)
run "$straight"
t_run=$(($(now_ms) - t0))
[ "$rc" = 0 ] || fail "the uninterrupted run exited $rc"
[ -d "$straight/backup" ] && fail "delete_checkpoint: the backup of a finished run is still there"
echo "resume_kill: the uninterrupted run took ${t_run} ms"

case $mode in
sigkill)
    d=$(newdir killed)
    kills=0
    for attempt in 1 2 3 4 5 6; do
        launch "$d"
        if [ $kills -lt 2 ]; then
            # A kill lands 1 to 16 saves (of the run's 64) after the
            # checkpoint resumed from, so each rerun really resumes, then
            # up to one save's interval later, so that it can land in a
            # step or in a save. Counting saves rather than time keeps
            # both kills inside the run when the machine's load drops.
            target=$(($(latest_number "$d") + 1 + RANDOM % 16))
            if wait_number "$d" $((target - 1)); then
                delay=$((t_run * (RANDOM % 100) / 100 / 64))
                echo "resume_kill: kill $((kills + 1)) of 2: SIGKILL ${delay} ms after $(latest_file "$d") was listed"
                sleep_ms $delay
                kill -9 "$pid" 2>/dev/null
            fi
        fi
        finish
        if [ "$rc" = 0 ]; then
            [ $kills = 2 ] || echo "resume_kill: note: the run ended before kill $((kills + 1)) landed"
            break
        fi
        [ "$rc" = 137 ] || fail "run $attempt exited $rc (expected 137, killed)"
        kills=$((kills + 1))
        listed_whole "$d"
    done
    [ "$rc" = 0 ] || fail "no run ended within 6 tries"
    [ $kills -ge 1 ] || fail "no kill landed"
    [ -d "$d/backup" ] && fail "the backup is still there after the run ended"
    same "$straight" "$d"
    ;;
sigterm)
    d=$(newdir stopped)
    launch "$d"
    wait_epochs "$d" 1 || fail "the run ended before its first epoch was logged"
    sleep_ms $((t_run * (RANDOM % 5) / 100))
    kill -TERM "$pid"
    finish
    [ "$rc" = 75 ] || fail "exit status $rc after SIGTERM, expected 75"
    grep -q 'stopped by SIGTERM; the training state is saved (BackupAndRestore): run the same command again to resume' \
        "$out_file" || fail "no stop message"
    listed_whole "$d"
    state=$(check ckpt-state "$d/backup/$(latest_file "$d")")
    case $state in
    "epoch 0 "* | *" step 0 "*) echo "resume_kill: note: the stop landed at an epoch's edge ($state), not inside one" ;;
    esac
    run "$d"
    [ "$rc" = 0 ] || fail "the rerun exited $rc"
    same "$straight" "$d"
    ;;
crash)
    for stage in write part; do
        d=$(newdir crash-$stage)
        # part keeps its backup, to see that nothing but the list and
        # its files is left; write lets the run delete it, which it does
        # only when nothing else is in the directory.
        [ $stage = part ] && keep_backup "$d"
        CTRAIN_TEST_CRASH_IN_SAVE=$stage:3 run "$d"
        [ "$rc" = 137 ] || fail "$stage:3: exit status $rc, expected 137 (SIGKILL in the 3rd save)"
        echo "resume_kill: $stage:3 left: $(cd "$d/backup" && echo *)"
        [ "$(latest_file "$d")" = ckpt-2.h5 ] ||
            fail "$stage:3: listed $(latest_file "$d"), expected ckpt-2.h5 (the save before)"
        [ "$(check listed "$d/backup")" = ckpt-2.h5 ] || fail "$stage:3: the list names more than ckpt-2.h5"
        listed_whole "$d"
        # What a kill while the list is replaced leaves (its temporary
        # file): the rerun removes it too.
        echo partial >"$d/backup/checkpoint.tmp-99999"
        run "$d"
        [ "$rc" = 0 ] || fail "$stage:3: the rerun exited $rc"
        same "$straight" "$d"
        if [ $stage = part ]; then
            left=$(cd "$d/backup" && ls -A | sort | tr '\n' ' ')
            want=$( (echo checkpoint; check listed "$d/backup") | sort | tr '\n' ' ')
            [ "$left" = "$want" ] || fail "part:3: the backup holds '$left', expected only '$want'"
            echo "resume_kill: part:3: after the rerun the backup holds only $left"
        else
            [ -e "$d/backup" ] && fail "write:3: the backup is left after the rerun: $(ls -A "$d/backup")"
            echo "resume_kill: write:3: the rerun removed the backup whole"
        fi
    done
    ;;
resume)
    # --resume never: a backup at ckpt-4 (the 5th save crashed in place)
    # is removed, the run starts at epoch 1 (it dies in its 2nd save, so
    # the new list shows where it began).
    d=$(newdir never)
    keep_backup "$d"
    CTRAIN_TEST_CRASH_IN_SAVE=part:5 run "$d"
    [ "$rc" = 137 ] || fail "part:5: exit status $rc, expected 137"
    [ "$(latest_file "$d")" = ckpt-4.h5 ] || fail "part:5: listed $(latest_file "$d"), expected ckpt-4.h5"
    # A training started afresh leaves the earlier one's TensorBoard
    # events (as TF does); they go aside so that the comparison sees the
    # new training's alone.
    mv "$d/logs" "$d/logs.before"
    CTRAIN_TEST_CRASH_IN_SAVE=part:2 run "$d" --resume never
    [ "$rc" = 137 ] || fail "--resume never with part:2: exit status $rc, expected 137"
    head -n 1 "$out_file" | grep -q '^Epoch 1/8$' || fail "--resume never did not start at epoch 1"
    left=$(cd "$d/backup" && ls -A | sort | tr '\n' ' ')
    [ "$left" = "checkpoint ckpt-1.h5 ckpt-2.h5 " ] ||
        fail "--resume never: the backup holds '$left', expected the new run's 'checkpoint ckpt-1.h5 ckpt-2.h5' only"
    listed_whole "$d"
    check ckpt-state "$d/backup/ckpt-1.h5" | grep -q '^epoch 0 step 25 ' ||
        fail "--resume never: ckpt-1.h5 is not at epoch 0 step 25"
    run "$d"
    [ "$rc" = 0 ] || fail "the run after --resume never exited $rc"
    same "$straight" "$d"

    # --resume FILE: a copy of ckpt-19 (epoch 3, step 75) taken aside; the
    # backup goes on to ckpt-29 (epoch 4; the numbers skip the unlisted
    # ckpt-20); resuming FILE starts again in epoch 3 and ends as the
    # straight run.
    d=$(newdir from-file)
    keep_backup "$d"
    CTRAIN_TEST_CRASH_IN_SAVE=part:20 run "$d"
    [ "$rc" = 137 ] || fail "part:20: exit status $rc, expected 137"
    [ "$(latest_file "$d")" = ckpt-19.h5 ] || fail "part:20: listed $(latest_file "$d"), expected ckpt-19.h5"
    mkdir "$d/aside" && cp "$d/backup/ckpt-19.h5" "$d/aside/"
    CTRAIN_TEST_CRASH_IN_SAVE=part:10 run "$d"
    [ "$rc" = 137 ] || fail "the second part:10 run: exit status $rc, expected 137"
    [ "$(latest_file "$d")" = ckpt-29.h5 ] || fail "listed $(latest_file "$d"), expected ckpt-29.h5"
    check ckpt-state "$d/aside/ckpt-19.h5" | grep -q '^epoch 2 step 75 ' || fail "ckpt-19 is not at epoch 2 step 75"
    run "$d" --resume "$d/aside/ckpt-19.h5"
    [ "$rc" = 0 ] || fail "--resume FILE exited $rc"
    head -n 1 "$out_file" | grep -q '^Epoch 3/8$' || fail "--resume FILE did not resume in epoch 3"
    same "$straight" "$d"
    ;;
mpi)
    d=$(newdir mpi)
    # SIGTERM to mpirun: Open MPI 4.1 sends the ranks SIGCONT, then SIGTERM
    # a second later, then SIGKILL a second after that
    # (odls_base_sigkill_timeout), and exits 1 itself. The ranks stop at
    # the same batch and save in that second.
    launch "$d"
    wait_epochs "$d" 1 || fail "the run ended before its first epoch was logged"
    kill -TERM "$pid"
    finish
    [ "$rc" = 75 ] || [ "$rc" = 1 ] ||
        fail "mpirun's exit status $rc after SIGTERM, expected 75 (the ranks') or 1 (Open MPI's own after a signal)"
    grep -q 'stopped by SIGTERM; the training state is saved' "$out_file" ||
        fail "no stop message from rank 0"
    listed_whole "$d"
    # The 2-rank checkpoint in one process: an error naming both sizes.
    cp -r "$d" "$tmp/np1"
    NP1=1 run "$tmp/np1"
    [ "$rc" = 1 ] || fail "-np 1 on a 2-rank checkpoint exited $rc, expected 1"
    grep -q 'the checkpoint was written by 2 replicas and this run has 1; resume with the same number of processes (mpirun -np 2)' \
        "$out_file" || fail "-np 1: no error naming the world sizes"
    # SIGTERM to the ranks themselves (as a batch system signals every
    # task): each saves and exits 75, and so does mpirun.
    # The kill lands 1 to 4 saves (25 to 100 batches) into the resumed
    # run: a delay in time could outlast the run when the machine's load
    # drops after the straight run was timed.
    target=$(($(latest_number "$d") + 1 + RANDOM % 4))
    launch "$d"
    wait_number "$d" $((target - 1)) || {
        finish
        fail "the resumed run ended before ckpt-$target.h5 was listed"
    }
    ranks=$(pgrep -P "$pid" -x "$(basename "$ctrain")" | tr '\n' ' ')
    [ -n "$ranks" ] || {
        finish
        fail "no ranks found under mpirun"
    }
    echo "resume_kill: SIGTERM to the ranks $ranks"
    # shellcheck disable=SC2086
    kill -TERM $ranks
    finish
    [ "$rc" = 75 ] || fail "mpirun's exit status $rc after SIGTERM to the ranks, expected 75"
    grep -q 'stopped by SIGTERM; the training state is saved' "$out_file" ||
        fail "no stop message from rank 0"
    listed_whole "$d"
    run "$d"
    [ "$rc" = 0 ] || fail "the rerun under mpirun exited $rc"
    same "$straight" "$d"
    ;;
*)
    fail "unknown mode (sigkill, sigterm, crash, resume, mpi)"
    ;;
esac
echo "resume_kill $mode: passed"
