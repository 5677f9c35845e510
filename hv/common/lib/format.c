/* SPDX-License-Identifier: Apache-2.0 */
/* printf-style formatting (no floating point) for the hypervisor and its host tests. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xhv/format.h>

/* <limits.h> is not among the headers the hypervisor may use. */
#define FMT_INT_MAX ((int)(~0U >> 1))

/* Every integer is widened to 64 bits before it is printed. */
XHV_STATIC_ASSERT(sizeof(uintmax_t) == sizeof(uint64_t), "%j must fit in 64 bits");
XHV_STATIC_ASSERT(sizeof(size_t) == sizeof(ptrdiff_t), "%z and %t share one type pair");

enum length { LEN_NONE, LEN_HH, LEN_H, LEN_L, LEN_LL, LEN_Z, LEN_J, LEN_T };

/* One parsed conversion specification, e.g. "%-08.3llx". */
struct spec {
	bool left;  /* '-' */
	bool zero;  /* '0' */
	bool plus;  /* '+' */
	bool space; /* ' ' */
	bool alt;   /* '#' */
	bool upper; /* set by the conversion: 'X' */
	int width;  /* 0 when absent */
	int prec;   /* -1 when absent */
	enum length len;
};

/* The output sink: forwards to the caller's putc and counts. */
struct out {
	xhv_putc_fn putc;
	void *ctx;
	size_t count;
};

static void put(struct out *o, char c)
{
	o->putc(o->ctx, c);
	o->count++;
}

static void put_repeat(struct out *o, char c, size_t n)
{
	while (n-- > 0)
		put(o, c);
}

static void put_str(struct out *o, const char *s)
{
	while (*s != '\0')
		put(o, *s++);
}

static size_t str_len(const char *s)
{
	size_t n = 0;

	while (s[n] != '\0')
		n++;
	return n;
}

/*
 * Divides *n by base (at most 16) in place and returns the remainder. Works
 * in 16-bit steps so that i686 needs no 64-bit division helper (__udivdi3)
 * from a runtime library the hypervisor does not link.
 */
static unsigned div_mod(uint64_t *n, unsigned base)
{
	uint64_t q = 0;
	uint32_t r = 0;

	for (int shift = 48; shift >= 0; shift -= 16) {
		uint32_t cur = (r << 16) | (uint32_t)((*n >> shift) & 0xFFFFU);

		q |= (uint64_t)(cur / base) << shift;
		r = cur % base;
	}
	*n = q;
	return r;
}

/* Pads s (n characters, may contain NUL) to the field width. */
static void put_field(struct out *o, const struct spec *sp, const char *s, size_t n)
{
	size_t width = (size_t)sp->width;
	size_t pad = width > n ? width - n : 0;

	if (!sp->left)
		put_repeat(o, ' ', pad);
	for (size_t i = 0; i < n; i++)
		put(o, s[i]);
	if (sp->left)
		put_repeat(o, ' ', pad);
}

/* The one digit emitter: [spaces][prefix][zeros][digits][spaces]. */
static void put_number(struct out *o, const struct spec *sp, uint64_t v, unsigned base,
		       const char *prefix)
{
	const char *digit_chars = sp->upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char digits[22]; /* UINT64_MAX in octal; stored least significant first */
	size_t n = 0;

	/* C99: precision 0 with the value 0 produces no digits at all. */
	if (v != 0 || sp->prec != 0) {
		do {
			digits[n++] = digit_chars[div_mod(&v, base)];
		} while (v != 0);
	}

	size_t prec = sp->prec < 0 ? 0 : (size_t)sp->prec;
	size_t zeros = prec > n ? prec - n : 0;

	/* "%#o": precision grows just enough for the first digit to be 0. */
	if (sp->alt && base == 8 && zeros == 0 && (n == 0 || digits[n - 1] != '0'))
		zeros = 1;

	size_t len = str_len(prefix) + zeros + n;
	size_t width = (size_t)sp->width;
	size_t pad = width > len ? width - len : 0;

	/* '0' pads after the sign/0x; C99 ignores it with '-' or a precision. */
	if (sp->zero && !sp->left && sp->prec < 0) {
		zeros += pad;
		pad = 0;
	}

	if (!sp->left)
		put_repeat(o, ' ', pad);
	put_str(o, prefix);
	put_repeat(o, '0', zeros);
	while (n > 0)
		put(o, digits[--n]);
	if (sp->left)
		put_repeat(o, ' ', pad);
}

/* Reads a decimal number, saturating at FMT_INT_MAX. */
static int parse_int(const char **p)
{
	int v = 0;

	while (**p >= '0' && **p <= '9') {
		int d = *(*p)++ - '0';

		v = v > (FMT_INT_MAX - d) / 10 ? FMT_INT_MAX : v * 10 + d;
	}
	return v;
}

static enum length parse_length(const char **p)
{
	const char *s = *p;
	enum length len;

	switch (s[0]) {
	case 'h': len = s[1] == 'h' ? LEN_HH : LEN_H; break;
	case 'l': len = s[1] == 'l' ? LEN_LL : LEN_L; break;
	case 'z': len = LEN_Z; break;
	case 'j': len = LEN_J; break;
	case 't': len = LEN_T; break;
	default: return LEN_NONE;
	}
	*p += (len == LEN_HH || len == LEN_LL) ? 2 : 1;
	return len;
}

