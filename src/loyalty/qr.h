/*
 * qr.h - a QR code of a short text (a referral share link) as a PNG image
 * (libqrencode for the symbol, libpng for the file).
 *
 * Layer: loyalty (util). Thread-safe. Errors: PT_EINVAL (text empty or too
 * long for a QR symbol: over 1,000 bytes), PT_ENOMEM, PT_EIO (the encoder
 * failed; e says why).
 */
#ifndef PT_LOYALTY_QR_H
#define PT_LOYALTY_QR_H

#include <stddef.h>

#include "util/buf.h"
#include "util/err.h"

/* Append the PNG of text's QR code (error correction level M, 8-bit mode,
 * black on white, grayscale 1 bit per pixel) to out: `scale` pixels per
 * module (1..32) and a quiet zone of 4 modules. */
int pt_qr_png(const char *text, size_t len, int scale, struct pt_buf *out, struct pt_err *e);

#endif
