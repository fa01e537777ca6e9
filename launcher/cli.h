/*
 * The ctrain command line's shared helpers: its error message, file
 * reading and paths.
 *
 * The launcher keeps its own last error (one line of text) because the
 * library's error setter is private; messages from the library are
 * copied into it with the place in the job file they belong to. The
 * launcher is single-threaded (the library's worker threads never call
 * these), so one static buffer serves.
 */
#ifndef CT_LAUNCHER_CLI_H
#define CT_LAUNCHER_CLI_H

#include <stdbool.h>
#include <stddef.h>

/* Sets the launcher's error (printf-style); always returns -1 so a
 * caller can `return cli_fail(...)`. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The launcher's last error ("" when none). */
const char *cli_error(void);
void cli_clear_error(void);

/* The whole file as a NUL-terminated malloc'ed string (*len bytes, len may
 * be NULL); NULL with an error naming the path and the system's reason. */
char *cli_read_file(const char *path, size_t *len);
/* rel taken relative to dir (absolute rel, or dir NULL / "": rel itself),
 * malloc'ed. */
char *cli_path_join(const char *dir, const char *rel);
/* The directory part of path ("." when it has none), malloc'ed. */
char *cli_dirname(const char *path);
/* strdup that returns NULL for NULL. */
char *cli_strdup(const char *s);

#endif
