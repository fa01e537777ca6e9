/*
 * ctrain summary: TensorBoard event files, as tf.summary writes them.
 *
 *     ct_summary_writer *train = ct_summary_create_file_writer("logs/train", NULL);
 *     if (!train) fprintf(stderr, "%s\n", ct_last_error());
 *     for (int64_t step = 0; step < steps; step++) {
 *         ...
 *         ct_summary_scalar(train, "batch_loss", loss, step);
 *     }
 *     ct_summary_histogram(train, "dense/kernel_0/histogram", kernel, epoch, 0);
 *     ct_summary_image(train, "samples", images, step, 3);   // [k,h,w,c]
 *     ct_summary_text(train, "notes", "**lr** = 0.01", 0);
 *     if (ct_summary_writer_close(train) != CT_OK) ...;   // flush, fsync, close
 *     ct_summary_writer_free(train);
 *
 * Files. A writer creates its log directory with its parents (as
 * tf.summary.create_file_writer does) and one new file in it,
 * events.out.tfevents.<T>.<host>.<pid>.<n><suffix>: T the creation time in
 * whole seconds (%010lld), host the host name ('/' replaced by '_'), pid
 * the process id, n a per-process counter of writers from 0, suffix ".v2"
 * unless opts say otherwise. The file is TFRecord-framed Event protos
 * (../shared/specs/tfevents.md); its first record is the file_version
 * event "brain.Event:2", flushed at once. TensorBoard treats every
 * directory holding event files as a run: the Keras TensorBoard callback
 * uses one writer on <log_dir>/train and one on <log_dir>/validation, and
 * the same tag (epoch_loss) in both. Under several ranks only rank 0
 * should write into a shared log directory.
 *
 * Encodings: TF 2's, those of tf.summary.scalar / histogram / image / text.
 * Scalars are a rank-0 DT_FLOAT tensor with plugin "scalars" (the value is
 * rounded to float32, as TF does); histograms a [k,3] DT_DOUBLE tensor of
 * rows [left_edge, right_edge, count] with plugin "histograms" (what
 * TensorBoard 2 reads natively; the legacy HistogramProto is only
 * converted to it on load); images a [2 + k] DT_STRING tensor with
 * plugin "images"; text a rank-0 DT_STRING tensor with plugin "text".
 * Every value carries its metadata, as TF 2 writes it.
 *
 * Buffering. Events are queued in memory and written when more than
 * max_queue are pending, when flush_millis have passed since the last
 * flush (a background thread of the writer checks, so an idle writer's
 * events reach the disk too), on ct_summary_flush and at close. Writes are
 * checked: a failed write or flush is an error naming the file, returned
 * by the call that wrote (or, when the background thread failed, by the
 * next call on the writer); the writer then refuses further events.
 *
 * Threads. Every function may be called from any thread; a writer's
 * events are appended in the order the calls took its lock. Closing or
 * freeing a writer while another thread still uses it is the caller's
 * bug, as with any free.
 *
 * Errors. Functions return CT_OK or a status and set the thread's error
 * (ct_last_error()), which names the function, the file or tag, and what
 * was wrong. ct_summary_create_file_writer returns NULL on error.
 */
#ifndef CTRAIN_SUMMARY_H
#define CTRAIN_SUMMARY_H

#include <stdint.h>

#include "runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* tf.summary.create_file_writer's options; zero fields take TF's defaults. */
typedef struct ct_summary_writer_opts {
    int max_queue;           /* events kept before a write: 0 = 10 (TF's
                                default); negative = write every event at once */
    int64_t flush_millis;    /* longest time events wait: 0 = 120000 (TF's);
                                negative = only on queue overflow, flush, close */
    const char *filename_suffix; /* NULL = ".v2" (TF 2's); "" = none; a '.'
                                    is put in front when it has none; no '/' */
} ct_summary_writer_opts;

/* Number of histogram buckets that 0 selects (tf.summary.histogram's). */
#define CT_SUMMARY_DEFAULT_BUCKETS 30

typedef struct ct_summary_writer ct_summary_writer;

/* A writer of a new event file in logdir (created with its parents when
 * missing). opts may be NULL. NULL with an error when logdir is NULL or
 * empty, cannot be created or is not a directory, the suffix holds a '/',
 * or the file cannot be created or its first record written. Free with
 * ct_summary_writer_free. */
ct_summary_writer *ct_summary_create_file_writer(const char *logdir,
                                                 const ct_summary_writer_opts *opts);

/* The log directory as given, and the event file's path (borrowed: valid
 * until the writer is freed). NULL for a NULL writer. */
const char *ct_summary_writer_logdir(const ct_summary_writer *w);
const char *ct_summary_writer_path(const ct_summary_writer *w);

/* tf.summary.scalar: value (rounded to float32; NaN and infinities are
 * written as they are, as TF does) at step. Tags must be non-empty and
 * hold no control characters (< 0x20 or 0x7f); '/' groups tags in
 * TensorBoard. */
ct_status ct_summary_scalar(ct_summary_writer *w, const char *tag, double value, int64_t step);

/* tf.summary.histogram: the elements of values (any dtype, any shape, any
 * device; read as float64) in `buckets` buckets of equal width between
 * their min and max (0: CT_SUMMARY_DEFAULT_BUCKETS; negative is an error).
 * As TensorBoard's summary_v2: no elements give an all-zero [k,3];
 * all-equal elements give k buckets [v, v] with every count in the first.
 * A NaN or infinite element is an error naming the tag and the element,
 * and nothing is written: TF 1's histogram op fails the same way ("Nan in
 * summary histogram"), while TF 2's silently writes NaN bucket edges that
 * TensorBoard cannot draw. */
ct_status ct_summary_histogram(ct_summary_writer *w, const char *tag, const ct_tensor *values,
                               int64_t step, int buckets);

/* tf.summary.image: the first max_outputs (0: 3, TF's default) images of
 * a [k, height, width, channels] tensor, channels 1 (gray), 2 (gray and
 * alpha), 3 (RGB) or 4 (RGBA), as PNG files at step. uint8 samples are
 * written as they are; floats (any float dtype) are taken as [0, 1] and
 * converted as tf.image.convert_image_dtype(..., saturate=True) does:
 * x * 255.5, clipped to [0, 255], truncated, NaN as 0. Other dtypes, other
 * ranks and empty images (k > 0 with no pixels) are errors naming the tag
 * and what was given. TF 2's encoding: a DT_STRING [2 + k] tensor of the
 * width and height in decimal, then the PNGs; plugin "images". */
ct_status ct_summary_image(ct_summary_writer *w, const char *tag, const ct_tensor *images,
                           int64_t step, int max_outputs);

/* tf.summary.text: a UTF-8 Markdown string (may be empty) at step. */
ct_status ct_summary_text(ct_summary_writer *w, const char *tag, const char *text, int64_t step);

/* Writes the queued events and flushes them to the file (no fsync). */
ct_status ct_summary_flush(ct_summary_writer *w);

/* Writes what is queued, fsyncs and closes the file; the status of the
 * writes (an earlier failed write is reported again). Later events are
 * errors; closing twice is harmless. The writer must still be freed. */
ct_status ct_summary_writer_close(ct_summary_writer *w);

/* Closes the writer when it is open (an error from that close is lost:
 * call ct_summary_writer_close first to see it) and frees it. NULL is
 * ignored. */
void ct_summary_writer_free(ct_summary_writer *w);

#ifdef __cplusplus
}
#endif

#endif
