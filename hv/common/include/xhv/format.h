/* SPDX-License-Identifier: Apache-2.0 */
/* printf-style formatting into a buffer or a character sink, without libc or floating point. */
#ifndef XHV_FORMAT_H
#define XHV_FORMAT_H

#include <stdarg.h>
#include <stddef.h>

#include <xhv/compiler.h>

XHV_BEGIN_DECLS

/*
 * Supported: conversions d i u x X o c s p %, flags - 0 + space #, field
 * width and precision (digits or '*'), length modifiers hh h l ll z j t on
 * the integer conversions. No floating point, no %n.
 *
 * %s with a NULL pointer prints "(null)" (still subject to width/precision).
 * %p prints "0x" and the pointer in lower-case hex, zero-padded to the
 * pointer width (8 or 16 digits); only the field width and '-' apply.
 *
 * Unknown or incomplete conversions (e.g. "%q", "%f", "%ls", a trailing
 * "%"): the rest of the format, from that '%' on, is printed literally and no
 * further argument is read. Its argument type is unknown, so every later
 * conversion could otherwise read the wrong argument. Arguments already taken
 * by a '*' in the bad conversion have been read.
 *
 * The return value is the number of characters produced (excluding any NUL),
 * or -1 if that does not fit in an int.
 */

/* Receives the formatted output one character at a time. */
typedef void (*xhv_putc_fn)(void *ctx, char c);

/* Formats into putc(ctx, c); the single formatting engine. */
int xhv_vformat(xhv_putc_fn putc, void *ctx, const char *fmt, va_list ap) XHV_PRINTF(3, 0);

/*
 * C99 vsnprintf: writes at most size - 1 characters and a NUL (when
 * size > 0) and returns the length the full output would have had. buf may
 * be NULL when size is 0.
 */
int xhv_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap) XHV_PRINTF(3, 0);
int xhv_snprintf(char *buf, size_t size, const char *fmt, ...) XHV_PRINTF(3, 4);

XHV_END_DECLS

#endif /* XHV_FORMAT_H */