/* Parses flags, width, precision and length after the '%'; '*' reads an int. */
static void parse_spec(const char **p, struct spec *sp, va_list *ap)
{
	for (;; (*p)++) {
		char c = **p;

		if (c == '-')
			sp->left = true;
		else if (c == '0')
			sp->zero = true;
		else if (c == '+')
			sp->plus = true;
		else if (c == ' ')
			sp->space = true;
		else if (c == '#')
			sp->alt = true;
		else
			break;
	}

	if (**p == '*') {
		(*p)++;
		int w = va_arg(*ap, int);

		/* C99: a negative '*' width is a '-' flag and a positive width. */
		if (w < 0) {
			sp->left = true;
			w = w < -FMT_INT_MAX ? FMT_INT_MAX : -w;
		}
		sp->width = w;
	} else {
		sp->width = parse_int(p);
	}

	sp->prec = -1;
	if (**p == '.') {
		(*p)++;
		if (**p == '*') {
			(*p)++;
			int pr = va_arg(*ap, int);

			sp->prec = pr < 0 ? -1 : pr; /* negative: as if omitted */
		} else {
			sp->prec = parse_int(p); /* "." alone means 0 */
		}
	}

	sp->len = parse_length(p);
}

static int64_t arg_signed(va_list *ap, enum length len)
{
	switch (len) {
	case LEN_HH: return (signed char)va_arg(*ap, int);
	case LEN_H: return (short)va_arg(*ap, int);
	case LEN_L: return va_arg(*ap, long);
	case LEN_LL: return va_arg(*ap, long long);
	case LEN_Z: /* the signed type of size_t's width */
	case LEN_T: return va_arg(*ap, ptrdiff_t);
	case LEN_J: return va_arg(*ap, intmax_t);
	default: return va_arg(*ap, int);
	}
}

static uint64_t arg_unsigned(va_list *ap, enum length len)
{
	switch (len) {
	case LEN_HH: return (unsigned char)va_arg(*ap, unsigned);
	case LEN_H: return (unsigned short)va_arg(*ap, unsigned);
	case LEN_L: return va_arg(*ap, unsigned long);
	case LEN_LL: return va_arg(*ap, unsigned long long);
	case LEN_Z: /* the unsigned type of ptrdiff_t's width */
	case LEN_T: return va_arg(*ap, size_t);
	case LEN_J: return va_arg(*ap, uintmax_t);
	default: return va_arg(*ap, unsigned);
	}
}

/* Emits one conversion. Returns false, having read nothing, if it is unknown. */
static bool convert(struct out *o, struct spec *sp, char conv, va_list *ap)
{
	/* Length modifiers apply only to the integer conversions. */
	if (sp->len != LEN_NONE && (conv == 'c' || conv == 's' || conv == 'p' || conv == '%'))
		return false;

	switch (conv) {
	case 'd':
	case 'i': {
		int64_t v = arg_signed(ap, sp->len);
		/* Negated as unsigned, so INT64_MIN does not overflow. */
		uint64_t mag = v < 0 ? 0U - (uint64_t)v : (uint64_t)v;
		const char *sign = v < 0 ? "-" : sp->plus ? "+" : sp->space ? " " : "";

		put_number(o, sp, mag, 10U, sign);
		return true;
	}
	case 'u':
		put_number(o, sp, arg_unsigned(ap, sp->len), 10U, "");
		return true;
	case 'o':
		put_number(o, sp, arg_unsigned(ap, sp->len), 8U, "");
		return true;
	case 'x':
	case 'X': {
		uint64_t v = arg_unsigned(ap, sp->len);

		sp->upper = conv == 'X';
		put_number(o, sp, v, 16U, !sp->alt || v == 0 ? "" : sp->upper ? "0X" : "0x");
		return true;
	}
	case 'p':
		sp->prec = (int)(2U * sizeof(void *));
		sp->upper = false;
		put_number(o, sp, (uintptr_t)va_arg(*ap, void *), 16U, "0x");
		return true;
	case 'c': {
		char c = (char)va_arg(*ap, int);

		put_field(o, sp, &c, 1U);
		return true;
	}
	case 's': {
		const char *s = va_arg(*ap, const char *);
		size_t n = 0;

		if (s == NULL)
			s = "(null)";
		/* Never read past the precision: s need not be NUL-terminated. */
		while ((sp->prec < 0 || n < (size_t)sp->prec) && s[n] != '\0')
			n++;
		put_field(o, sp, s, n);
		return true;
	}
	case '%':
		put(o, '%');
		return true;
	default:
		return false;
	}
}

int xhv_vformat(xhv_putc_fn putc, void *ctx, const char *fmt, va_list ap)
{
	struct out o = { putc, ctx, 0U };
	va_list args;

	/* A local copy so helpers can take its address (va_list may be an array). */
	va_copy(args, ap);
	while (*fmt != '\0') {
		if (*fmt != '%') {
			put(&o, *fmt++);
			continue;
		}

		const char *start = fmt++;
		struct spec sp = { 0 };

		parse_spec(&fmt, &sp, &args);
		if (!convert(&o, &sp, *fmt, &args)) {
			/* Unknown or truncated: see format.h for why we stop here. */
			put_str(&o, start);
			break;
		}
		fmt++;
	}
	va_end(args);
	return o.count > (size_t)FMT_INT_MAX ? -1 : (int)o.count;
}

/* Buffer sink for vsnprintf: stores while there is room, always leaving one
 * byte for the NUL; xhv_vformat does the counting. */
struct buf_sink {
	char *buf;
	size_t size;
	size_t len;
};

static void buf_putc(void *ctx, char c)
{
	struct buf_sink *b = ctx;

	if (b->len + 1U < b->size)
		b->buf[b->len++] = c;
}

int xhv_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct buf_sink b = { buf, size, 0U };
	int n = xhv_vformat(buf_putc, &b, fmt, ap);

	if (size > 0U)
		b.buf[b.len] = '\0';
	return n;
}

int xhv_snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = xhv_vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}
