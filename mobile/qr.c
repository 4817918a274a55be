/*
 * QR codes for pairing: libqrencode encodes, libpng and libjpeg read and
 * write image files, libzbar decodes. See sp_qr.h.
 *
 * libpng and libjpeg report errors by calling a function that must not
 * return; ours longjmp back to a setjmp in the function that started the
 * work, which then frees what it made and returns an SP_E* code. Neither
 * library ever prints or exits on our behalf.
 */
#include "sp_qr.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>
#include <qrencode.h>
#include <zbar.h>

#include "sp_log.h"
#include "sp_wire.h"

struct sp_qr {
	int width;
	uint8_t dark[];         /* width * width modules, row by row, 1 = dark */
};

/* A decoded image: 8-bit gray, row by row. */
struct gray {
	uint8_t *px;
	unsigned w, h;
};

static int
errno_code(int err)
{
	if (err == ENOENT)
		return SP_ENOENT;
	if (err == EACCES || err == EPERM)
		return SP_EPERM;
	return SP_EIO;
}

int
sp_qr_encode(const char *text, sp_qr **out, sp_errmsg *e)
{
	QRcode *c;
	sp_qr *q;
	size_t n;

	*out = NULL;
	if (text == NULL || *text == '\0')
		return sp_errf(e, SP_EINVAL, "QR code: no text to encode");
	errno = 0;
	if ((c = QRcode_encodeString8bit(text, 0, QR_ECLEVEL_M)) == NULL) {
		if (errno == ENOMEM)
			return sp_errf(e, SP_ENOMEM, "QR code: out of memory");
		return sp_errf(e, SP_EINVAL, "QR code: %zu bytes of text do not fit in a QR code",
		    strlen(text));
	}
	n = (size_t)c->width * (size_t)c->width;
	if ((q = malloc(sizeof(*q) + n)) == NULL) {
		QRcode_free(c);
		return sp_errf(e, SP_ENOMEM, "QR code: out of memory");
	}
	q->width = c->width;
	/* libqrencode keeps other facts about a module in the upper bits. */
	for (size_t i = 0; i < n; i++)
		q->dark[i] = c->data[i] & 1;
	QRcode_free(c);
	*out = q;
	return SP_OK;
}

void
sp_qr_free(sp_qr *q)
{
	free(q);
}

int
sp_qr_width(const sp_qr *q)
{
	return q->width;
}

int
sp_qr_dark(const sp_qr *q, int x, int y)
{
	if (x < 0 || y < 0 || x >= q->width || y >= q->width)
		return 0;
	return q->dark[(size_t)y * (size_t)q->width + (size_t)x];
}

