/*
 * mobile/qr.c: QR codes for pairing. Every drawing (PNG, JPEG, SVG, the
 * terminal text with and without colour codes) must scan back through
 * zbar to exactly the bytes encoded, and every bad image must fail with
 * its own code and a message that names the file.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jpeglib.h>
#include <png.h>
#include <qrencode.h>

#include "sp_qr.h"

/* 300 characters with every character a URI may need escaped or not. */
static const char uri[] =
    "signpost:pair?v=1&zone=alice.example&name=Alice%27s%20phone%2Bkey&gw=["
    "2001:db8::53]:51820&relay=[2001:db8:0:1::7]:443/relay/v1&pk=q3Zk+V9/x0"
    "T8wLr1+Hf2/3bQe6mJk0aP+yLzR4cN/2E=&psk=Yx/8+Jq2=&token=7e5f%3A9c1d%5B0"
    "%5D&exp=1763862372&sig=kL:mN[oP]qR&sT=AbCd+eF/gH=iJ%4BkL:mN[oP]qR&sT=A"
    "bCd+eF/gH=iJ%4BkL:mN";

static const char wgconf[] =
    "[Interface]\n"
    "PrivateKey = yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=\n"
    "Address = 10.77.0.2/32, fd77::2/128\n"
    "DNS = 10.77.0.1\n"
    "\n"
    "[Peer]\n"
    "PublicKey = xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=\n"
    "PresharedKey = /UwcSPg38hW/D9Y3tcS1FOV0K1wuURMbS0sesJEP5ak=\n"
    "AllowedIPs = 0.0.0.0/0, ::/0\n"
    "Endpoint = [2001:db8::53]:51820\n"
    "PersistentKeepalive = 25\n";

