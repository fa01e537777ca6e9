#!/usr/bin/python3
"""Checks the weights files that tests/io/write_sample_h5 wrote (into the
directory argv[1]) against the Keras 2 layout of ../shared/specs/keras_h5.md:
root attributes and their HDF5 types (§2.3), layer_names order (chunked
past 64512 bytes, §2.1), per-layer weight_names (empty: float64 (0,)),
dataset paths, shapes, dtypes, contiguous storage and the values of
h5m_fill's pattern (which checks the row-major order). Prints
"check_keras_h5: N files passed"; exits 1 on a failure, 77 (skipped)
without h5py."""
import os
import sys

try:
    import h5py
    import numpy as np
except ImportError as e:  # pragma: no cover
    print(f"check_keras_h5: skipped: {e}")
    sys.exit(77)

LIMIT = 64512

# file -> [(layer name, [(weight name, shape), ...]), ...] in model.layers order
def dense(name, i, o):
    return (name, [(f"{name}/kernel:0", (i, o)), (f"{name}/bias:0", (o,))])

def bn(name, c):
    return [(f"{name}/{w}:0", (c,)) for w in ("gamma", "beta", "moving_mean", "moving_variance")]

LONG = [dense("dense_%04d_%0190d" % (i, 0), 1, 1) for i in range(400)]
EXPECTED = {
    "cnn.h5": [
        ("conv2d", [("conv2d/kernel:0", (3, 3, 3, 4)), ("conv2d/bias:0", (4,))]),
        ("batch_normalization", bn("batch_normalization", 4)),
        ("max_pooling2d", []),
        ("flatten", []),
        dense("dense", 64, 10),
    ],
    "two_inputs.h5": [  # the spec's §5.5 example
        ("input_a", []), ("input_b", []),
        dense("dense", 4, 8), dense("dense_1", 6, 8),
        ("concatenate", []),
        dense("dense_2", 16, 1),
    ],
    "nested.h5": [  # a nested Sequential is one group: trainable weights first
        ("sequential", [("dense/kernel:0", (5, 3)), ("dense/bias:0", (3,)),
                        ("batch_normalization/gamma:0", (3,)),
                        ("batch_normalization/beta:0", (3,)),
                        ("batch_normalization/moving_mean:0", (3,)),
                        ("batch_normalization/moving_variance:0", (3,))]),
        dense("dense_1", 3, 2),
    ],
    "embedding.h5": [
        ("embedding", [("embedding/embeddings:0", (10, 3))]),
        ("flatten", []),
        dense("dense", 12, 1),
    ],
    "long_names.h5": LONG,
}

failures = []

def fail(msg):
    failures.append(msg)
    print("FAIL:", msg)

def attr_type(obj, name):
    return h5py.h5a.open(obj.id, name.encode()).get_type()

def attr_space(obj, name):
    return h5py.h5a.open(obj.id, name.encode()).get_space()

def check_scalar_str(f, fn, obj, name, want):
    if name not in obj.attrs:
        return fail(f"{fn}: attribute {name} missing")
    t = attr_type(obj, name)
    if not isinstance(t, h5py.h5t.TypeStringID) or not t.is_variable_str():
        fail(f"{fn}: {name} is not a variable-length string")
    if attr_space(obj, name).get_simple_extent_type() != h5py.h5s.SCALAR:
        fail(f"{fn}: {name} is not scalar")
    v = obj.attrs[name]
    if isinstance(v, bytes):
        v = v.decode("utf8")
    if v != want:
        fail(f"{fn}: {name} = {v!r}, want {want!r}")

def check_fixed_chunk(fn, obj, name):
    t = attr_type(obj, name)
    if not isinstance(t, h5py.h5t.TypeStringID) or t.is_variable_str():
        fail(f"{fn}: {name} is not a fixed-length string array")
        return None
    if t.get_strpad() != h5py.h5t.STR_NULLPAD or t.get_cset() != h5py.h5t.CSET_ASCII:
        fail(f"{fn}: {name} is not NULLPAD ASCII")
    a = obj.attrs[name]
    if a.ndim != 1 or a.dtype.kind != "S":
        fail(f"{fn}: {name} is not a 1-D bytes array ({a.dtype}, {a.shape})")
    if a.nbytes > LIMIT:
        fail(f"{fn}: {name} has {a.nbytes} bytes, over {LIMIT}")
    return a

