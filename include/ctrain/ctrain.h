/*
 * ctrain: distributed deep-learning training in C with the semantics of
 * TensorFlow 2 and Keras. This header includes the whole public API:
 *
 *   runtime.h  tensors, dtypes, devices, scopes, variables, errors,
 *              random seeds, the gradient tape
 *   ops.h      the low-level TensorFlow ops (tf.*, tf.math, tf.linalg)
 *   data.h     tf.data input pipelines, file formats read as data
 *   nn.h       Keras: building blocks, models, compile / fit / evaluate
 *   distribute.h  the process group and the collectives (MPI)
 *   strategy.h tf.distribute strategies (the mirrored strategy)
 */
#ifndef CTRAIN_CTRAIN_H
#define CTRAIN_CTRAIN_H

#include "ctrain/checkpoint.h"
#include "ctrain/data.h"
#include "ctrain/distribute.h"
#include "ctrain/nn.h"
#include "ctrain/ops.h"
#include "ctrain/runtime.h"
#include "ctrain/strategy.h"
#include "ctrain/summary.h"

#endif
