/*
 * ctrain checkpoint: model files in Keras's formats.
 *
 *     ct_model_save_weights(m, "w.h5", NULL);                  // model.save_weights("w.h5")
 *     ct_model_load_weights(m, "w.h5", NULL);                  // model.load_weights("w.h5")
 *     ct_model_load_weights(m, "w.h5", &(ct_load_opts){.by_name = true, .skip_mismatch = true});
 *
 * Weights-only HDF5 files (.h5) are tf.keras 2's layout
 * (../shared/specs/keras_h5.md): root attributes layer_names (every layer
 * of model.layers in order; a Sequential's InputLayer is not one of
 * them), backend ("tensorflow") and keras_version ("2.15.0"); one group
 * per layer with attribute weight_names (the layer's weights in Keras's
 * order, trainable first, "dense/kernel:0" style) and one dataset per
 * weight at the weight's name inside the group (dense/dense/kernel:0). A
 * nested model is one group holding all its layers' weights. Files that
 * tf.keras 2, tf_keras and Keras 3's legacy loader write are read, and
 * they read ours; the weights group of a full-model file (model_weights)
 * is read too.
 *
 * Saving is atomic: the file is written beside the target as
 * "<path>.tmp-<pid>", flushed and fsync'ed, then renamed over the target
 * (and the directory fsync'ed); a save that fails leaves an existing file
 * as it was and removes the temporary one.
 *
 * Loading checks the whole file against the model before it assigns any
 * weight: a file that is not HDF5 or is cut short, one of another layout,
 * a different number of layers with weights, a different number of
 * weights in a layer, or a shape that differs is an error naming the
 * file, the layer, the weight and both shapes, and leaves every weight as
 * it was.
 *
 * HDF5 is not thread safe as Debian builds it: do not save or load from
 * two threads at once.
 */
#ifndef CTRAIN_CHECKPOINT_H
#define CTRAIN_CHECKPOINT_H

#include "ctrain/nn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- HDF5 weights files (model.save_weights / model.load_weights) ---------- */

typedef struct ct_save_opts {
    const char *keras_version; /* NULL: "2.15.0" (readers expect a 2.x version) */
} ct_save_opts;

/* model.save_weights(path) in the HDF5 format (opts may be NULL). The
 * model must be built. float32, float64, int32 and int64 weights are
 * stored in their dtype; float16 / bfloat16 ones as float32. */
ct_status ct_model_save_weights(ct_model *m, const char *path, const ct_save_opts *opts);

typedef struct ct_load_opts {
    /* false (Keras's default): the model's layers that have weights and
     * the file's layers that have weights are paired by position (their
     * counts must match), whatever their names. true: file layers are
     * paired with the model's layers of the same name; layers on either
     * side without a partner are left alone. */
    bool by_name;
    /* Only with by_name (as Keras): a layer whose number of weights
     * differs, or a weight whose shape differs, is skipped with a warning
     * on stderr instead of failing the load. */
    bool skip_mismatch;
} ct_load_opts;

/* model.load_weights(path, by_name=..., skip_mismatch=...) from a Keras
 * HDF5 weights file or full-model file (opts may be NULL: by order). The
 * model must be built. Values are converted to each weight's dtype. */
ct_status ct_model_load_weights(ct_model *m, const char *path, const ct_load_opts *opts);

/* ---- HDF5 full-model files (model.save / keras.models.load_model) ---------- */

/* model.save(path) in tf.keras 2's HDF5 format (keras_h5.md §1.1; opts
 * may be NULL): root attributes keras_version, backend, model_config
 * (ct_model_to_json) and, when compiled, training_config (optimizer_config,
 * loss, metrics, loss_weights; losses and metrics as their configs); the
 * weights in group model_weights (the weights file's layout); the
 * optimizer's variables (iteration, slots) in group optimizer_weights
 * once it has any. The model must be built and have a config (not a
 * subclassed model). Atomic as ct_model_save_weights. */
ct_status ct_model_save(ct_model *m, const char *path, const ct_save_opts *opts);

typedef struct ct_load_model_opts {
    /* keras.models.load_model(compile=...): compile with the file's
     * training_config (when it has one) and restore the optimizer's
     * variables from optimizer_weights. NULL opts: true. */
    bool compile;
} ct_load_model_opts;

/* keras.models.load_model(path): the model rebuilt from model_config with
 * the weights of model_weights; compiled (and its optimizer state
 * restored, so that training continues as it would have) per opts. NULL
 * with the error set: not a full-model file (a weights file: build the
 * model and use ct_model_load_weights), a bad model_config or
 * training_config, weights or optimizer weights that do not fit, and the
 * file errors of ct_model_load_weights. */
ct_model *ct_model_load(const char *path, const ct_load_model_opts *opts);

#ifdef __cplusplus
}
#endif

#endif /* CTRAIN_CHECKPOINT_H */
