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

#include "ctrain/data.h"
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


/* ---- training checkpoints (tf.train.CheckpointManager) ------------------------------------- */

/*
 * A directory of training checkpoints that resume exactly:
 *
 *     ct_checkpoint_manager *cm = ct_checkpoint_manager_new(m, "ckpts",
 *         &(ct_checkpoint_manager_opts){.max_to_keep = 3});
 *     ct_checkpoint_manager_track_iterator(cm, "train", it);   // a custom loop's data
 *     if (ct_checkpoint_manager_latest(cm)) ct_checkpoint_manager_restore(cm, NULL);
 *     ... each K steps: ct_checkpoint_manager_save(cm);
 *
 * Checkpoint n is "<directory>/<checkpoint_name>-<n>.h5": a full-model
 * file (ct_model_save's layout; a weights file for a model without a
 * config) with the optimizer's variables, plus a group "training_state":
 * attribute "state" (JSON: world size, fit's epoch and step, the
 * learning rate, the callbacks' state, ...) and one uint8 dataset per
 * saved stream (the random seed state, each tracked iterator's position,
 * the metrics' accumulators). Under a strategy of W replicas rank r > 0
 * writes its own training_state (its data position, its random state) to
 * "<checkpoint_name>-<n>.replica-<r>.h5"; the directory must then be one
 * every rank sees. Every file is written atomically (ct_model_save).
 *
 * A checkpoint is complete once every rank's file is durable: only then
 * does rank 0 list it in "<directory>/checkpoint", TF's CheckpointState
 * text file (model_checkpoint_path, all_model_checkpoint_paths and their
 * timestamps, last_preserved_timestamp), itself replaced atomically. A
 * save interrupted at any point leaves the previous checkpoint listed and
 * whole; the files of an unlisted newer one are removed by the next
 * manager made on the directory.
 *
 * Saving and restoring are collective under a strategy: every replica
 * calls them at the same point. Inside fit (a BackupAndRestore callback
 * does it) a checkpoint also holds fit's position; a checkpoint saved
 * outside fit resumes weights, optimizer, random state and iterators.
 */
typedef struct ct_checkpoint_manager ct_checkpoint_manager;

typedef struct ct_checkpoint_manager_opts {
    /* The newest checkpoints kept; older ones are deleted (unless kept by
     * keep_checkpoint_every_n_hours). 0: all are kept (TF's None). */
    int max_to_keep;
    /* Of the checkpoints max_to_keep drops, one every this many hours is
     * kept (and no longer listed), as TF's manager. 0: none. */
    double keep_checkpoint_every_n_hours;
    const char *checkpoint_name; /* NULL: "ckpt" */
} ct_checkpoint_manager_opts;

/* tf.train.CheckpointManager(checkpoint, directory, ...) for m (built;
 * compiled for its optimizer's state to be saved). Creates directory if
 * needed and reads its checkpoint list; NULL with the error set when the
 * directory cannot be made or the list is damaged. Under m's strategy
 * every replica makes it. */
ct_checkpoint_manager *ct_checkpoint_manager_new(ct_model *m, const char *directory,
                                                 const ct_checkpoint_manager_opts *opts);
void ct_checkpoint_manager_free(ct_checkpoint_manager *cm);
/* Saves and restores the iterator's position with each checkpoint (borrowed; name
 * tells it apart from others: letters, digits, '_', '-', '.'). */
ct_status ct_checkpoint_manager_track_iterator(ct_checkpoint_manager *cm, const char *name,
                                               ct_iterator *it);
/* manager.save(): writes checkpoint n (one more than the newest), lists
 * it and drops the oldest past max_to_keep. Its path (valid until the
 * next call on cm), or NULL with the error set. */
const char *ct_checkpoint_manager_save(ct_checkpoint_manager *cm);
/* manager.latest_checkpoint: the newest complete checkpoint's path, or
 * NULL when there is none. */
const char *ct_checkpoint_manager_latest(const ct_checkpoint_manager *cm);
/* manager.checkpoints: the listed checkpoints, oldest first. */
int ct_checkpoint_manager_num_checkpoints(const ct_checkpoint_manager *cm);
const char *ct_checkpoint_manager_checkpoint(const ct_checkpoint_manager *cm, int i);
/* checkpoint.restore(path) (NULL: the latest): the model's weights, the
 * optimizer's variables, the random seed state and the tracked
 * iterators' positions. Checks first that the checkpoint was written
 * with this world size, that its weights fit the model and that every
 * tracked iterator has a position in it; an error names what differs. */
ct_status ct_checkpoint_manager_restore(ct_checkpoint_manager *cm, const char *path);
/* Removes every checkpoint file of the directory (listed or not: a process
 * killed while it dropped old ones can leave one unlisted), the list, and
 * the directory when nothing else is left in it (BackupAndRestore's
 * delete_checkpoint). */
ct_status ct_checkpoint_manager_delete_all(ct_checkpoint_manager *cm);

#ifdef __cplusplus
}
#endif

#endif /* CTRAIN_CHECKPOINT_H */
