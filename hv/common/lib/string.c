/* SPDX-License-Identifier: Apache-2.0 */
/* Byte-at-a-time C string and memory functions for the freestanding hypervisor. */
#include <stdint.h>

#include <xhv/string.h>

/*
 * Plain loops: these run on small structures and strings, so simplicity wins.
 * They cannot be turned back into calls to themselves because the hypervisor
 * is built with -ffreestanding -fno-builtin.
 */

void *memset(void *dst, int c, size_t n)
{
	unsigned char *d = dst;

	while (n-- > 0)
		*d++ = (unsigned char)c;
	return dst;
}

void *memcpy(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;

	while (n-- > 0)
		*d++ = *s++;
	return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;

	/* Copy backwards when dst overlaps the tail of src. Compared as integers:
	 * relational operators on unrelated pointers are undefined in C. */
	if ((uintptr_t)d > (uintptr_t)s && (uintptr_t)d < (uintptr_t)s + n) {
		while (n-- > 0)
			d[n] = s[n];
	} else {
		while (n-- > 0)
			*d++ = *s++;
	}
	return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a;
	const unsigned char *y = b;

	for (size_t i = 0; i < n; i++) {
		if (x[i] != y[i])
			return x[i] - y[i];
	}
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;

	while (s[n] != '\0')
		n++;
	return n;
}

size_t strnlen(const char *s, size_t max)
{
	size_t n = 0;

	while (n < max && s[n] != '\0')
		n++;
	return n;
}

int strcmp(const char *a, const char *b)
{
	return strncmp(a, b, SIZE_MAX);
}

int strncmp(const char *a, const char *b, size_t n)
{
	/* C compares as unsigned char, so "\xff" sorts after "a". */
	for (size_t i = 0; i < n; i++) {
		unsigned char x = (unsigned char)a[i];
		unsigned char y = (unsigned char)b[i];

		if (x != y)
			return x - y;
		if (x == '\0')
			break;
	}
	return 0;
}
