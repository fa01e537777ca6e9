#!/usr/bin/python3
"""Checks the weights files that tests/io/write_sample_h5 wrote (into the
directory argv[1]) against the Keras 2 layout of ../shared/specs/keras_h5.md:
root attributes and their HDF5 types (§2.3), layer_names order (chunked
past 64512 bytes, §2.1), per-layer weight_names (empty: float64 (0,)),
dataset paths, shapes, dtypes, contiguous storage and the values of
h5m_fill's pattern (which checks the row-major order). Full-model files
(§1.1, §2.3, §5, §6): root keras_version / backend / model_config /
training_config as scalar variable-length strings, the JSON of
model_config (tf.keras 2's {"class_name", "config"}, its layers those of
layer_names) and of training_config (loss, metrics, weighted_metrics,
loss_weights, optimizer_config), the weights group model_weights as
above, and optimizer_weights (weight_names; iteration:0 an int64 scalar,
then one slot per trainable weight with the weight's shape). Prints
"check_keras_h5: N files passed"; exits 1 on a failure, 77 (skipped)
without h5py."""
import json
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
        check_weights_group(f, fn, layers)

def check_weights_group(f, fn, layers):
    """The weights layout in f (a file's root, or model_weights)."""
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
        fail(f"{fn}: unexpected members of {f.name}: {sorted(extra)}")

# Full-model files: file -> (model class, layers as EXPECTED, compiled?,
# optimizer slot names or None).
MODELS = {
    "cnn_model.h5": ("Sequential", EXPECTED["cnn.h5"], True, ("m", "v")),
    "two_inputs_model.h5": ("Functional", EXPECTED["two_inputs.h5"], False, None),
}

def json_attr(f, fn, name):
    if name not in f.attrs:
        fail(f"{fn}: attribute {name} missing")
        return None
    t = attr_type(f, name)
    if not isinstance(t, h5py.h5t.TypeStringID) or not t.is_variable_str():
        fail(f"{fn}: {name} is not a variable-length string")
    if attr_space(f, name).get_simple_extent_type() != h5py.h5s.SCALAR:
        fail(f"{fn}: {name} is not scalar")
    v = f.attrs[name]
    if isinstance(v, bytes):
        v = v.decode("utf8")
    try:
        return json.loads(v)
    except ValueError as e:
        fail(f"{fn}: {name} is not JSON: {e}")
        return None

def check_model_config(fn, mc, cls, layers):
    if not isinstance(mc, dict) or set(mc) < {"class_name", "config"}:
        return fail(f"{fn}: model_config is not {{class_name, config}}: {str(mc)[:80]}")
    if mc["class_name"] != cls:
        fail(f"{fn}: model_config class_name {mc['class_name']!r}, want {cls!r}")
    cfg = mc["config"]
    if not isinstance(cfg.get("name"), str) or not isinstance(cfg.get("layers"), list):
        return fail(f"{fn}: model_config.config has no name / layers list")
    names = []
    for l in cfg["layers"]:
        if not isinstance(l, dict) or "class_name" not in l or "config" not in l:
            fail(f"{fn}: a layer of model_config is not {{class_name, config}}: {str(l)[:80]}")
            continue
        names.append(l.get("name", l["config"].get("name")))
    # A Sequential's config lists its InputLayer, which layer_names does not.
    want = [l[0] for l in layers]
    got = [n for n in names if n in want] if cls == "Sequential" else names
    if got != want:
        fail(f"{fn}: model_config layers {names}, want {want}")
    if cls == "Functional":
        for k in ("input_layers", "output_layers"):
            if not isinstance(cfg.get(k), list):
                fail(f"{fn}: model_config.config has no {k} list")

def check_training_config(fn, tc):
    if not isinstance(tc, dict):
        return fail(f"{fn}: training_config is not an object")
    for k in ("loss", "metrics", "weighted_metrics", "loss_weights", "optimizer_config"):
        if k not in tc:
            fail(f"{fn}: training_config has no {k}")
    loss = tc.get("loss")
    if not isinstance(loss, (str, dict, list)):
        fail(f"{fn}: training_config.loss is {type(loss).__name__}")
    if isinstance(loss, dict) and "class_name" in loss and "config" not in loss:
        fail(f"{fn}: training_config.loss has class_name but no config")
    if tc.get("metrics") is not None and not isinstance(tc["metrics"], (list, dict)):
        fail(f"{fn}: training_config.metrics is not a list, dict or null")
    oc = tc.get("optimizer_config")
    if not isinstance(oc, dict) or not isinstance(oc.get("class_name"), str) \
            or not isinstance(oc.get("config"), dict):
        fail(f"{fn}: optimizer_config is not {{class_name, config}}: {str(oc)[:80]}")
    elif "learning_rate" not in oc["config"]:
        fail(f"{fn}: optimizer_config.config has no learning_rate")

