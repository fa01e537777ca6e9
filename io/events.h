/*
 * The event encoders of io/events.c, for tests that compare them with the
 * golden records of ../shared/specs/tfevents.md. Not installed.
 */
#ifndef CT_IO_EVENTS_H
#define CT_IO_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "ctrain/runtime.h"

/* The serialized Event (no framing) of the file_version event at
 * wall_time, and of a TF 2 scalar. malloc'ed into *out (free it); NULL and
 * an error when out of memory. */
uint8_t *ct__event_encode_version(double wall_time, size_t *len);
uint8_t *ct__event_encode_scalar(const char *tag, double value, int64_t step, double wall_time,
                                 size_t *len);

#endif