struct fixture {
	char dir[64];
	char path[128];         /* scratch for fpath() */
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	strcpy(f->dir, "/tmp/sp-qr-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static const char *
fpath(struct fixture *f, const char *name)
{
	snprintf(f->path, sizeof(f->path), "%s/%s", f->dir, name);
	return f->path;
}

static void
write_bytes(const char *path, const void *p, size_t n)
{
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	assert_int_equal(fwrite(p, 1, n, fp), n);
	assert_int_equal(fclose(fp), 0);
}

/* The symbol and its quiet zone, scale pixels per module, as sp_qr_png draws it. */
static uint8_t *
raster(const sp_qr *q, unsigned scale, unsigned *side)
{
	unsigned n = (unsigned)(sp_qr_width(q) + 2 * SP_QR_QUIET) * scale;
	uint8_t *px = malloc((size_t)n * n);

	assert_non_null(px);
	for (unsigned y = 0; y < n; y++)
		for (unsigned x = 0; x < n; x++)
			px[y * n + x] = sp_qr_dark(q, (int)(x / scale) - SP_QR_QUIET,
			    (int)(y / scale) - SP_QR_QUIET) ? 0 : 255;
	*side = n;
	return px;
}

static void
expect_decode(const uint8_t *px, unsigned w, unsigned h, const char *want)
{
	sp_errmsg e = { "" };
	char *text;
	size_t len;

	assert_int_equal(sp_qr_decode_gray(px, w, h, &text, &len, &e), SP_OK);
	assert_string_equal(text, want);
	assert_int_equal(len, strlen(want));
	free(text);
}

static void
expect_file(const char *path, const char *want)
{
	sp_errmsg e = { "" };
	char *text;
	size_t len;

	assert_int_equal(sp_qr_decode_file(path, &text, &len, &e), SP_OK);
	assert_string_equal(text, want);
	assert_int_equal(len, strlen(want));
	free(text);
}

static void
expect_fail(const char *path, int code, const char *words)
{
	sp_errmsg e = { "" };
	char *text = (char *)"unset";

	assert_int_equal(sp_qr_decode_file(path, &text, NULL, &e), code);
	assert_null(text);
	assert_non_null(strstr(e.msg, path));
	if (strstr(e.msg, words) == NULL)
		fail_msg("\"%s\" does not say \"%s\"", e.msg, words);
}

static size_t
count(const char *s, const char *needle)
{
	size_t n = 0;

	for (const char *p = s; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

/*
 * Read terminal QR text back into pixels, scale per module: escape
 * sequences are skipped, and a glyph half (U+2588 both, U+2580 top,
 * U+2584 bottom) is a light module, anything else dark.
 */
static uint8_t *
text_to_gray(const char *s, unsigned scale, unsigned *w, unsigned *h)
{
	size_t n = strlen(s), ncells = 0, cols = 0, lines = 0, x = 0;
	uint8_t *cells = malloc(n), *px;

	assert_non_null(cells);
	for (size_t i = 0; i < n; ) {
		const unsigned char *p = (const unsigned char *)s + i;

		if (p[0] == '\033') {
			assert_int_equal(p[1], '[');
			for (i += 2; s[i] != 'm'; i++)
				assert_true(s[i] == ';' || (s[i] >= '0' && s[i] <= '9'));
			i++;
		} else if (p[0] == '\n') {
			if (lines++ == 0)
				cols = x;
			assert_int_equal(x, cols);
			x = 0;
			i++;
		} else if (p[0] == ' ') {
			cells[ncells++] = 0;
			x++;
			i++;
		} else {
			assert_true(p[0] == 0xe2 && p[1] == 0x96);
			assert_true(p[2] == 0x88 || p[2] == 0x80 || p[2] == 0x84);
			cells[ncells++] = p[2] == 0x88 ? 3 : p[2] == 0x80 ? 2 : 1;
			x++;
			i += 3;
		}
	}
	assert_int_equal(x, 0);
	*w = (unsigned)cols * scale;
	*h = (unsigned)lines * 2 * scale;
	px = malloc((size_t)*w * *h);
	assert_non_null(px);
	for (unsigned y = 0; y < *h; y++) {
		for (unsigned xx = 0; xx < *w; xx++) {
			unsigned row = y / scale, c = cells[row / 2 * cols + xx / scale];

			px[y * *w + xx] = (c & (row % 2 ? 1 : 2)) ? 255 : 0;
		}
	}
	free(cells);
	return px;
}

/*
 * Rasterise sp_qr_svg's output: a white square of viewBox units, then each
 * subpath of the one path (M x y, relative h and v, z) filled as the
 * rectangle its corners span.
 */
static uint8_t *
svg_to_gray(const char *svg, unsigned scale, unsigned *side)
{
	const char *p = strstr(svg, "viewBox=\"0 0 "), *d = strstr(svg, " d=\"");
	long n, cx = 0, cy = 0, x0 = 0, y0 = 0, x1 = 0, y1 = 0;
	uint8_t *px;
	char *end;

	assert_non_null(p);
	assert_non_null(d);
	n = strtol(p + strlen("viewBox=\"0 0 "), &end, 10);
	assert_true(n > 21 && *end == ' ');
	assert_int_equal(strtol(end, &end, 10), n);
	*side = (unsigned)n * scale;
	px = malloc((size_t)*side * *side);
	assert_non_null(px);
	memset(px, 255, (size_t)*side * *side);
	for (p = d + 4; *p != '"'; ) {
		char op = *p++;

		switch (op) {
		case 'M':
			cx = x0 = x1 = strtol(p, &end, 10);
			cy = y0 = y1 = strtol(end, &end, 10);
			break;
		case 'h':
			cx += strtol(p, &end, 10);
			break;
		case 'v':
			cy += strtol(p, &end, 10);
			break;
		case 'z':
			for (long y = y0 * scale; y < y1 * (long)scale; y++)
				for (long x = x0 * scale; x < x1 * (long)scale; x++)
					px[y * (long)*side + x] = 0;
			end = (char *)p;
			break;
		default:
			fail_msg("unexpected path command '%c'", op);
		}
		p = end;
		x0 = cx < x0 ? cx : x0;
		y0 = cy < y0 ? cy : y0;
		x1 = cx > x1 ? cx : x1;
		y1 = cy > y1 ? cy : y1;
		assert_true(x0 >= 0 && y0 >= 0 && x1 <= n && y1 <= n);
	}
	return px;
}

static void
round_trip_png(struct fixture *f, const char *text)
{
	sp_errmsg e = { "" };
	struct stat st;
	struct dirent *de;
	sp_qr *q;
	DIR *dir;

	assert_int_equal(sp_qr_encode(text, &q, &e), SP_OK);
	assert_int_equal(sp_qr_png(q, 4, fpath(f, "qr.png"), &e), SP_OK);
	assert_int_equal(stat(f->path, &st), 0);
	/* A code's image holds its secret: its owner's only. */
	assert_int_equal(st.st_mode & 07777, 0600);
	expect_file(f->path, text);
	/* The temporary file was renamed, not left behind. */
	assert_non_null(dir = opendir(f->dir));
	while ((de = readdir(dir)) != NULL)
		assert_null(strstr(de->d_name, ".tmp-"));
	closedir(dir);
	sp_qr_free(q);
}

static void
test_png_round_trip_uri(void **state)
{
	assert_int_equal(strlen(uri), 300);
	round_trip_png(*state, uri);
}

static void
test_png_round_trip_wg_config(void **state)
{
	round_trip_png(*state, wgconf);
}

/* Bytes that are not ASCII come back as they went in, not re-encoded. */
static void
test_png_round_trip_8bit(void **state)
{
	round_trip_png(*state, "caf\xe9 \x82\xa0 \xff\xfe\x80 \xe2\x96\x88");
}

/* A second encode overwrites the first file whole. */
static void
test_png_overwrites(void **state)
{
	round_trip_png(*state, "signpost:first");
	round_trip_png(*state, wgconf);
}

/* libqrencode's byte-mode capacity at level M: 287 bytes in version 12,
 * 331 in version 13. The smallest version that fits must be chosen. */
static void
test_encode_level_m_smallest_version(void **state)
{
	char text[289];
	sp_qr *q;

	(void)state;
	memset(text, 'a', sizeof(text) - 1);
	text[287] = '\0';
	assert_int_equal(sp_qr_encode(text, &q, NULL), SP_OK);
	assert_int_equal(sp_qr_width(q), 17 + 4 * 12);
	sp_qr_free(q);
	text[287] = 'a';
	text[288] = '\0';
	assert_int_equal(sp_qr_encode(text, &q, NULL), SP_OK);
	assert_int_equal(sp_qr_width(q), 17 + 4 * 13);
	assert_int_equal(sp_qr_dark(q, 0, 0), 1);
	assert_int_equal(sp_qr_dark(q, -1, 0), 0);
	assert_int_equal(sp_qr_dark(q, 0, 69), 0);
	sp_qr_free(q);
}

static void
test_encode_errors(void **state)
{
	sp_errmsg e = { "" };
	char *big = malloc(3001);
	sp_qr *q = (sp_qr *)big;        /* anything but NULL, to see it cleared */

	(void)state;
	assert_non_null(big);
	assert_int_equal(sp_qr_encode(NULL, &q, &e), SP_EINVAL);
	assert_null(q);
	assert_int_equal(sp_qr_encode("", &q, &e), SP_EINVAL);
	memset(big, 'x', 3000);
	big[3000] = '\0';
	assert_int_equal(sp_qr_encode(big, &q, &e), SP_EINVAL);
	assert_null(q);
	assert_non_null(strstr(e.msg, "3000 bytes"));
	sp_qr_free(NULL);
	free(big);
}

static void
check_text(const char *want, int ansi)
{
	unsigned w, h;
	uint8_t *px;
	size_t len;
	char *s;
	sp_qr *q;
	int side;

	assert_int_equal(sp_qr_encode(want, &q, NULL), SP_OK);
	side = sp_qr_width(q) + 8;
	assert_int_equal(sp_qr_text(q, ansi, &s, &len), SP_OK);
	assert_int_equal(strlen(s), len);
	assert_int_equal(count(s, "\n"), (size_t)(side + 1) / 2);
	if (ansi) {
		assert_int_equal(count(s, "\033[40;97m"), (size_t)(side + 1) / 2);
		assert_int_equal(count(s, "\033[0m\n"), (size_t)(side + 1) / 2);
		assert_memory_equal(s, "\033[40;97m", 8);
	} else {
		assert_null(strchr(s, '\033'));
	}
	px = text_to_gray(s, 4, &w, &h);
	assert_int_equal(w, 4 * (unsigned)side);
	assert_int_equal(h, 4 * (unsigned)(side + 1));
	/* The top-left corner is quiet zone (light, a full block) and the
	 * finder pattern starts dark four modules in. */
	assert_int_equal(px[0], 255);
	assert_int_equal(px[16 * w + 16], 0);
	expect_decode(px, w, h, want);
	free(px);
	free(s);
	sp_qr_free(q);
}

static void
test_text_ansi(void **state)
{
	(void)state;
	check_text(uri, 1);
	check_text(wgconf, 1);
}

static void
test_text_plain(void **state)
{
	(void)state;
	check_text(uri, 0);
	check_text(wgconf, 0);
}

static void
test_svg(void **state)
{
	unsigned side;
	uint8_t *px;
	char *svg, want[64];
	size_t len;
	sp_qr *q;
	int n;

	(void)state;
	assert_int_equal(sp_qr_encode(uri, &q, NULL), SP_OK);
	n = sp_qr_width(q) + 8;
	assert_int_equal(sp_qr_svg(q, &svg, &len), SP_OK);
	assert_int_equal(strlen(svg), len);
	assert_int_equal(count(svg, "<path"), 1);
	assert_int_equal(count(svg, "<rect"), 1);
	assert_non_null(strstr(svg, "shape-rendering=\"crispEdges\""));
	snprintf(want, sizeof(want), "viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\"",
	    n, n, 8 * n, 8 * n);
	assert_non_null(strstr(svg, want));
	/* Runs are merged: no two subpaths start next to each other in a row. */
	assert_true(count(svg, "M") < (size_t)(n * n) / 4);
	px = svg_to_gray(svg, 4, &side);
	assert_int_equal(side, 4 * (unsigned)n);
	expect_decode(px, side, side, uri);
	free(px);
	free(svg);
	sp_qr_free(q);
}

static void
write_jpeg(const char *path, const uint8_t *px, unsigned w, unsigned h)
{
	struct jpeg_compress_struct c;
	struct jpeg_error_mgr err;
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	c.err = jpeg_std_error(&err);
	jpeg_create_compress(&c);
	jpeg_stdio_dest(&c, fp);
	c.image_width = w;
	c.image_height = h;
	c.input_components = 1;
	c.in_color_space = JCS_GRAYSCALE;
	jpeg_set_defaults(&c);
	jpeg_set_quality(&c, 90, TRUE);
	jpeg_start_compress(&c, TRUE);
	while (c.next_scanline < h) {
		JSAMPROW row = (JSAMPROW)(uintptr_t)(px + (size_t)c.next_scanline * w);

		(void)jpeg_write_scanlines(&c, &row, 1);
	}
	jpeg_finish_compress(&c);
	jpeg_destroy_compress(&c);
	assert_int_equal(fclose(fp), 0);
}

static void
test_jpeg(void **state)
{
	struct fixture *f = *state;
	unsigned side;
	uint8_t *px;
	sp_qr *q;

	assert_int_equal(sp_qr_encode(uri, &q, NULL), SP_OK);
	px = raster(q, 4, &side);
	/* The name says PNG; the magic bytes say JPEG, and they decide. */
	write_jpeg(fpath(f, "photo.png"), px, side, side);
	expect_file(f->path, uri);
	free(px);
	sp_qr_free(q);
}

/*
 * An RGBA, Adam7-interlaced PNG whose light modules are transparent black:
 * only compositing on white makes it scan.
 */
static void
test_png_rgba_transparent_interlaced(void **state)
{
	struct fixture *f = *state;
	png_structp png;
	png_infop info;
	unsigned side;
	uint8_t *px, *rgba;
	png_bytep *rows;
	FILE *fp;
	sp_qr *q;

	assert_int_equal(sp_qr_encode(wgconf, &q, NULL), SP_OK);
	px = raster(q, 3, &side);
	rgba = calloc((size_t)side * side, 4);
	rows = calloc(side, sizeof(*rows));
	assert_true(rgba != NULL && rows != NULL);
	for (size_t i = 0; i < (size_t)side * side; i++)
		rgba[4 * i + 3] = px[i] == 0 ? 255 : 0;
	for (unsigned y = 0; y < side; y++)
		rows[y] = rgba + (size_t)y * side * 4;
	assert_non_null(fp = fopen(fpath(f, "rgba.png"), "wb"));
	png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	info = png_create_info_struct(png);
	assert_true(png != NULL && info != NULL);
	png_init_io(png, fp);
	png_set_IHDR(png, info, side, side, 8, PNG_COLOR_TYPE_RGBA, PNG_INTERLACE_ADAM7,
	    PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_write_info(png, info);
	png_write_image(png, rows);
	png_write_end(png, NULL);
	png_destroy_write_struct(&png, &info);
	assert_int_equal(fclose(fp), 0);
	expect_file(f->path, wgconf);
	free(rows);
	free(rgba);
	free(px);
	sp_qr_free(q);
}

static void
test_missing_and_not_an_image(void **state)
{
	struct fixture *f = *state;

	expect_fail(fpath(f, "missing.png"), SP_ENOENT, "cannot open");
	write_bytes(fpath(f, "notes.png"), "just some text\n", 15);
	expect_fail(f->path, SP_EINVAL, "not a PNG or JPEG image");
	write_bytes(fpath(f, "empty.png"), "", 0);
	expect_fail(f->path, SP_EINVAL, "not a PNG or JPEG image");
	expect_fail(f->dir, SP_EINVAL, "not a PNG or JPEG image");
}

static void
test_damaged(void **state)
{
	struct fixture *f = *state;
	static const char junk[] = "\xff\xd8\xff\xe0 this is no JPEG at all";
	uint8_t head[100];
	FILE *fp;
	sp_qr *q;

	assert_int_equal(sp_qr_encode(uri, &q, NULL), SP_OK);
	assert_int_equal(sp_qr_png(q, 4, fpath(f, "whole.png"), NULL), SP_OK);
	assert_non_null(fp = fopen(f->path, "rb"));
	assert_int_equal(fread(head, 1, sizeof(head), fp), sizeof(head));
	fclose(fp);
	write_bytes(fpath(f, "cut.png"), head, sizeof(head));
	expect_fail(f->path, SP_ECORRUPT, "damaged image");
	/* libjpeg's own words, and the process is still here to check them. */
	write_bytes(fpath(f, "junk.jpg"), junk, sizeof(junk) - 1);
	expect_fail(f->path, SP_ECORRUPT, "damaged image: ");
	sp_qr_free(q);
}

static void
test_noise_has_no_qr(void **state)
{
	struct fixture *f = *state;
	uint8_t *px = malloc(200 * 200);
	uint32_t s = 2463534242u;

	assert_non_null(px);
	for (size_t i = 0; i < 200 * 200; i++) {
		s ^= s << 13;
		s ^= s >> 17;
		s ^= s << 5;
		px[i] = (uint8_t)s;
	}
	assert_int_equal(sp_qr_png_gray(px, 200, 200, fpath(f, "noise.png"), NULL), SP_OK);
	expect_fail(f->path, SP_ENOENT, "no QR code found");
	free(px);
}

static void
test_two_codes(void **state)
{
	struct fixture *f = *state;
	unsigned sa, sb, w, h;
	uint8_t *a, *b, *px;
	sp_qr *qa, *qb;

	assert_int_equal(sp_qr_encode("signpost:one", &qa, NULL), SP_OK);
	assert_int_equal(sp_qr_encode("signpost:two", &qb, NULL), SP_OK);
	a = raster(qa, 4, &sa);
	b = raster(qb, 4, &sb);
	w = sa + sb;
	h = sa > sb ? sa : sb;
	assert_non_null(px = malloc((size_t)w * h));
	memset(px, 255, (size_t)w * h);
	for (unsigned y = 0; y < sa; y++)
		memcpy(px + (size_t)y * w, a + (size_t)y * sa, sa);
	for (unsigned y = 0; y < sb; y++)
		memcpy(px + (size_t)y * w + sa, b + (size_t)y * sb, sb);
	assert_int_equal(sp_qr_png_gray(px, w, h, fpath(f, "two.png"), NULL), SP_OK);
	expect_fail(f->path, SP_EINVAL, "more than one QR code");
	/* Either half alone is fine. */
	expect_decode(a, sa, sa, "signpost:one");
	free(px);
	free(a);
	free(b);
	sp_qr_free(qa);
	sp_qr_free(qb);
}

static void
test_too_large(void **state)
{
	struct fixture *f = *state;
	uint8_t *px = malloc(9000 * 10);
	sp_errmsg e = { "" };
	char *text;

	assert_non_null(px);
	memset(px, 255, 9000 * 10);
	assert_int_equal(sp_qr_png_gray(px, 9000, 10, fpath(f, "wide.png"), NULL), SP_OK);
	expect_fail(f->path, SP_EINVAL, "image too large (9000x10 pixels");
	write_jpeg(fpath(f, "wide.jpg"), px, 9000, 10);
	expect_fail(f->path, SP_EINVAL, "image too large (9000x10 pixels");
	assert_int_equal(sp_qr_decode_gray(px, 9000, 10, &text, NULL, &e), SP_EINVAL);
	assert_null(text);
	assert_non_null(strstr(e.msg, "too large"));
	assert_int_equal(sp_qr_decode_gray(NULL, 10, 10, &text, NULL, &e), SP_EINVAL);
	assert_int_equal(sp_qr_decode_gray(px, 0, 10, &text, NULL, &e), SP_EINVAL);
	free(px);
}

static void
test_png_bad_scale_and_directory(void **state)
{
	struct fixture *f = *state;
	sp_errmsg e = { "" };
	struct stat st;
	sp_qr *q;

	assert_int_equal(sp_qr_encode(uri, &q, NULL), SP_OK);
	assert_int_equal(sp_qr_png(q, 0, fpath(f, "s0.png"), &e), SP_EINVAL);
	assert_non_null(strstr(e.msg, f->path));
	assert_int_equal(stat(f->path, &st), -1);
	assert_int_equal(sp_qr_png(q, 33, f->path, &e), SP_EINVAL);
	assert_int_equal(sp_qr_png(q, 32, f->path, &e), SP_OK);
	assert_int_equal(sp_qr_png(q, 1, fpath(f, "no/such/dir.png"), &e), SP_ENOENT);
	assert_non_null(strstr(e.msg, f->path));
	sp_qr_free(q);
}

/* A QR code that holds a NUL byte would be cut short by a string reader. */
static void
test_nul_byte_refused(void **state)
{
	static const unsigned char data[] = "signpost:a\0b";
	sp_errmsg e = { "" };
	unsigned n, side;
	uint8_t *px;
	QRcode *c;
	char *text;

	(void)state;
	assert_non_null(c = QRcode_encodeData(12, data, 0, QR_ECLEVEL_M));
	n = (unsigned)c->width;
	side = (n + 8) * 4;
	assert_non_null(px = malloc((size_t)side * side));
	for (unsigned y = 0; y < side; y++) {
		for (unsigned x = 0; x < side; x++) {
			int mx = (int)(x / 4) - 4, my = (int)(y / 4) - 4;
			int dark = mx >= 0 && my >= 0 && mx < (int)n && my < (int)n &&
			    (c->data[my * (int)n + mx] & 1);

			px[y * side + x] = dark ? 0 : 255;
		}
	}
	assert_int_equal(sp_qr_decode_gray(px, side, side, &text, NULL, &e), SP_EINVAL);
	assert_null(text);
	assert_non_null(strstr(e.msg, "NUL"));
	free(px);
	QRcode_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_png_round_trip_uri),
		cmocka_unit_test(test_png_round_trip_wg_config),
		cmocka_unit_test(test_png_round_trip_8bit),
		cmocka_unit_test(test_png_overwrites),
		cmocka_unit_test(test_encode_level_m_smallest_version),
		cmocka_unit_test(test_encode_errors),
		cmocka_unit_test(test_text_ansi),
		cmocka_unit_test(test_text_plain),
		cmocka_unit_test(test_svg),
		cmocka_unit_test(test_jpeg),
		cmocka_unit_test(test_png_rgba_transparent_interlaced),
		cmocka_unit_test(test_missing_and_not_an_image),
		cmocka_unit_test(test_damaged),
		cmocka_unit_test(test_noise_has_no_qr),
		cmocka_unit_test(test_two_codes),
		cmocka_unit_test(test_too_large),
		cmocka_unit_test(test_png_bad_scale_and_directory),
		cmocka_unit_test(test_nul_byte_refused),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