def check_optimizer_weights(f, fn, layers, slots):
    if "optimizer_weights" not in f:
        return fail(f"{fn}: no optimizer_weights group")
    g = f["optimizer_weights"]
    trainable = [(w, shape) for _, ws in layers for (w, shape) in ws
                 if not w.endswith(("moving_mean:0", "moving_variance:0"))]
    want = ["iteration:0"] + [f"{s}/{w}" for s in slots for (w, _) in trainable]
    names = read_list(fn, g, "weight_names", want)
    if names[:1] != ["iteration:0"] or sorted(names) != sorted(want):
        return fail(f"{fn}: optimizer_weights weight_names {names}, want (in some order) {want}")
    shapes = {f"{s}/{w}": shape for s in slots for (w, shape) in trainable}
    it = g["iteration:0"]
    if it.shape != () or it.dtype != np.dtype("<i8"):
        fail(f"{fn}: optimizer_weights/iteration:0 is {it.dtype} {it.shape}, want int64 scalar")
    elif it[()] != 2:
        fail(f"{fn}: optimizer iteration {it[()]}, want 2")
    for n in names[1:]:
        if n not in g or not isinstance(g[n], h5py.Dataset):
            fail(f"{fn}: no dataset optimizer_weights/{n}")
            continue
        d = g[n]
        if d.shape != shapes[n] or d.dtype != np.dtype("<f4"):
            fail(f"{fn}: optimizer_weights/{n} is {d.dtype} {d.shape}, want <f4 {shapes[n]}")
        if not np.all(np.isfinite(d[()])):
            fail(f"{fn}: optimizer_weights/{n} is not finite")
    # iteration counts as one member; slot names nest ("m/conv2d/kernel:0").
    tops = {n.split("/")[0] for n in names}
    if set(g.keys()) != tops:
        fail(f"{fn}: optimizer_weights members {sorted(g.keys())}, want {sorted(tops)}")

def check_model_file(path, fn, cls, layers, compiled, slots, extra=frozenset()):
    with h5py.File(path, "r") as f:
        check_scalar_str(f, fn, f, "backend", "tensorflow")
        check_scalar_str(f, fn, f, "keras_version", "2.15.0")
        mc = json_attr(f, fn, "model_config")
        if mc is not None:
            check_model_config(fn, mc, cls, layers)
        if compiled:
            tc = json_attr(f, fn, "training_config")
            if tc is not None:
                check_training_config(fn, tc)
        elif "training_config" in f.attrs:
            fail(f"{fn}: training_config written for a model that is not compiled")
        if "model_weights" not in f or not isinstance(f["model_weights"], h5py.Group):
            return fail(f"{fn}: no group model_weights")
        check_weights_group(f["model_weights"], fn, layers)
        want = {"model_weights"} | ({"optimizer_weights"} if slots else set()) | set(extra)
        if set(f.keys()) != want:
            fail(f"{fn}: root members {sorted(f.keys())}, want {sorted(want)}")
        if slots:
            check_optimizer_weights(f, fn, layers, slots)

def check_checkpoint(d):
    """A CheckpointManager's directory: the CheckpointState list names
    ckpt-1.h5, a full-model file with a training_state group."""
    fn = "ckpts/ckpt-1.h5"
    try:
        with open(os.path.join(d, "ckpts", "checkpoint")) as f:
            lines = f.read().splitlines()
    except OSError as e:
        return fail(f"ckpts/checkpoint: {e}")
    keys = [l.split(":", 1)[0] for l in lines]
    if keys != ["model_checkpoint_path", "all_model_checkpoint_paths",
                "all_model_checkpoint_timestamps", "last_preserved_timestamp"]:
        fail(f"ckpts/checkpoint: keys {keys}")
    if lines and lines[0] != 'model_checkpoint_path: "ckpt-1.h5"':
        fail(f"ckpts/checkpoint: first line {lines[0]!r}")
    check_model_file(os.path.join(d, fn), fn, *MODELS["cnn_model.h5"], extra={"training_state"})
    with h5py.File(os.path.join(d, fn), "r") as f:
        g = f.get("training_state")
        if not isinstance(g, h5py.Group):
            return fail(f"{fn}: no group training_state")
        state = json_attr(g, fn, "state")
        if state is not None:
            for k, v in (("format", "ctrain.training_state"), ("version", 1),
                         ("world_size", 1), ("rank", 0), ("checkpoint", 1)):
                if state.get(k) != v:
                    fail(f"{fn}: training_state/state {k} = {state.get(k)!r}, want {v!r}")
        if set(g.keys()) != {"rng"}:
            fail(f"{fn}: training_state members {sorted(g.keys())}, want ['rng']")
        elif g["rng"].dtype != np.dtype("u1") or g["rng"].ndim != 1 or g["rng"].shape[0] < 2500:
            fail(f"{fn}: training_state/rng is {g['rng'].dtype} {g['rng'].shape}")

def main():
    d = sys.argv[1]
    for fn, layers in EXPECTED.items():
        check_file(os.path.join(d, fn), fn, layers)
    for fn, (cls, layers, compiled, slots) in MODELS.items():
        check_model_file(os.path.join(d, fn), fn, cls, layers, compiled, slots)
    check_checkpoint(d)
    if failures:
        print(f"check_keras_h5: {len(failures)} failures")
        sys.exit(1)
    print(f"check_keras_h5: {len(EXPECTED) + len(MODELS) + 1} files passed")

if __name__ == "__main__":
    main()