def read_list(fn, obj, name, expect_names):
    """Keras's load_attributes_from_hdf5_group plus type checks."""
    if not expect_names:
        if name not in obj.attrs:
            fail(f"{fn}: {obj.name}: {name} missing")
            return []
        a = obj.attrs[name]
        if a.dtype != np.float64 or a.shape != (0,):
            fail(f"{fn}: {obj.name}: empty {name} is {a.dtype} {a.shape}, want float64 (0,)")
        return [x.decode("utf8") for x in a]
    longest = max(len(n.encode()) for n in expect_names)
    total = longest * len(expect_names)
    if name in obj.attrs:
        if total > LIMIT:
            fail(f"{fn}: {obj.name}: {name} ({total} bytes) should have been chunked")
        chunks = [check_fixed_chunk(fn, obj, name)]
    else:
        chunks, k = [], 0
        while f"{name}{k}" in obj.attrs:
            chunks.append(check_fixed_chunk(fn, obj, f"{name}{k}"))
            k += 1
        if k < 2:
            fail(f"{fn}: {obj.name}: no {name} attribute (nor chunks)")
    out = []
    for c in chunks:
        if c is None:
            continue
        if c.dtype.itemsize != longest:
            fail(f"{fn}: {obj.name}: {name} item size {c.dtype.itemsize}, want {longest}")
        out += [x.decode("utf8") for x in c]
    return out

def check_file(path, fn, layers):
    with h5py.File(path, "r") as f:
        check_scalar_str(f, fn, f, "backend", "tensorflow")
        check_scalar_str(f, fn, f, "keras_version", "2.15.0")
        names = read_list(fn, f, "layer_names", [l[0] for l in layers])
        if names != [l[0] for l in layers]:
            fail(f"{fn}: layer_names {names[:8]}..., want {[l[0] for l in layers][:8]}...")
            return
        w = 0
        for lname, weights in layers:
            if lname not in f or not isinstance(f[lname], h5py.Group):
                fail(f"{fn}: no group {lname}")
                continue
            g = f[lname]
            wn = read_list(fn, g, "weight_names", [x[0] for x in weights])
            if wn != [x[0] for x in weights]:
                fail(f"{fn}: {lname}: weight_names {wn}, want {[x[0] for x in weights]}")
                continue
            for wname, shape in weights:
                if wname not in g or not isinstance(g[wname], h5py.Dataset):
                    fail(f"{fn}: no dataset {lname}/{wname}")
                    w += 1
                    continue
                d = g[wname]
                if d.shape != shape:
                    fail(f"{fn}: {lname}/{wname}: shape {d.shape}, want {shape}")
                if d.dtype != np.dtype("<f4"):
                    fail(f"{fn}: {lname}/{wname}: dtype {d.dtype}, want <f4")
                if d.chunks is not None or d.compression is not None:
                    fail(f"{fn}: {lname}/{wname}: not contiguous / filtered")
                e = np.arange(int(np.prod(shape)), dtype=np.int64)
                want = (w + ((e * 7) % 13) / 8.0 - 0.75).astype(np.float32).reshape(shape)
                if not np.array_equal(d[()], want):
                    fail(f"{fn}: {lname}/{wname}: values differ from the pattern")
                w += 1
        # Nothing else at the root than the layer groups.
        extra = set(f.keys()) - {l[0] for l in layers}
        if extra:
            fail(f"{fn}: unexpected root members {sorted(extra)}")

def main():
    d = sys.argv[1]
    for fn, layers in EXPECTED.items():
        check_file(os.path.join(d, fn), fn, layers)
    if failures:
        print(f"check_keras_h5: {len(failures)} failures")
        sys.exit(1)
    print(f"check_keras_h5: {len(EXPECTED)} files passed")

if __name__ == "__main__":
    main()
