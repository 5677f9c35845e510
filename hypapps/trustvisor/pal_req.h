/* SPDX-License-Identifier: Apache-2.0 */
/* Validation of a PAL registration request (TV_HC_REG) before anything is lent. */
#ifndef HYPAPPS_TRUSTVISOR_PAL_REQ_H
#define HYPAPPS_TRUSTVISOR_PAL_REQ_H

#include <stdbool.h>
#include <stdint.h>

#include "hypapps/trustvisor/tv_abi.h"
#include "xhv/compiler.h"

XHV_BEGIN_DECLS

/*
 * Limits. A section is at most 1 MiB and a PAL at most 2 MiB: enough for
 * pal_demo (4 single pages) with room to spare, and small enough that the
 * registry keeps every lent page's gpa in a fixed array.
 */
#define PAL_REQ_MAX_SECTION_PAGES 256U
#define PAL_REQ_MAX_TOTAL_PAGES 512U

/*
 * Highest user_limit for each caller width: a 32-bit caller cannot name an
 * address at or above 4 GiB; a 64-bit caller's user half ends at 2^47.
 */
#define PAL_REQ_LIMIT_32 0x100000000ULL
#define PAL_REQ_LIMIT_64 0x0000800000000000ULL

enum pal_req_status {
  PAL_REQ_OK = 0,
  PAL_REQ_ERR_NUM_SECTIONS,      /* 0 or more than TV_MAX_SECTIONS */
  PAL_REQ_ERR_SECTION_TYPE,      /* not CODE, DATA, PARAM, STACK or SHARED_CODE */
  PAL_REQ_ERR_SECTION_PAGES,     /* page_num 0 or above PAL_REQ_MAX_SECTION_PAGES */
  PAL_REQ_ERR_SECTION_ALIGN,     /* start_addr not 4 KiB aligned */
  PAL_REQ_ERR_SECTION_WRAP,      /* start + size wraps past 2^64 */
  PAL_REQ_ERR_SECTION_PAGE0,     /* covers gva page 0, reserved for the return sentinel */
  PAL_REQ_ERR_SECTION_KERNEL,    /* reaches the user limit (kernel space) */
  PAL_REQ_ERR_TOTAL_PAGES,       /* all sections together above PAL_REQ_MAX_TOTAL_PAGES */
  PAL_REQ_ERR_SECTION_OVERLAP,   /* two sections share a page */
  PAL_REQ_ERR_SECTION_DUPLICATE, /* more than one STACK or more than one PARAM section */
  PAL_REQ_ERR_NO_CODE,           /* no CODE section */
  PAL_REQ_ERR_NO_STACK,          /* no STACK section */
  PAL_REQ_ERR_ENTRY,             /* entry gva not inside a CODE section */
  PAL_REQ_ERR_NUM_PARAMS,        /* more than TV_MAX_PARAMS */
  PAL_REQ_ERR_PARAM_TYPE,        /* not INTEGER or POINTER */
  PAL_REQ_ERR_NO_PARAM,          /* parameters but no PARAM section */
  PAL_REQ_ERR_PARAM_OVERFLOW,    /* the marshalled parameters cannot fit the PARAM area */
};

/* "PAL_REQ_OK", "PAL_REQ_ERR_NUM_SECTIONS", ...; "PAL_REQ_ERR_?" outside the enum. */
const char *pal_req_status_name(enum pal_req_status s);

/* Where an accepted request's pieces are; addresses are gvas in the caller's space. */
struct pal_req_layout {
  uint32_t code_section; /* index of the CODE section holding the entry */
  uint32_t stack_section;
  int32_t param_section; /* -1 without one */
  uint32_t total_pages;
  uint64_t stack_top;        /* STACK end - MARSHAL_STACK_GAP: the PAL's first rsp */
  uint64_t param_area;       /* PARAM start + MARSHAL_AREA_OFFSET, 0 without one */
  uint64_t param_area_bytes; /* PARAM size - MARSHAL_AREA_OFFSET, 0 without one */
};

/*
 * Checks a request copied out of guest memory: every section in
 * [4 KiB, limit) where limit = min(user_limit, PAL_REQ_LIMIT_32 or _64 by
 * g64), no overlaps, one STACK, at most one PARAM, the entry in a CODE
 * section (SHARED_CODE is executable in the regular view too, so a call
 * into it would never reach the hypervisor), and the parameters fitting the
 * PARAM area as marshal lays them out. A 32-bit process under a 64-bit
 * kernel passes its own limit (e.g. 0xFFFFF000). Checks run in the enum's
 * order, the per-section ones section by section, and the first failure is
 * returned; layout (may be NULL) is set only on PAL_REQ_OK. Padding fields
 * and an INTEGER's size are ignored.
 */
enum pal_req_status pal_req_check(const struct tv_pal_sections *sections,
                                  const struct tv_pal_params *params, uint64_t entry_gva, bool g64,
                                  uint64_t user_limit, struct pal_req_layout *layout);

XHV_END_DECLS

#endif /* HYPAPPS_TRUSTVISOR_PAL_REQ_H */
