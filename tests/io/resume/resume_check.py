#!/usr/bin/python3
"""Helpers of tests/io/resume_kill.sh (run with Debian's python3, which has h5py).

    resume_check.py make-data DIR          writes DIR/train.csv and DIR/val.csv
    resume_check.py same-weights A B TOL   the HDF5 datasets of A and B: same names,
                                           shapes and dtypes; values bitwise equal
                                           (TOL 0) or within TOL
    resume_check.py same-log A B TOL       two CSVLogger files: same header and
                                           epochs, values within TOL
    resume_check.py ckpt-state FILE        opens a training checkpoint whole (every
                                           dataset read) and prints "epoch E step S world W"
    resume_check.py listed DIR             the checkpoint files that DIR/checkpoint
                                           lists, one a line (base names)

Exits 77 (ctest's skip) when h5py cannot be imported, 1 on a difference.
"""
import csv
import json
import os
import random
import sys

try:
    import h5py
    import numpy as np
except ImportError as e:  # pragma: no cover
    print(f"resume_check: {e}: skipped")
    sys.exit(77)


def fail(msg):
    print(f"resume_check: {msg}")
    sys.exit(1)


def make_data(d):
    # Four classes from a fixed random linear map of 24 features, with
    # label noise: a problem the model learns slowly, so the epoch losses
    # keep moving.
    rng = random.Random(20240611)
    nf = 24
    w = [[rng.uniform(-1, 1) for _ in range(nf)] for _ in range(4)]

    def rows(n):
        for _ in range(n):
            x = [round(rng.uniform(-2, 2), 4) for _ in range(nf)]
            scores = [sum(a * b for a, b in zip(wc, x)) for wc in w]
            y = max(range(4), key=lambda c: scores[c])
            if rng.random() < 0.1:
                y = rng.randrange(4)
            yield x + [y]

    for name, n in (("train.csv", 6400), ("val.csv", 320)):
        with open(os.path.join(d, name), "w", newline="") as f:
            out = csv.writer(f)
            out.writerow([f"f{i}" for i in range(nf)] + ["label"])
            out.writerows(rows(n))


def datasets(path):
    out = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                out[name] = obj[()]
        f.visititems(visit)
    return out


def same_weights(a, b, tol):
    da, db = datasets(a), datasets(b)
    if sorted(da) != sorted(db):
        fail(f"{a} and {b} hold different datasets: {sorted(set(da) ^ set(db))}")
    if not da:
        fail(f"{a} holds no datasets")
    worst = 0.0
    for name in sorted(da):
        x, y = da[name], db[name]
        if x.shape != y.shape or x.dtype != y.dtype:
            fail(f"{name}: {x.shape} {x.dtype} in {a}, {y.shape} {y.dtype} in {b}")
        if tol == 0:
            if x.tobytes() != y.tobytes():
                k = int(np.argmax(x.reshape(-1) != y.reshape(-1)))
                fail(f"{name}: not bitwise equal (first at flat index {k}: "
                     f"{x.reshape(-1)[k]!r} vs {y.reshape(-1)[k]!r})")
        else:
            d = float(np.max(np.abs(x.astype(np.float64) - y.astype(np.float64)))) if x.size else 0.0
            worst = max(worst, d)
            if not d <= tol:
                fail(f"{name}: differs by {d:g} (> {tol:g})")
    print(f"resume_check: weights same: {len(da)} datasets"
          + ("" if tol == 0 else f", max difference {worst:g}"))


def same_log(a, b, tol):
    with open(a) as f:
        ra = list(csv.reader(f))
    with open(b) as f:
        rb = list(csv.reader(f))
    if not ra or ra[0] != rb[0]:
        fail(f"CSV headers differ: {ra[:1]} vs {rb[:1]}")
    if len(ra) != len(rb):
        fail(f"{a} has {len(ra) - 1} epochs, {b} {len(rb) - 1}")
    worst = 0.0
    for i, (x, y) in enumerate(zip(ra[1:], rb[1:]), 1):
        for col, u, v in zip(ra[0], x, y):
            d = abs(float(u) - float(v))
            worst = max(worst, d)
            if not d <= tol:
                fail(f"epoch row {i}, {col}: {u} vs {v} (> {tol:g})")
    print(f"resume_check: logs same: {len(ra) - 1} epochs, max difference {worst:g}")


def ckpt_state(path):
    datasets(path)  # every dataset readable: the file is whole
    with h5py.File(path, "r") as f:
        st = json.loads(f["training_state"].attrs["state"])
    world = st.get("world_size", st.get("world", "?"))
    print(f"epoch {st.get('epoch')} step {st.get('step')} world {world}")


def listed(d):
    with open(os.path.join(d, "checkpoint")) as f:
        for line in f:
            if line.startswith("all_model_checkpoint_paths:"):
                print(os.path.basename(line.split(":", 1)[1].strip().strip('"')))


def main(argv):
    if len(argv) < 3:
        fail(__doc__)
    cmd = argv[1]
    if cmd == "make-data":
        make_data(argv[2])
    elif cmd == "same-weights":
        same_weights(argv[2], argv[3], float(argv[4]))
    elif cmd == "same-log":
        same_log(argv[2], argv[3], float(argv[4]))
    elif cmd == "ckpt-state":
        ckpt_state(argv[2])
    elif cmd == "listed":
        listed(argv[2])
    else:
        fail(f"unknown command {cmd}")


if __name__ == "__main__":
    main(sys.argv)