static void wire_printf(sp_wire *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
wire_printf(sp_wire *w, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		sp_wire_fail(w, SP_ESPACE);
	else
		sp_wire_put(w, tmp, (size_t)n);
}

/*
 * The renderers size their buffer from the symbol's width before writing;
 * running out of it would be a bug in that arithmetic.
 */
static int
finish(sp_wire *w, char *buf, char **out, size_t *len)
{
	if (sp_wire_err(w) != SP_OK)
		sp_fatal("QR renderer overran its buffer");
	buf[sp_wire_used(w)] = '\0';
	*out = buf;
	if (len != NULL)
		*len = sp_wire_used(w);
	return SP_OK;
}

#define SGR_ON  "\033[40;97m"
#define SGR_OFF "\033[0m"

int
sp_qr_text(const sp_qr *q, int ansi, char **out, size_t *len)
{
	/* Indexed by (top light) << 1 | (bottom light). */
	static const char *const glyph[4] = {
		" ", "\xe2\x96\x84", "\xe2\x96\x80", "\xe2\x96\x88",
	};
	int side, lines;
	size_t cap;
	char *buf;
	sp_wire w;

	*out = NULL;
	if (q == NULL)
		return SP_EINVAL;
	side = q->width + 2 * SP_QR_QUIET;
	lines = (side + 1) / 2;
	cap = (size_t)lines * (sizeof(SGR_ON) + 3 * (size_t)side + sizeof(SGR_OFF) + 1) + 1;
	if ((buf = malloc(cap)) == NULL)
		return SP_ENOMEM;
	w = sp_wire_writer(buf, cap - 1);
	for (int l = 0; l < lines; l++) {
		int y = 2 * l - SP_QR_QUIET;

		if (ansi)
			sp_wire_put_str(&w, SGR_ON);
		for (int x = -SP_QR_QUIET; x < q->width + SP_QR_QUIET; x++)
			sp_wire_put_str(&w, glyph[!sp_qr_dark(q, x, y) << 1 |
			    !sp_qr_dark(q, x, y + 1)]);
		if (ansi)
			sp_wire_put_str(&w, SGR_OFF);
		sp_wire_put_u8(&w, '\n');
	}
	return finish(&w, buf, out, len);
}

int
sp_qr_svg(const sp_qr *q, char **out, size_t *len)
{
	int side;
	size_t cap;
	char *buf;
	sp_wire w;

	*out = NULL;
	if (q == NULL)
		return SP_EINVAL;
	side = q->width + 2 * SP_QR_QUIET;
	/* A run is at most "M184 184h177v1h-177z"; a row has at most
	 * (width + 1) / 2 of them. */
	cap = 512 + (size_t)q->width * (size_t)(q->width + 1) / 2 * 24;
	if ((buf = malloc(cap)) == NULL)
		return SP_ENOMEM;
	w = sp_wire_writer(buf, cap - 1);
	wire_printf(&w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" "
	    "viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" shape-rendering=\"crispEdges\">\n",
	    side, side, 8 * side, 8 * side);
	wire_printf(&w, "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n<path fill=\"#000\" d=\"",
	    side, side);
	for (int y = 0; y < q->width; y++) {
		for (int x = 0; x < q->width; ) {
			int start = x;

			while (x < q->width && sp_qr_dark(q, x, y))
				x++;
			if (x > start)
				wire_printf(&w, "M%d %dh%dv1h-%dz", start + SP_QR_QUIET,
				    y + SP_QR_QUIET, x - start, x - start);
			else
				x++;
		}
	}
	sp_wire_put_str(&w, "\"/>\n</svg>\n");
	return finish(&w, buf, out, len);
}

struct catch_png {
	jmp_buf jb;
	char msg[200];
};

static void
on_png_error(png_structp png, png_const_charp msg)
{
	struct catch_png *f = png_get_error_ptr(png);

	snprintf(f->msg, sizeof(f->msg), "%s", msg);
	longjmp(f->jb, 1);
}

/* Warnings (an unknown chunk, an odd colour profile) do not stop us. */
static void
on_png_warning(png_structp png, png_const_charp msg)
{
	(void)png;
	(void)msg;
}

int
sp_qr_png_gray(const uint8_t *pixels, unsigned w, unsigned h, const char *path,
    sp_errmsg *e)
{
	struct catch_png fail;
	png_structp png = NULL;
	png_infop info = NULL;
	FILE *fp = NULL;
	char *tmp;
	int fd, rc, err;

	if (pixels == NULL || path == NULL || w == 0 || h == 0)
		return sp_errf(e, SP_EINVAL, "%s: no image to write", path ? path : "PNG");
	if ((tmp = malloc(strlen(path) + sizeof(".tmp-XXXXXX"))) == NULL)
		return sp_errf(e, SP_ENOMEM, "%s: out of memory", path);
	strcpy(tmp, path);
	strcat(tmp, ".tmp-XXXXXX");
	if ((fd = mkstemp(tmp)) < 0) {
		err = errno;
		free(tmp);
		return sp_errf(e, errno_code(err), "%s: cannot create a temporary file: %s",
		    path, strerror(err));
	}
	/* A pairing code holds a secret: the image is its owner's only. */
	if (fchmod(fd, 0600) != 0 || (fp = fdopen(fd, "wb")) == NULL) {
		err = errno;
		rc = sp_errf(e, errno_code(err), "%s: %s", path, strerror(err));
		close(fd);
		goto unlink_tmp;
	}
	png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &fail, on_png_error,
	    on_png_warning);
	if (png == NULL || (info = png_create_info_struct(png)) == NULL) {
		rc = sp_errf(e, SP_ENOMEM, "%s: out of memory", path);
		goto fail;
	}
	if (setjmp(fail.jb)) {
		rc = sp_errf(e, SP_EIO, "%s: cannot write PNG: %s", path, fail.msg);
		goto fail;
	}
	png_init_io(png, fp);
	png_set_IHDR(png, info, w, h, 8, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
	    PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_write_info(png, info);
	for (unsigned y = 0; y < h; y++)
		png_write_row(png, pixels + (size_t)y * w);
	png_write_end(png, NULL);
	png_destroy_write_struct(&png, &info);
	if (fflush(fp) != 0 || fsync(fileno(fp)) != 0) {
		rc = sp_errf(e, SP_EIO, "%s: write: %s", path, strerror(errno));
		goto fail;
	}
	if (fclose(fp) != 0) {
		rc = sp_errf(e, SP_EIO, "%s: write: %s", path, strerror(errno));
		goto unlink_tmp;
	}
	if (rename(tmp, path) != 0) {
		err = errno;
		rc = sp_errf(e, errno_code(err), "%s: rename: %s", path, strerror(err));
		goto unlink_tmp;
	}
	free(tmp);
	return SP_OK;
fail:
	png_destroy_write_struct(&png, &info);
	fclose(fp);
unlink_tmp:
	unlink(tmp);
	free(tmp);
	return rc;
}

int
sp_qr_png(const sp_qr *q, int scale, const char *path, sp_errmsg *e)
{
	unsigned side;
	uint8_t *px;
	int rc;

	if (q == NULL || path == NULL)
		return sp_errf(e, SP_EINVAL, "%s: no QR code to write", path ? path : "PNG");
	if (scale < 1 || scale > 32)
		return sp_errf(e, SP_EINVAL,
		    "%s: scale %d is not between 1 and 32 pixels per module", path, scale);
	side = (unsigned)(q->width + 2 * SP_QR_QUIET) * (unsigned)scale;
	if ((px = malloc((size_t)side * side)) == NULL)
		return sp_errf(e, SP_ENOMEM, "%s: out of memory", path);
	for (unsigned y = 0; y < side; y++)
		for (unsigned x = 0; x < side; x++)
			px[(size_t)y * side + x] = sp_qr_dark(q, (int)(x / (unsigned)scale) -
			    SP_QR_QUIET, (int)(y / (unsigned)scale) - SP_QR_QUIET) ? 0 : 255;
	rc = sp_qr_png_gray(px, side, side, path, e);
	free(px);
	return rc;
}

/* path is NULL for a buffer that came from no file. */
static int
too_large(sp_errmsg *e, const char *path, unsigned long w, unsigned long h)
{
	return sp_errf(e, SP_EINVAL, "%s%simage too large (%lux%lu pixels; at most %ux%u)",
	    path ? path : "", path ? ": " : "", w, h, SP_QR_MAX_PIXELS, SP_QR_MAX_PIXELS);
}

struct mem_bytes {
	const uint8_t *p;
	size_t len, pos;
};

static void
read_png_bytes(png_structp png, png_bytep out, size_t n)
{
	struct mem_bytes *s = png_get_io_ptr(png);

	if (n > s->len - s->pos)
		png_error(png, "unexpected end of file");
	memcpy(out, s->p + s->pos, n);
	s->pos += n;
}

static int
read_png(const char *path, const uint8_t *buf, size_t n, struct gray *im, sp_errmsg *e)
{
	struct catch_png fail;
	struct mem_bytes src = { buf, n, 0 };
	png_structp png;
	png_infop info = NULL;
	/* Volatile: set after the setjmp and freed after a longjmp. */
	png_bytep *volatile rows = NULL;
	uint8_t *volatile raw = NULL;
	png_uint_32 w, h;
	size_t rowbytes, ch;
	int rc;

	png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &fail, on_png_error,
	    on_png_warning);
	if (png == NULL || (info = png_create_info_struct(png)) == NULL) {
		png_destroy_read_struct(&png, NULL, NULL);
		return sp_errf(e, SP_ENOMEM, "%s: out of memory", path);
	}
	if (setjmp(fail.jb)) {
		rc = sp_errf(e, SP_ECORRUPT, "%s: damaged image: %s", path, fail.msg);
		goto out;
	}
	png_set_read_fn(png, &src, read_png_bytes);
	png_read_info(png, info);
	w = png_get_image_width(png, info);
	h = png_get_image_height(png, info);
	if (w > SP_QR_MAX_PIXELS || h > SP_QR_MAX_PIXELS) {
		rc = too_large(e, path, w, h);
		goto out;
	}
	/* Any colour type and depth becomes 8-bit gray, with alpha if the
	 * image has transparency; we composite that on white ourselves, since
	 * a transparent background is usually black underneath. */
	png_set_expand(png);
	png_set_strip_16(png);
	if (png_get_color_type(png, info) & PNG_COLOR_MASK_COLOR)
		png_set_rgb_to_gray_fixed(png, 1, -1, -1);
	(void)png_set_interlace_handling(png);
	png_read_update_info(png, info);
	ch = png_get_channels(png, info);
	rowbytes = png_get_rowbytes(png, info);
	if (png_get_bit_depth(png, info) != 8 || (ch != 1 && ch != 2) || rowbytes < ch * w)
		png_error(png, "unexpected pixel format");
	raw = malloc(rowbytes * h);
	rows = malloc(h * sizeof(*rows));
	im->px = malloc((size_t)w * h);
	if (raw == NULL || rows == NULL || im->px == NULL) {
		rc = sp_errf(e, SP_ENOMEM, "%s: out of memory", path);
		goto out;
	}
	for (size_t y = 0; y < h; y++)
		rows[y] = raw + y * rowbytes;
	png_read_image(png, rows);
	for (size_t y = 0; y < h; y++) {
		for (size_t x = 0; x < w; x++) {
			unsigned g = rows[y][x * ch], a = ch == 2 ? rows[y][x * ch + 1] : 255;

			im->px[y * w + x] = (uint8_t)((g * a + 255 * (255 - a) + 127) / 255);
		}
	}
	im->w = w;
	im->h = h;
	rc = SP_OK;
out:
	if (rc != SP_OK) {
		free(im->px);
		im->px = NULL;
	}
	free(rows);
	free(raw);
	png_destroy_read_struct(&png, &info, NULL);
	return rc;
}

