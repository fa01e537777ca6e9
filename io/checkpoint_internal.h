/*
 * Training state for io/checkpoint.c's checkpoints, shared with nn/fit.c
 * (fit's position) and BackupAndRestore. Not installed.
 */
#ifndef CT_IO_CHECKPOINT_INTERNAL_H
#define CT_IO_CHECKPOINT_INTERNAL_H

#include <jansson.h>
#include <stddef.h>

#include "ctrain/checkpoint.h"

/* One named stream of bytes of a replica's state. */
typedef struct ct__state_part {
    char *name;
    void *data;
    size_t len;
} ct__state_part;

/* A replica's training state: JSON fields and named streams. */
typedef struct ct__train_state {
    json_t *info; /* an object (NULL: none yet)  */
    int n, cap;
    ct__state_part *parts;
} ct__train_state;

/* Adds a stream, taking data (malloc'ed; freed on error too). */
ct_status ct__train_state_put(ct__train_state *s, const char *name, void *data, size_t len);
/* The stream called name, or NULL. */
const ct__state_part *ct__train_state_get(const ct__train_state *s, const char *name);
void ct__train_state_clear(ct__train_state *s);

/* ct_checkpoint_manager_save with fit's state added: ts's info fields
 * and streams (this replica's; rank 0's info is the one kept for the
 * fields every replica shares). failed: this replica could not gather ts
 * (its error set): it still takes part in the save's votes, and every
 * replica fails. */
const char *ct__checkpoint_manager_save_state(ct_checkpoint_manager *cm,
                                              const ct__train_state *ts, ct_status failed);
/* ct_checkpoint_manager_restore, with what fit saved handed back in *out
 * (this replica's info and streams; the caller clears it). */
ct_status ct__checkpoint_manager_restore_state(ct_checkpoint_manager *cm, const char *path,
                                               ct__train_state *out);

#endif
