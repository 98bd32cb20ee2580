/*
 * test_qr.c - QR codes as PNG (src/loyalty/qr.h): a well-formed PNG whose
 * IHDR has the expected size and format, whose pixels (read back with
 * libpng's simplified API) are libqrencode's modules at the given scale with a
 * white quiet zone of 4 modules; bad inputs are refused.
 */
#include <criterion/criterion.h>
#include <png.h>
#include <qrencode.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "loyalty/qr.h"
#include "util/mem.h"

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The modules libqrencode gives for text (level M, 8-bit), the way qr.c asks. */
static QRcode *modules_of(const char *text, size_t len)
{
    QRcode *qr = QRcode_encodeData((int)len, (const unsigned char *)text, 0, QR_ECLEVEL_M);
    cr_assert_not_null(qr);
    return qr;
}

static void check_png(const char *text, size_t len, int scale)
{
    struct pt_buf b;
    pt_buf_init(&b);
    struct pt_err e = {0};
    cr_assert_eq(pt_qr_png(text, len, scale, &b, &e), 0, "%s", e.msg);
    QRcode *qr = modules_of(text, len);
    uint32_t side = (uint32_t)(qr->width + 8) * (uint32_t)scale;

    const unsigned char *p = (const unsigned char *)b.data;
    cr_assert_gt(b.len, 8 + 25 + 12);
    cr_assert(memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0, "PNG signature");
    cr_assert_eq(be32(p + 8), 13, "IHDR length");
    cr_assert(memcmp(p + 12, "IHDR", 4) == 0);
    cr_assert_eq(be32(p + 16), side, "width %u, want %u", be32(p + 16), side);
    cr_assert_eq(be32(p + 20), side, "height");
    cr_assert_eq(p[24], 1, "bit depth 1");
    cr_assert_eq(p[25], 0, "colour type grayscale");
    cr_assert_eq(p[28], 0, "not interlaced");
    cr_assert(memcmp(p + b.len - 8, "IEND", 4) == 0, "ends with IEND");

    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    cr_assert(png_image_begin_read_from_memory(&img, b.data, b.len), "%s", img.message);
    cr_assert_eq(img.width, side);
    cr_assert_eq(img.height, side);
    img.format = PNG_FORMAT_GRAY;
    size_t npix = (size_t)side * side;
    unsigned char *px = pt_malloc(npix);
    cr_assert_not_null(px);
    cr_assert(png_image_finish_read(&img, NULL, px, 0, NULL), "%s", img.message);
    size_t black = 0;
    for (uint32_t y = 0; y < side; y++) {
        for (uint32_t x = 0; x < side; x++) {
            int mx = (int)(x / (uint32_t)scale) - 4, my = (int)(y / (uint32_t)scale) - 4;
            int dark = mx >= 0 && my >= 0 && mx < qr->width && my < qr->width &&
                       (qr->data[my * qr->width + mx] & 1);
            unsigned char want = dark ? 0 : 255;
            cr_assert_eq(px[(size_t)y * side + x], want, "pixel (%u, %u) module (%d, %d)", x, y, mx,
                         my);
            black += dark ? 1u : 0u;
        }
    }
    /* a QR symbol is roughly half dark; the three finders alone are 3 * 33 */
    cr_expect_gt(black, (size_t)99 * (size_t)scale * (size_t)scale);
    pt_free(px);
    QRcode_free(qr);
    pt_buf_release(&b);
}

Test(qr, referral_link_at_several_scales)
{
    const char *link = "https://shop.example/r/ABCD-EFGH-JKMN-PQ";
    check_png(link, strlen(link), 1);
    check_png(link, strlen(link), 4);
    check_png(link, strlen(link), 7); /* rows not a multiple of 8 pixels */
}

Test(qr, known_size_of_a_short_text)
{
    /* "PATRON" at level M in 8-bit mode fits version 1: 21 modules */
    QRcode *qr = modules_of("PATRON", 6);
    cr_expect_eq(qr->version, 1);
    cr_expect_eq(qr->width, 21);
    QRcode_free(qr);
    check_png("PATRON", 6, 3);
}

Test(qr, binary_text_and_the_longest_text)
{
    char bin[64];
    for (size_t i = 0; i < sizeof bin; i++)
        bin[i] = (char)(i * 37); /* NUL bytes included */
    check_png(bin, sizeof bin, 2);
    char *big = pt_malloc(1000);
    cr_assert_not_null(big);
    for (size_t i = 0; i < 1000; i++)
        big[i] = (char)('a' + i % 26);
    check_png(big, 1000, 1);
    check_png(big, 1000, 32);
    pt_free(big);
}

Test(qr, appends_to_what_is_in_the_buffer)
{
    struct pt_buf b;
    pt_buf_init(&b);
    cr_assert_eq(pt_buf_adds(&b, "head"), 0);
    cr_assert_eq(pt_qr_png("x", 1, 1, &b, NULL), 0);
    cr_assert(memcmp(b.data, "head\x89PNG", 8) == 0);
    pt_buf_release(&b);
}

Test(qr, bad_inputs_are_refused)
{
    struct pt_buf b;
    pt_buf_init(&b);
    struct pt_err e = {0};
    cr_expect_eq(pt_qr_png("", 0, 4, &b, &e), PT_EINVAL);
    cr_expect_eq(e.code, PT_EINVAL);
    cr_expect_str_eq(e.msg, "no text to encode");
    cr_expect_eq(pt_qr_png(NULL, 5, 4, &b, &e), PT_EINVAL);
    char *big = pt_malloc(1001);
    cr_assert_not_null(big);
    memset(big, 'a', 1001);
    cr_expect_eq(pt_qr_png(big, 1001, 4, &b, &e), PT_EINVAL);
    cr_expect(strstr(e.msg, "1001 bytes") != NULL, "%s", e.msg);
    pt_free(big);
    cr_expect_eq(pt_qr_png("x", 1, 0, &b, &e), PT_EINVAL);
    cr_expect_eq(pt_qr_png("x", 1, 33, &b, &e), PT_EINVAL);
    cr_expect_eq(pt_qr_png("x", 1, -1, &b, NULL), PT_EINVAL);
    cr_expect_eq(b.len, 0, "nothing written");
    pt_buf_release(&b);
}

Test(qr, out_of_memory_leaves_the_buffer_as_it_was)
{
    /* fail each of the first allocations of ours (the row, the buffer's
     * growth): the call fails cleanly or succeeds, never half-writes */
    int fails = 0;
    for (unsigned long k = 1; k <= 6; k++) {
        struct pt_buf b;
        pt_buf_init(&b);
        cr_assert_eq(pt_buf_adds(&b, "keep"), 0);
        struct pt_err e = {0};
        pt_mem_fail_after(k);
        int rc = pt_qr_png("https://shop.example/r/ABCD", 27, 8, &b, &e);
        pt_mem_fail_after(0);
        if (rc != 0) {
            fails++;
            cr_assert_eq(rc, PT_ENOMEM, "%d: %s", rc, e.msg);
            cr_assert_eq(b.len, 4);
            cr_assert_str_eq(b.data, "keep");
        }
        pt_buf_release(&b);
    }
    /* the row, and at least one growth inside libpng's write callback */
    cr_expect_geq(fails, 2, "%d", fails);
}
