/* Writes Keras weights files of the models in h5_models.h into the
 * directory argv[1], for tests/io/check_keras_h5.py:
 *   cnn.h5, two_inputs.h5, nested.h5, embedding.h5, long_names.h5
 * and full-model files (ct_model_save):
 *   cnn_model.h5 (compiled with Adam, trained two steps: training_config
 *   and optimizer_weights), two_inputs_model.h5 (not compiled); and a
 *   training checkpoint of the trained CNN (CheckpointManager): ckpts/.
 * Weights hold h5m_fill's pattern. */
#include "h5_models.h"

static int write_one(const char *dir, const char *file, ct_model *(*make)(void)) {
    ct_layer_reset_names();
    ct_model *m = make();
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    ct_status st = m ? h5m_fill(m, 0) : ct_last_status();
    if (st == CT_OK) st = ct_model_save_weights(m, path, NULL);
    if (m) ct_model_free(m);
    if (st != CT_OK) {
        fprintf(stderr, "write_sample_h5: %s: %s\n", file, ct_last_error());
        return 1;
    }
    return 0;
}

static ct_model *long_names(void) { return h5m_long_names(400); }

/* cnn compiled (Adam, SparseCategoricalCrossentropy from logits,
 * accuracy) and trained two steps on fixed data, so that the optimizer
 * has its variables; then the weights get h5m_fill's pattern. */
static ct_status train_cnn(ct_model *m) {
    ct_loss *loss = ct_loss_new("sparse_categorical_crossentropy",
                                &(ct_loss_opts){.from_logits = true});
    if (!loss) return ct_last_status();
    ct_status st = ct_model_compile(m, &(ct_compile_opts){
                                           .optimizer = "adam",
                                           .loss_obj = loss,
                                           .nmetrics = 1,
                                           .metrics = (const char *const[]){"accuracy"},
                                       });
    float x[2 * 8 * 8 * 3], y[2] = {1, 4};
    for (int i = 0; i < 2 * 8 * 8 * 3; i++) x[i] = (float)((i % 11) / 8.0 - 0.5);
    for (int s = 0; st == CT_OK && s < 2; s++) {
        ct_scope_begin();
        ct_tensor *tx = ct_constant(x, CT_FLOAT32, 4, (const int64_t[]){2, 8, 8, 3});
        ct_tensor *ty = ct_constant(y, CT_FLOAT32, 1, (const int64_t[]){2});
        st = tx && ty ? ct_model_train_on_batch(m, tx, ty, NULL, NULL) : ct_last_status();
        ct_scope_end();
    }
    return st;
}

static int write_model(const char *dir, const char *file, ct_model *(*make)(void),
                       ct_status (*prepare)(ct_model *)) {
    ct_layer_reset_names();
    ct_model *m = make();
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    ct_status st = m ? CT_OK : ct_last_status();
    if (st == CT_OK && prepare) st = prepare(m);
    if (st == CT_OK) st = h5m_fill(m, 0);
    if (st == CT_OK) st = ct_model_save(m, path, NULL);
    if (m) ct_model_free(m);
    if (st != CT_OK) {
        fprintf(stderr, "write_sample_h5: %s: %s\n", file, ct_last_error());
        return 1;
    }
    return 0;
}

/* A training checkpoint of the trained CNN: ckpts/ckpt-1.h5 and the list
 * ckpts/checkpoint (CheckpointManager). */
static int write_checkpoint(const char *dir) {
    ct_layer_reset_names();
    ct_model *m = h5m_cnn();
    char path[4096];
    snprintf(path, sizeof path, "%s/ckpts", dir);
    ct_status st = m ? train_cnn(m) : ct_last_status();
    if (st == CT_OK) st = h5m_fill(m, 0);
    ct_checkpoint_manager *cm = st == CT_OK ? ct_checkpoint_manager_new(m, path, NULL) : NULL;
    if (st == CT_OK && (!cm || !ct_checkpoint_manager_save(cm))) st = ct_last_status();
    ct_checkpoint_manager_free(cm);
    if (m) ct_model_free(m);
    if (st != CT_OK) {
        fprintf(stderr, "write_sample_h5: ckpts: %s\n", ct_last_error());
        return 1;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: write_sample_h5 DIR\n");
        return 2;
    }
    int bad = write_one(argv[1], "cnn.h5", h5m_cnn) +
              write_one(argv[1], "two_inputs.h5", h5m_two_inputs) +
              write_one(argv[1], "nested.h5", h5m_nested) +
              write_one(argv[1], "embedding.h5", h5m_embedding) +
              write_one(argv[1], "long_names.h5", long_names) +
              write_model(argv[1], "cnn_model.h5", h5m_cnn, train_cnn) +
              write_model(argv[1], "two_inputs_model.h5", h5m_two_inputs, NULL) +
              write_checkpoint(argv[1]);
    return bad ? 1 : 0;
}
