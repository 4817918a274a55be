/*
 * QR codes for pairing: a signpost: URI or a wg-quick config is encoded
 * once (libqrencode, byte mode, error correction level M, the smallest
 * version that fits) and then drawn for a terminal, as SVG or as PNG.
 * Reading goes the other way: a PNG or JPEG file, or a grayscale buffer,
 * through libzbar, which must find exactly one QR code.
 *
 * Every drawing has a quiet zone of 4 light modules on every side, as the
 * QR standard asks; scanners need it to find the symbol.
 *
 * Errors are SP_E* codes; functions that take an sp_errmsg * fill it on
 * failure with a message that names the file, if there is one.
 */
#ifndef SP_QR_H
#define SP_QR_H

#include <stddef.h>
#include <stdint.h>

#include "sp_err.h"

/* Light modules around the symbol in every drawing. */
#define SP_QR_QUIET 4

/* Limits on what sp_qr_decode_file will read. */
#define SP_QR_MAX_PIXELS 8192            /* per side */
#define SP_QR_MAX_FILE (32u << 20)       /* bytes */

typedef struct sp_qr sp_qr;

/*
 * Encode the bytes of text (a NUL-terminated string) as a QR code. On
 * success *out is a new sp_qr that the caller frees with sp_qr_free. Fails
 * with SP_EINVAL for NULL or empty text or text too long for any QR
 * version, SP_ENOMEM when out of memory; *out is then NULL.
 */
int sp_qr_encode(const char *text, sp_qr **out, sp_errmsg *e);

/* Free q; NULL is allowed. */
void sp_qr_free(sp_qr *q);

/* The number of modules per side of the symbol, without the quiet zone. */
int sp_qr_width(const sp_qr *q);

/*
 * 1 if the module at column x, row y is dark, else 0. Coordinates outside
 * the symbol are light, so a caller can draw the quiet zone by asking for
 * x and y from -SP_QR_QUIET to width + SP_QR_QUIET - 1.
 */
int sp_qr_dark(const sp_qr *q, int x, int y);

/*
 * Render q for a terminal with UTF-8 half blocks, two module rows per
 * line: (width + 9) / 2 lines of width + 8 cells, each ending in "\n".
 * The glyphs draw the LIGHT modules, so that the code is the right way
 * round on dark and light terminals alike: with ansi set, each line starts
 * with an SGR sequence for bright white on black and ends with a reset.
 * With ansi clear there are no escape codes (for a text file); the light
 * modules are then still the printed glyphs, so the code appears the right
 * way round only where text is light on a dark background.
 * *out is a new NUL-terminated string that the caller frees; *len (if len
 * is not NULL) is its length. Fails with SP_EINVAL or SP_ENOMEM.
 */
int sp_qr_text(const sp_qr *q, int ansi, char **out, size_t *len);

/*
 * Render q as a standalone SVG document: a white square covering the
 * symbol and its quiet zone and the dark modules as one path, in module
 * units, 8 px per module. *out is a new NUL-terminated string that the
 * caller frees; *len (if len is not NULL) is its length. Fails with
 * SP_EINVAL or SP_ENOMEM.
 */
int sp_qr_svg(const sp_qr *q, char **out, size_t *len);

/*
 * Write q to path as an 8-bit grayscale PNG with scale pixels per module
 * (1 to 32, else SP_EINVAL), through a temporary file in the same
 * directory that is synced and renamed over path, so path holds either
 * its old contents or the whole new image. Mode 0644. Fails with
 * SP_EINVAL, SP_ENOMEM, SP_ENOENT or SP_EPERM (the directory), SP_EIO.
 */
int sp_qr_png(const sp_qr *q, int scale, const char *path, sp_errmsg *e);

/*
 * Write a w x h 8-bit grayscale buffer (row by row, one byte per pixel,
 * borrowed) to path as a PNG, the way sp_qr_png does. Same errors.
 */
int sp_qr_png_gray(const uint8_t *pixels, unsigned w, unsigned h, const char *path,
    sp_errmsg *e);

/*
 * Read the one QR code in the PNG or JPEG image at path; the format is
 * taken from the file's first bytes, not its name. On success *text is a
 * new NUL-terminated string that the caller frees, and *len (if len is not
 * NULL) its length. On failure *text is NULL and the code is:
 *   SP_ENOENT   the file does not exist, or no QR code was found in it
 *   SP_EPERM    the file may not be read
 *   SP_EIO      the file cannot be opened or read for another reason
 *   SP_EINVAL   not a PNG or JPEG image, image larger than SP_QR_MAX_PIXELS
 *               per side or file larger than SP_QR_MAX_FILE, more than one
 *               QR code, or a QR code that holds a NUL byte
 *   SP_ECORRUPT a damaged image (the message has libpng's or libjpeg's words)
 *   SP_ENOMEM   out of memory
 */
int sp_qr_decode_file(const char *path, char **text, size_t *len, sp_errmsg *e);

/*
 * The same for a w x h 8-bit grayscale buffer (borrowed), with the same
 * errors except the ones about files.
 */
int sp_qr_decode_gray(const uint8_t *pixels, unsigned w, unsigned h, char **text,
    size_t *len, sp_errmsg *e);

#endif