struct catch_jpeg {
	struct jpeg_error_mgr mgr;      /* first: libjpeg hands us a pointer to it */
	jmp_buf jb;
};

static void
on_jpeg_error(j_common_ptr cinfo)
{
	longjmp(((struct catch_jpeg *)cinfo->err)->jb, 1);
}

/* libjpeg would print its warnings (such as a truncated file, whose missing
 * rows it fills with gray) to stderr. We drop them: the decode goes on and
 * zbar has the last word. */
static void
on_jpeg_message(j_common_ptr cinfo)
{
	(void)cinfo;
}

static int
read_jpeg(const char *path, const uint8_t *buf, size_t n, struct gray *im, sp_errmsg *e)
{
	struct jpeg_decompress_struct cinfo;
	struct catch_jpeg fail;
	char msg[JMSG_LENGTH_MAX];
	int rc;

	memset(&cinfo, 0, sizeof(cinfo));
	cinfo.err = jpeg_std_error(&fail.mgr);
	fail.mgr.error_exit = on_jpeg_error;
	fail.mgr.output_message = on_jpeg_message;
	if (setjmp(fail.jb)) {
		fail.mgr.format_message((j_common_ptr)&cinfo, msg);
		rc = sp_errf(e, SP_ECORRUPT, "%s: damaged image: %s", path, msg);
		goto out;
	}
	jpeg_create_decompress(&cinfo);
	jpeg_mem_src(&cinfo, buf, (unsigned long)n);
	(void)jpeg_read_header(&cinfo, TRUE);
	if (cinfo.image_width > SP_QR_MAX_PIXELS || cinfo.image_height > SP_QR_MAX_PIXELS) {
		rc = too_large(e, path, cinfo.image_width, cinfo.image_height);
		goto out;
	}
	cinfo.out_color_space = JCS_GRAYSCALE;
	(void)jpeg_start_decompress(&cinfo);
	if (cinfo.output_components != 1)
		ERREXIT(&cinfo, JERR_CONVERSION_NOTIMPL);
	if ((im->px = malloc((size_t)cinfo.output_width * cinfo.output_height)) == NULL) {
		rc = sp_errf(e, SP_ENOMEM, "%s: out of memory", path);
		goto out;
	}
	while (cinfo.output_scanline < cinfo.output_height) {
		JSAMPROW row = im->px + (size_t)cinfo.output_scanline * cinfo.output_width;

		(void)jpeg_read_scanlines(&cinfo, &row, 1);
	}
	im->w = cinfo.output_width;
	im->h = cinfo.output_height;
	(void)jpeg_finish_decompress(&cinfo);
	rc = SP_OK;
out:
	if (rc != SP_OK) {
		free(im->px);
		im->px = NULL;
	}
	jpeg_destroy_decompress(&cinfo);
	return rc;
}

