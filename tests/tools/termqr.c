/*
 * termqr: turn a QR code drawn for a terminal back into an image, so the
 * system tests can check what `signpost` prints with a real scanner.
 *
 *   termqr IN.txt OUT.png
 *
 * IN.txt is the text sp_qr_text makes, with or without its ANSI colour
 * codes (which are skipped). Each cell is two modules, top and bottom; the
 * glyphs draw the light modules (U+2588 both, U+2580 top, U+2584 bottom,
 * space neither), so glyph halves become white and the rest black, at
 * 4 pixels per module. Then: zbarimg --raw -q OUT.png. Exit 0 on success.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sp_qr.h"

#define SCALE 4
#define MAX_IN (1u << 20)

/*
 * The light halves of the cell at s (bit 1 top, bit 0 bottom) and its
 * length in bytes, or -1 for anything that is not one of the four glyphs.
 */
static int
cell(const unsigned char *s, size_t left, size_t *used)
{
	*used = 1;
	if (s[0] == ' ')
		return 0;
	if (left < 3 || s[0] != 0xe2 || s[1] != 0x96)
		return -1;
	*used = 3;
	switch (s[2]) {
	case 0x88: return 3;
	case 0x80: return 2;
	case 0x84: return 1;
	}
	return -1;
}

/* Skip an escape sequence ESC [ parameters final-byte; 0 if malformed. */
static size_t
escape(const unsigned char *s, size_t left)
{
	size_t i = 2;

	if (left < 2 || s[1] != '[')
		return 0;
	while (i < left && s[i] >= 0x20 && s[i] <= 0x3f)
		i++;
	return i < left && s[i] >= 0x40 && s[i] <= 0x7e ? i + 1 : 0;
}

/*
 * Draw the text in (n bytes, from file name) at SCALE pixels per module;
 * returns a new buffer of *w x *h pixels, or NULL after saying why.
 */
static uint8_t *
draw(const char *name, const unsigned char *in, size_t n, size_t *w, size_t *h)
{
	uint8_t *px = NULL;
	size_t cols = 0, rows = 0, used;

	/* Two passes: the first measures and checks, the second draws. */
	for (int pass = 0; pass < 2; pass++) {
		size_t x = 0, y = 0;

		for (size_t i = 0; i < n; i += used) {
			int light;

			if (in[i] == '\033') {
				if ((used = escape(in + i, n - i)) == 0) {
					fprintf(stderr, "%s: bad escape sequence at byte %zu\n", name, i);
					goto fail;
				}
				continue;
			}
			if (in[i] == '\n') {
				used = 1;
				if (y > 0 && x != cols) {
					fprintf(stderr, "%s: line %zu has %zu cells, not %zu\n",
					    name, y + 1, x, cols);
					goto fail;
				}
				cols = x;
				y++;
				x = 0;
				continue;
			}
			if ((light = cell(in + i, n - i, &used)) < 0) {
				fprintf(stderr, "%s: not a QR glyph at byte %zu\n", name, i);
				goto fail;
			}
			for (size_t dy = 0; pass == 1 && dy < 2 * SCALE; dy++) {
				int on = dy < SCALE ? light & 2 : light & 1;

				memset(px + (y * 2 * SCALE + dy) * cols * SCALE + x * SCALE,
				    on ? 255 : 0, SCALE);
			}
			x++;
		}
		if (pass == 0) {
			if (x != 0 || y == 0 || cols == 0) {
				fprintf(stderr, "%s: no QR code, or no newline at the end\n", name);
				return NULL;
			}
			rows = y;
			if ((px = malloc(cols * SCALE * rows * 2 * SCALE)) == NULL) {
				fprintf(stderr, "termqr: out of memory\n");
				return NULL;
			}
		}
	}
	*w = cols * SCALE;
	*h = rows * 2 * SCALE;
	return px;
fail:
	free(px);
	return NULL;
}

int
main(int argc, char **argv)
{
	unsigned char *in;
	uint8_t *px;
	size_t n, w, h;
	sp_errmsg e;
	FILE *fp;
	int rc;

	if (argc != 3) {
		fprintf(stderr, "usage: termqr IN.txt OUT.png\n");
		return 2;
	}
	if ((fp = fopen(argv[1], "rb")) == NULL) {
		perror(argv[1]);
		return 1;
	}
	if ((in = malloc(MAX_IN)) == NULL) {
		fprintf(stderr, "termqr: out of memory\n");
		fclose(fp);
		return 1;
	}
	n = fread(in, 1, MAX_IN, fp);
	fclose(fp);
	if (n == MAX_IN) {
		fprintf(stderr, "%s: too large\n", argv[1]);
		free(in);
		return 1;
	}
	px = draw(argv[1], in, n, &w, &h);
	free(in);
	if (px == NULL)
		return 1;
	if ((rc = sp_qr_png_gray(px, (unsigned)w, (unsigned)h, argv[2], &e)) != SP_OK)
		fprintf(stderr, "termqr: %s\n", e.msg);
	free(px);
	return rc == SP_OK ? 0 : 1;
}
