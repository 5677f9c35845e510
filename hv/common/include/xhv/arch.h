/* SPDX-License-Identifier: Apache-2.0 */
/* The one place where hypervisor bitness is visible to common code. */
#ifndef XHV_ARCH_H
#define XHV_ARCH_H

#include <stdint.h>

#if defined(__x86_64__)
#define XHV_BITS 64
#define XHV_ARCH_NAME "x86_64"
typedef uint64_t uword_t;
typedef int64_t sword_t;
#elif defined(__i386__)
#define XHV_BITS 32
#define XHV_ARCH_NAME "x86"
typedef uint32_t uword_t;
typedef int32_t sword_t;
#else
#error "xhv supports only x86 (i386) and x86_64"
#endif

#define XHV_WORD_BYTES ((unsigned)sizeof(uword_t))

#endif /* XHV_ARCH_H */