/* The whole file in memory, refusing anything over SP_QR_MAX_FILE. */
static int
read_file(const char *path, uint8_t **buf, size_t *len, sp_errmsg *e)
{
	struct stat st;
	FILE *fp;
	int rc = SP_OK, err;

	*buf = NULL;
	if ((fp = fopen(path, "rb")) == NULL) {
		err = errno;
		return sp_errf(e, errno_code(err), "%s: cannot open: %s", path, strerror(err));
	}
	if (fstat(fileno(fp), &st) != 0)
		rc = sp_errf(e, SP_EIO, "%s: cannot open: %s", path, strerror(errno));
	else if (!S_ISREG(st.st_mode))
		rc = sp_errf(e, SP_EINVAL, "%s: not a PNG or JPEG image (not a regular file)",
		    path);
	else if (st.st_size > (off_t)SP_QR_MAX_FILE)
		rc = sp_errf(e, SP_EINVAL, "%s: image too large (%lld bytes; at most %u MiB)",
		    path, (long long)st.st_size, SP_QR_MAX_FILE >> 20);
	else if ((*buf = malloc((size_t)st.st_size + 1)) == NULL)
		rc = sp_errf(e, SP_ENOMEM, "%s: out of memory", path);
	else if ((*len = fread(*buf, 1, (size_t)st.st_size + 1, fp)) != (size_t)st.st_size)
		rc = sp_errf(e, SP_EIO, "%s: cannot read: %s", path,
		    ferror(fp) ? strerror(errno) : "the file changed while being read");
	fclose(fp);
	if (rc != SP_OK) {
		free(*buf);
		*buf = NULL;
	}
	return rc;
}

