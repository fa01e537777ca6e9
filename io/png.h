/*
 * A PNG encoder for image summaries (io/events.c): 8-bit grayscale, gray
 * with alpha, RGB or RGBA, no interlacing, the rows deflated with zlib.
 * What tf.image.encode_png makes of a uint8 image, byte for byte aside
 * (PNG lets an encoder choose its filters and compression).
 */
#ifndef CT_IO_PNG_H
#define CT_IO_PNG_H

#include <stddef.h>
#include <stdint.h>

/* The PNG file of a height x width image of `channels` (1 to 4) uint8
 * samples per pixel, row-major, channels last. malloc'ed (free it); its
 * length in *len. NULL with an error naming api on bad dimensions or when
 * out of memory. */
uint8_t *ct__png_encode(const char *api, const uint8_t *pixels, int64_t height, int64_t width,
                        int channels, size_t *len);

#endif
