/* The README's input pipeline: Fashion-MNIST from Debian's IDX files
 * through shuffle, batch and prefetch; prints the batches of one epoch. */
#include <stdio.h>

#include "ctrain/ctrain.h"

int main(void) {
    ct_scope_begin();
    ct_tensor *x, *y, *xt, *yt;
    if (ct_load_fashion_mnist(NULL, &x, &y, &xt, &yt)) {
        fprintf(stderr, "fashion_mnist_pipeline: %s\n", ct_last_error());
        return 1;
    }
    ct_dataset *ds = ct_dataset_from_tensor_slices(&(ct_element){.n = 2, .t = {x, y}});
    ds = ct_dataset_shuffle(ds, 60000, &(ct_shuffle_opts){.seed = 1});
    ds = ct_dataset_prefetch(ct_dataset_batch(ds, 128, false), CT_AUTOTUNE);
    ct_iterator *it = ct_dataset_iterator(ds);
    if (!it) {
        fprintf(stderr, "fashion_mnist_pipeline: %s\n", ct_last_error());
        return 1;
    }
    int64_t batches = 0, examples = 0;
    ct_element *e;
    ct_status st;
    while ((st = ct_iterator_next(it, &e)) == CT_OK && e) {
        batches++;
        examples += ct_tensor_dim(e->t[0], 0);
        ct_element_free(e);
    }
    if (st) fprintf(stderr, "fashion_mnist_pipeline: %s\n", ct_last_error());
    printf("one epoch: %lld batches, %lld examples\n", (long long)batches, (long long)examples);
    ct_iterator_free(it);
    ct_dataset_free(ds);
    ct_scope_end();
    return st ? 1 : 0;
}