int
sp_qr_decode_file(const char *path, char **text, size_t *len, sp_errmsg *e)
{
	static const uint8_t png_magic[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
	static const uint8_t jpeg_magic[3] = { 0xff, 0xd8, 0xff };
	struct gray im = { NULL, 0, 0 };
	sp_errmsg why;
	uint8_t *buf;
	size_t n = 0;
	int rc;

	*text = NULL;
	if (path == NULL)
		return sp_errf(e, SP_EINVAL, "no file to decode");
	if ((rc = read_file(path, &buf, &n, e)) != SP_OK)
		return rc;
	if (n >= sizeof(png_magic) && memcmp(buf, png_magic, sizeof(png_magic)) == 0)
		rc = read_png(path, buf, n, &im, e);
	else if (n >= sizeof(jpeg_magic) && memcmp(buf, jpeg_magic, sizeof(jpeg_magic)) == 0)
		rc = read_jpeg(path, buf, n, &im, e);
	else
		rc = sp_errf(e, SP_EINVAL, "%s: not a PNG or JPEG image", path);
	free(buf);
	if (rc == SP_OK && (rc = sp_qr_decode_gray(im.px, im.w, im.h, text, len, &why)) != SP_OK)
		sp_errf(e, rc, "%s: %s", path, why.msg);
	free(im.px);
	return rc;
}

int
sp_qr_decode_gray(const uint8_t *pixels, unsigned w, unsigned h, char **text,
    size_t *len, sp_errmsg *e)
{
	zbar_image_scanner_t *scanner;
	zbar_image_t *img;
	const zbar_symbol_t *sym, *qr = NULL;
	const char *data;
	unsigned n = 0, dlen;
	int rc;

	*text = NULL;
	if (pixels == NULL || w == 0 || h == 0)
		return sp_errf(e, SP_EINVAL, "no image to decode");
	if (w > SP_QR_MAX_PIXELS || h > SP_QR_MAX_PIXELS)
		return too_large(e, NULL, w, h);
	scanner = zbar_image_scanner_create();
	img = zbar_image_create();
	if (scanner == NULL || img == NULL) {
		rc = sp_errf(e, SP_ENOMEM, "out of memory");
		goto out;
	}
	/* Other symbologies would only find false positives in noise. */
	zbar_image_scanner_set_config(scanner, 0, ZBAR_CFG_ENABLE, 0);
	zbar_image_scanner_set_config(scanner, ZBAR_QRCODE, ZBAR_CFG_ENABLE, 1);
	/* Byte mode carries no charset unless an ECI names one, so zbar
	 * guesses (SJIS, Latin-1, Big5, UTF-8) and converts to UTF-8. We want
	 * the bytes that were encoded; ASCII would survive the guess, but
	 * nothing else is sure to. */
	zbar_image_scanner_set_config(scanner, ZBAR_QRCODE, ZBAR_CFG_BINARY, 1);
	zbar_image_set_format(img, zbar_fourcc('Y', '8', '0', '0'));
	zbar_image_set_size(img, w, h);
	zbar_image_set_data(img, pixels, (unsigned long)w * h, NULL);
	if (zbar_scan_image(scanner, img) < 0) {
		rc = sp_errf(e, SP_EIO, "zbar cannot scan the image");
		goto out;
	}
	for (sym = zbar_image_first_symbol(img); sym != NULL; sym = zbar_symbol_next(sym)) {
		if (zbar_symbol_get_type(sym) == ZBAR_QRCODE) {
			qr = sym;
			n++;
		}
	}
	if (n == 0) {
		rc = sp_errf(e, SP_ENOENT, "no QR code found");
		goto out;
	}
	if (n > 1) {
		rc = sp_errf(e, SP_EINVAL, "more than one QR code (%u found); show only one", n);
		goto out;
	}
	data = zbar_symbol_get_data(qr);
	dlen = zbar_symbol_get_data_length(qr);
	/* A NUL would cut the text short for whoever reads it as a string. */
	if (memchr(data, '\0', dlen) != NULL) {
		rc = sp_errf(e, SP_EINVAL, "the QR code holds a NUL byte");
		goto out;
	}
	if ((*text = malloc((size_t)dlen + 1)) == NULL) {
		rc = sp_errf(e, SP_ENOMEM, "out of memory");
		goto out;
	}
	memcpy(*text, data, dlen);
	(*text)[dlen] = '\0';
	if (len != NULL)
		*len = dlen;
	rc = SP_OK;
out:
	if (img != NULL)
		zbar_image_destroy(img);
	if (scanner != NULL)
		zbar_image_scanner_destroy(scanner);
	return rc;
}
