#!/usr/bin/python3
"""h5py beside bench_checkpoint (issue #7): writes the same float32 arrays
in a Keras 2 weights file's layout as tf.keras's save_weights does (root
attributes layer_names, backend, keras_version; one group per layer in
sorted name order with attribute weight_names; each weight a dataset made
with create_dataset(name, shape, dtype) then filled with dset[:] = value,
at "dense/kernel:0" inside the group), then flush, os.fsync, close,
rename over the target and fsync of the directory, as ct_model_save_weights
does. Reads them back as Keras's load_weights does (dset[()] per weight,
into new arrays). The same JSON lines as bench_checkpoint.

  /usr/bin/python3 bench_checkpoint_h5py.py [--dir D] [--reps N]
      [--layers L] [--units U] [--input I] [--verify FILE]

--verify FILE: first check that FILE (bench_checkpoint's ctrain.h5) has
the layout and shapes this script writes, so both write the same file.
"""
import argparse
import json
import os
import statistics
import time

import h5py
import numpy as np


def layout(layers, units, inp):
    """[(layer name, [(weight name, shape)])] as ctrain and Keras name them."""
    out, fan_in = [], inp
    for i in range(layers):
        name = "dense" if i == 0 else f"dense_{i}"
        out.append((name, [(f"{name}/kernel:0", (fan_in, units)), (f"{name}/bias:0", (units,))]))
        fan_in = units
    return out


def write(path, lay, values):
    tmp = f"{path}.tmp-{os.getpid()}"
    with h5py.File(tmp, "w") as f:
        f.attrs["layer_names"] = np.array([n.encode() for n, _ in lay])
        f.attrs["backend"] = "tensorflow".encode()
        f.attrs["keras_version"] = "2.15.0".encode()
        for lname, ws in sorted(lay):
            g = f.create_group(lname)
            g.attrs["weight_names"] = np.array([w.encode() for w, _ in ws])
            for wname, shape in ws:
                val = values[wname]
                d = g.create_dataset(wname, shape, dtype=val.dtype)
                d[:] = val
        f.flush()
        # The file's descriptor (sec2 driver): fsync before close, as
        # h5py has no fsync of its own.
        os.fsync(f.id.get_vfd_handle())
    os.rename(tmp, path)
    fd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY | os.O_DIRECTORY)
    os.fsync(fd)
    os.close(fd)


def read(path, lay):
    out = {}
    with h5py.File(path, "r") as f:
        for lname, ws in lay:
            g = f[lname]
            for wname, _ in ws:
                out[wname] = g[wname][()]
    return out


def verify(path, lay):
    with h5py.File(path, "r") as f:
        names = [n.decode() if isinstance(n, bytes) else n for n in f.attrs["layer_names"]]
        assert names == [n for n, _ in lay], (names, lay)
        for lname, ws in lay:
            wn = [n.decode() if isinstance(n, bytes) else n for n in f[lname].attrs["weight_names"]]
            assert wn == [w for w, _ in ws], (lname, wn)
            for wname, shape in ws:
                d = f[lname][wname]
                assert d.shape == shape and d.dtype == np.float32, (wname, d.shape, d.dtype)
                assert d.chunks is None and d.compression is None, (wname, d.chunks)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default="/tmp")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--units", type=int, default=2560)
    ap.add_argument("--input", type=int, default=2560)
    ap.add_argument("--verify")
    a = ap.parse_args()
    lay = layout(a.layers, a.units, a.input)
    if a.verify:
        verify(a.verify, lay)
    rng = np.random.default_rng(1)
    values = {w: rng.standard_normal(shape, dtype=np.float32) for _, ws in lay for w, shape in ws}
    nbytes = sum(v.nbytes for v in values.values())
    path = os.path.join(a.dir, "h5py.h5")
    secs = {"write": [], "read": []}
    for r in range(a.reps):
        for op in ("write", "read"):
            t0 = time.perf_counter()
            if op == "write":
                write(path, lay, values)
            else:
                got = read(path, lay)
            dt = time.perf_counter() - t0
            secs[op].append(dt)
            print(json.dumps({"bench": "checkpoint", "impl": "h5py", "op": op, "rep": r + 1,
                              "bytes": nbytes, "file_bytes": os.path.getsize(path),
                              "s": round(dt, 6), "gb_per_s": round(nbytes / dt / 1e9, 3),
                              "fsync": op == "write", "page_cache": op == "read"}), flush=True)
    for w, v in values.items():
        assert np.array_equal(got[w], v), w
    for op in ("write", "read"):
        med = statistics.median(secs[op])
        print(json.dumps({"bench": "checkpoint_median", "impl": "h5py", "op": op,
                          "reps": a.reps, "bytes": nbytes, "s": round(med, 6),
                          "gb_per_s": round(nbytes / med / 1e9, 3),
                          "h5py": h5py.__version__, "hdf5": h5py.version.hdf5_version}))


if __name__ == "__main__":
    main()
