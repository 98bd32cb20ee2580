/*
 * qr.c - a QR code as a PNG in memory (see qr.h).
 *
 * libpng reports errors by longjmp to the setjmp in write_png. Everything that
 * needs freeing (the QR symbol, the row buffer) is allocated by the caller of
 * write_png before the setjmp and freed by it afterwards, and write_png
 * changes no local that it reads after a longjmp, so nothing is clobbered or
 * leaked whichever way it returns.
 */
#include "loyalty/qr.h"

#include <errno.h>
#include <png.h>
#include <qrencode.h>
#include <setjmp.h>
#include <string.h>

#include "util/mem.h"

#define QR_MAX_TEXT 1000
#define QR_QUIET    4 /* modules of white border on each side */

struct png_out {
    struct pt_buf *buf;
    int rc;        /* PT_ENOMEM from the write callback, else 0 */
    char msg[128]; /* libpng's message */
};

static void on_write(png_structp png, png_bytep data, size_t n)
{
    struct png_out *o = png_get_io_ptr(png);
    if (pt_buf_add(o->buf, data, n)) {
        o->rc = PT_ENOMEM;
        png_error(png, "out of memory");
    }
}

static void on_flush(png_structp png)
{
    (void)png;
}

PNG_NORETURN static void on_error(png_structp png, png_const_charp msg)
{
    struct png_out *o = png_get_error_ptr(png);
    size_t n = strnlen(msg, sizeof o->msg - 1);
    memcpy(o->msg, msg, n);
    o->msg[n] = '\0';
    /* (returning would make libpng print the message to stderr, then jump) */
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg)
{
    (void)png, (void)msg;
}

/* One row of pixels of module row my (-QR_QUIET..w+QR_QUIET-1): 1 = white. */
static void fill_row(png_bytep row, size_t rowbytes, const QRcode *qr, int my, int scale)
{
    memset(row, 0xff, rowbytes);
    if (my < 0 || my >= qr->width)
        return;
    const unsigned char *m = qr->data + (size_t)my * (size_t)qr->width;
    for (int mx = 0; mx < qr->width; mx++) {
        if (!(m[mx] & 1))
            continue;
        size_t x0 = (size_t)(mx + QR_QUIET) * (size_t)scale;
        for (size_t x = x0; x < x0 + (size_t)scale; x++)
            row[x >> 3] &= (png_byte) ~(0x80u >> (x & 7));
    }
}

/* 0 or -1 (libpng failed; o->rc / o->msg say why). */
static int write_png(png_structp png, png_infop info, const QRcode *qr, int scale, png_bytep row,
                     size_t rowbytes)
{
    if (setjmp(png_jmpbuf(png)))
        return -1;
    png_uint_32 side = (png_uint_32)(qr->width + 2 * QR_QUIET) * (png_uint_32)scale;
    png_set_IHDR(png, info, side, side, 1, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int my = -QR_QUIET; my < qr->width + QR_QUIET; my++) {
        fill_row(row, rowbytes, qr, my, scale);
        for (int k = 0; k < scale; k++)
            png_write_row(png, row);
    }
    png_write_end(png, info);
    return 0;
}

int pt_qr_png(const char *text, size_t len, int scale, struct pt_buf *out, struct pt_err *e)
{
    if (text == NULL || len == 0)
        return pt_err_set(e, PT_EINVAL, "no text to encode");
    if (len > QR_MAX_TEXT)
        return pt_err_set(e, PT_EINVAL, "text of %zu bytes is too long for a QR code (over %d)",
                          len, QR_MAX_TEXT);
    if (scale < 1 || scale > 32)
        return pt_err_set(e, PT_EINVAL, "scale %d is outside 1..32", scale);

    errno = 0;
    QRcode *qr = QRcode_encodeData((int)len, (const unsigned char *)text, 0, QR_ECLEVEL_M);
    if (qr == NULL) {
        if (errno == ENOMEM)
            return pt_err_set(e, PT_ENOMEM, "out of memory encoding the QR code");
        return pt_err_set(e, PT_EIO, "the QR encoder failed: %s",
                          errno == ERANGE   ? "the text does not fit in a QR symbol"
                          : errno == EINVAL ? "it refused the input"
                                            : "unknown error");
    }
    size_t side = (size_t)(qr->width + 2 * QR_QUIET) * (size_t)scale;
    size_t rowbytes = (side + 7) / 8;
    png_bytep row = pt_malloc(rowbytes);
    struct png_out o = {.buf = out, .rc = 0, .msg = ""};
    png_structp png = NULL;
    png_infop info = NULL;
    if (row != NULL)
        png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &o, on_error, on_warning);
    if (png != NULL)
        info = png_create_info_struct(png);
    if (info == NULL) {
        png_destroy_write_struct(&png, NULL);
        pt_free(row);
        QRcode_free(qr);
        return pt_err_set(e, PT_ENOMEM, "out of memory writing the PNG");
    }
    size_t len0 = out->len;
    png_set_write_fn(png, &o, on_write, on_flush);
    int bad = write_png(png, info, qr, scale, row, rowbytes);
    png_destroy_write_struct(&png, &info);
    pt_free(row);
    QRcode_free(qr);
    if (!bad)
        return 0;
    if (out->data != NULL) { /* leave out as it was */
        out->len = len0;
        out->data[len0] = '\0';
    }
    if (o.rc)
        return pt_err_set(e, o.rc, "out of memory writing the PNG");
    return pt_err_set(e, PT_EIO, "writing the PNG failed: %s", o.msg);
}
