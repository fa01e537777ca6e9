/* Writes Keras weights files of the models in h5_models.h into the
 * directory argv[1], for tests/io/check_keras_h5.py:
 *   cnn.h5, two_inputs.h5, nested.h5, embedding.h5, long_names.h5
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

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: write_sample_h5 DIR\n");
        return 2;
    }
    int bad = write_one(argv[1], "cnn.h5", h5m_cnn) +
              write_one(argv[1], "two_inputs.h5", h5m_two_inputs) +
              write_one(argv[1], "nested.h5", h5m_nested) +
              write_one(argv[1], "embedding.h5", h5m_embedding) +
              write_one(argv[1], "long_names.h5", long_names);
    return bad ? 1 : 0;
}
