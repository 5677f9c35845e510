/* SPDX-License-Identifier: Apache-2.0 */
/* TrustVisor's guest ABI: hypercall numbers, CPUID detection and the PAL registration records. */
#ifndef HYPAPPS_TRUSTVISOR_TV_ABI_H
#define HYPAPPS_TRUSTVISOR_TV_ABI_H

/*
 * Included by the guest programs, by hypapps/trustvisor (freestanding) and
 * by host C++ tests, so it may depend on <stdint.h> and nothing else.
 */
#include <stdint.h>

#ifdef __cplusplus
#define TV_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
extern "C" {
#else
#define TV_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif

/*
 * Hypercalls: VMCALL with the number in EAX/RAX and arguments in
 * ECX/RCX, EDX/RDX, ESI/RSI, EDI/RDI; the result comes back in EAX/RAX.
 */
#define TV_HC_REG 1U   /* RCX: tv_pal_sections gva, RSI: tv_pal_params gva, RDI: entry gva */
#define TV_HC_UNREG 2U /* RCX: the entry gva given to TV_HC_REG */
#define TV_HC_UTPM_SEAL_DEPRECATED 3U
#define TV_HC_UTPM_UNSEAL_DEPRECATED 4U
#define TV_HC_UTPM_QUOTE_DEPRECATED 5U
#define TV_HC_SHARE 6U
#define TV_HC_UTPM_PCRREAD 7U
#define TV_HC_UTPM_PCREXT 8U
#define TV_HC_UTPM_GENRAND 9U
#define TV_HC_UTPM_SEAL 10U
#define TV_HC_UTPM_UNSEAL 11U
#define TV_HC_UTPM_QUOTE 12U
#define TV_HC_UTPM_ID_GETPUB 13U
#define TV_HC_TPMNVRAM_GETSIZE 21U
#define TV_HC_TPMNVRAM_READALL 22U
#define TV_HC_TPMNVRAM_WRITEALL 23U
#define TV_HC_TEST 255U /* RCX: any value, logged; returns 0 */

/*
 * What TrustVisor answers in EAX/RAX besides 0 (TV_OK), to a hypercall or
 * to the caller of a PAL. The high byte says which check failed, the low
 * byte which way:
 *   TV_ERR_REQUEST | enum pal_req_status   the registration request (pal_req.h)
 *   TV_ERR_TABLE   | enum reg_status       the PAL table (registry.h)
 *   TV_ERR_WALK    | enum gpt_status       a guest page-table walk (xhv/gpt.h)
 *   TV_ERR_MARSHAL | enum marshal_status   PAL entry or exit (marshal.h),
 *                                          returned to the PAL's caller
 * and the single codes below. A number that is no TrustVisor hypercall
 * gets -1 from the hypervisor core.
 */
#define TV_OK 0x000U
#define TV_ERR_CLASS(e) ((e) & 0xF00U)
#define TV_ERR_REQUEST 0x100U
#define TV_ERR_TABLE 0x200U
#define TV_ERR_WALK 0x300U
#define TV_ERR_MARSHAL 0x400U
#define TV_ERR_NOMEM 0x501U     /* out of pages for PAL page tables */
#define TV_ERR_IN_PAL 0x502U    /* a hypercall from inside a PAL */
#define TV_ERR_MODE 0x503U      /* the caller runs without paging, or with 5-level paging */
#define TV_ERR_BUSY 0x504U      /* the PAL runs on another CPU: this call did not run it */
#define TV_ERR_PAL_FAULT 0x505U /* the PAL faulted or left its sections: it was ended */
#define TV_ERR_NOT_RAM 0x506U   /* a section page is not ordinary guest memory */
#define TV_ERR_EPT 0x507U       /* a section page is not plainly mapped (device, hidden) */
#define TV_ERR_REVOKED 0x508U   /* the guest took a page of the running PAL back: it was ended */

/*
 * Detection: CPUID with EAX = TV_CPUID_LEAF and ECX = 0 answers
 * EAX = TV_CPUID_SIGNATURE, and in EBX the running PAL's id, or
 * TV_CPUID_NO_PAL outside any PAL.
 */
#define TV_CPUID_LEAF 0x7A567254U      /* "TrVz" */
#define TV_CPUID_SIGNATURE 0x7A767274U /* "TRVZ" */
#define TV_CPUID_NO_PAL 0xFFFFFFFFU

#define TV_MAX_SECTIONS 10U
#define TV_MAX_PARAMS 10U

/* Section types: what the PAL may do with its pages, and whether the rest of the guest may. */
#define TV_PAL_SECTION_CODE 1U
#define TV_PAL_SECTION_DATA 2U
#define TV_PAL_SECTION_PARAM 3U
#define TV_PAL_SECTION_STACK 4U
#define TV_PAL_SECTION_SHARED_CODE 5U

/* Parameter types: an integer is passed as is, a pointer's words are copied in and back out. */
#define TV_PAL_ARG_INTEGER 1U
#define TV_PAL_ARG_POINTER 2U

/*
 * Every field is 32 or 64 bits wide whatever the caller's bitness, so a
 * 32-bit and a 64-bit guest program hand the hypervisor the same bytes.
 */
struct tv_pal_section {
  uint32_t type;       /* TV_PAL_SECTION_* */
  uint32_t page_num;   /* length in 4 KiB pages */
  uint64_t start_addr; /* page-aligned guest virtual address */
} __attribute__((packed));

struct tv_pal_sections {
  uint32_t num_sections; /* at most TV_MAX_SECTIONS */
  uint32_t pad;
  struct tv_pal_section sections[TV_MAX_SECTIONS];
} __attribute__((packed));

struct tv_pal_param {
  uint32_t type; /* TV_PAL_ARG_* */
  uint32_t pad;
  uint64_t size; /* pointer payload in machine words (4 or 8 bytes); unused for integers */
} __attribute__((packed));

struct tv_pal_params {
  uint32_t num_params; /* at most TV_MAX_PARAMS; param i is the PAL function's argument i */
  uint32_t pad;
  struct tv_pal_param params[TV_MAX_PARAMS];
} __attribute__((packed));

TV_STATIC_ASSERT(sizeof(struct tv_pal_section) == 16, "tv_pal_section is 16 bytes");
TV_STATIC_ASSERT(sizeof(struct tv_pal_sections) == 168, "tv_pal_sections is 168 bytes");
TV_STATIC_ASSERT(sizeof(struct tv_pal_param) == 16, "tv_pal_param is 16 bytes");
TV_STATIC_ASSERT(sizeof(struct tv_pal_params) == 168, "tv_pal_params is 168 bytes");

#ifdef __cplusplus
}
#endif

#undef TV_STATIC_ASSERT

#endif /* HYPAPPS_TRUSTVISOR_TV_ABI_H */
