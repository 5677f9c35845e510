/* SPDX-License-Identifier: Apache-2.0 */
/* The C string and memory functions the hypervisor (and the compiler, for memcpy/memset) needs. */
#ifndef XHV_STRING_H
#define XHV_STRING_H

/*
 * The definitions live in //hv/common/lib:string, which exists only for the
 * freestanding hypervisor. Code compiled for the host (unit tests) gets the
 * libc declarations instead: same signatures, and no clash with the libc's
 * own (e.g. noexcept in C++).
 */
#if __STDC_HOSTED__

#include <string.h>

#else

#include <stddef.h>

#include <xhv/compiler.h>

XHV_BEGIN_DECLS

void *memset(void *dst, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
size_t strnlen(const char *s, size_t max);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);

XHV_END_DECLS

#endif /* __STDC_HOSTED__ */

#endif /* XHV_STRING_H */
