/*
 * The event encoders of io/events.c, for tests that compare them with the
 * golden records of ../shared/specs/tfevents.md, and the Keras model
 * summary of the TensorBoard callback. Not installed.
 */
#ifndef CT_IO_EVENTS_H
#define CT_IO_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "ctrain/runtime.h"
#include "ctrain/summary.h"

/* The serialized Event (no framing) of the file_version event at
 * wall_time, and of a TF 2 scalar. malloc'ed into *out (free it); NULL and
 * an error when out of memory. */
uint8_t *ct__event_encode_version(double wall_time, size_t *len);
uint8_t *ct__event_encode_scalar(const char *tag, double value, int64_t step, double wall_time,
                                 size_t *len);

/* tf.keras's keras_model_summary: the model's config JSON as a rank-0
 * DT_STRING tensor, plugin "graph_keras_model" (content "1"), which
 * TensorBoard's graph dashboard draws as the Keras model. */
ct_status ct__summary_keras_model(ct_summary_writer *w, const char *tag, const char *json,
                                  int64_t step);

#endif
