/* SPDX-License-Identifier: Apache-2.0 */
/* Compiler attributes and C/C++ linkage guards shared by hypervisor and host tests. */
#ifndef XHV_COMPILER_H
#define XHV_COMPILER_H

#ifdef __cplusplus
#define XHV_BEGIN_DECLS extern "C" {
#define XHV_END_DECLS }
#define XHV_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#else
#define XHV_BEGIN_DECLS
#define XHV_END_DECLS
#define XHV_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif

#define XHV_NORETURN __attribute__((noreturn))
#define XHV_PACKED __attribute__((packed))
#define XHV_ALIGNED(n) __attribute__((aligned(n)))
#define XHV_UNUSED __attribute__((unused))
#define XHV_PRINTF(fmt_idx, args_idx) __attribute__((format(printf, fmt_idx, args_idx)))
#define XHV_SECTION(s) __attribute__((section(s)))

#define XHV_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif /* XHV_COMPILER_H */
