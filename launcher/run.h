/*
 * The ctrain commands over a loaded job: train, evaluate, predict, and
 * summary over a model or job file. Each returns the process's exit
 * status (0 success, 1 failure) and prints a failure's one-line reason
 * (cli_error()) itself, prefixed with "ctrain <command>: " unless it
 * already starts with a file position.
 */
#ifndef CT_LAUNCHER_RUN_H
#define CT_LAUNCHER_RUN_H

#include "launcher/job.h"

int run_train(job *j);
int run_evaluate(job *j);
int run_predict(job *j);
/* path: a Keras model JSON file (model.to_json(), TF.js model.json) or a
 * job file. */
int run_summary(const char *path);

#endif
