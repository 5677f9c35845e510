/* SPDX-License-Identifier: Apache-2.0 */
/* PAL call marshalling: caller arguments into the PAL's PARAM area and stack, and results back. */
#ifndef HYPAPPS_TRUSTVISOR_MARSHAL_H
#define HYPAPPS_TRUSTVISOR_MARSHAL_H

#include <stdbool.h>
#include <stdint.h>

#include "xhv/mem_io.h"
#include "hypapps/trustvisor/tv_abi.h"
#include "xhv/compiler.h"

XHV_BEGIN_DECLS

/*
 * Where things go in the PAL's sections:
 * - the PARAM area starts MARSHAL_AREA_OFFSET bytes into the PARAM section
 *   and runs to the section's end;
 * - the PAL stack starts MARSHAL_STACK_GAP bytes below the STACK section's end;
 * - the PAL returns to MARSHAL_RETURN_SENTINEL, a gva its page tables map
 *   but its EPT does not, so the return itself exits to the hypervisor.
 *
 * PARAM area layout (little-endian u64 fields):
 *   count, then per parameter 0..count-1 a record
 *   { type, bytes, caller value } followed, for a POINTER, by its payload
 *   of bytes = size * word (4 or 8) padded to 8 bytes.
 * The PAL sees each INTEGER as is and each POINTER as the gva of its payload.
 */
#define MARSHAL_AREA_OFFSET 0x10U
#define MARSHAL_STACK_GAP 0x10U
#define MARSHAL_RETURN_SENTINEL 0x4U
#define MARSHAL_COUNT_BYTES 8U
#define MARSHAL_RECORD_BYTES 24U

/* Integer arguments passed in registers by the SysV AMD64 ABI: RDI, RSI, RDX, RCX, R8, R9. */
#define MARSHAL_SYSV_REG_ARGS 6U

enum marshal_status {
  MARSHAL_OK = 0,
  MARSHAL_ERR_BAD_PARAMS,    /* count > TV_MAX_PARAMS or an unknown type */
  MARSHAL_ERR_BAD_LAYOUT,    /* a 32-bit PAL with its stack or PARAM area above 4 GiB */
  MARSHAL_ERR_NO_PARAM_AREA, /* parameters, but no PARAM section */
  MARSHAL_ERR_AREA_OVERFLOW, /* the records and payloads do not fit the PARAM area */
  MARSHAL_ERR_RETURN_ADDR,   /* the caller's return address at [rsp] is unreadable */
  MARSHAL_ERR_ARG_READ,      /* a stack argument is unreadable */
  MARSHAL_ERR_CALLER_READ,   /* a POINTER argument's buffer is unreadable */
  MARSHAL_ERR_CALLER_WRITE,  /* copy-back to a caller buffer failed */
  MARSHAL_ERR_PAL_READ,      /* PAL memory unreadable (copy-back source) */
  MARSHAL_ERR_PAL_WRITE,     /* PAL memory unwritable (PARAM area or PAL stack) */
};

/* "MARSHAL_OK", "MARSHAL_ERR_BAD_PARAMS", ...; "MARSHAL_ERR_?" outside the enum. */
const char *marshal_status_name(enum marshal_status s);

/* The guest registers marshalling reads and writes (32-bit callers use the low halves). */
struct marshal_regs {
  uint64_t rsp;
  uint64_t rax;
  uint64_t rcx;
  uint64_t rdx;
  uint64_t rsi;
  uint64_t rdi;
  uint64_t r8;
  uint64_t r9;
  uint64_t r10;
  uint64_t r11;
};

/* What marshalling needs to know of a registered PAL. */
struct marshal_pal {
  bool g64;                  /* SysV AMD64 caller, else 32-bit cdecl */
  uint64_t stack_top;        /* first PAL rsp, MARSHAL_STACK_GAP below the STACK end */
  uint64_t param_area;       /* gva of the PARAM area, 0 with no PARAM section */
  uint64_t param_area_bytes; /* its size, 0 with no PARAM section */
  const struct tv_pal_params *params;
};

/* One POINTER parameter's copy, as the hypervisor recorded it at entry. */
struct marshal_copy {
  uint64_t caller_gva;
  uint64_t pal_gva;
  uint64_t bytes;
};

/*
 * A call in progress, kept by the hypervisor while the PAL runs. Copy-back
 * uses these records, not the ones in the PARAM area: the PAL can rewrite
 * its PARAM area, and must not steer copy-back to other caller memory.
 */
struct marshal_frame {
  uint64_t saved_rsp;  /* caller rsp at entry: it points at the return address */
  uint64_t return_gva; /* read from [saved_rsp] */
  uint32_t num_copies;
  struct marshal_copy copies[TV_MAX_PARAMS];
};

/*
 * Bytes the PARAM area must have for params from a caller of the given
 * width; UINT64_MAX if params is malformed (count, type) or the sum does
 * not fit 64 bits.
 */
uint64_t marshal_area_bytes(const struct tv_pal_params *params, bool g64);

/*
 * PAL entry, with regs as the caller had them on the call: records the
 * return address from [rsp], fills the PARAM area and the PAL stack through
 * pal_mem (gvas in the PAL's page tables), reading arguments and POINTER
 * buffers through caller (gvas in the caller's page tables), then moves
 * regs to the PAL's view: rsp on the PAL stack with the sentinel return
 * address on top, rsp + word 16-byte aligned (the ABI's call alignment),
 * and for g64 the register arguments substituted. On error regs and frame
 * are unchanged; PAL memory may be partly written.
 */
enum marshal_status marshal_enter(const struct marshal_pal *pal, const struct mem_io *caller,
                                  const struct mem_io *pal_mem, struct marshal_regs *regs,
                                  struct marshal_frame *frame);

/*
 * PAL exit: copies every recorded POINTER payload from pal_mem back to the
 * caller's buffer, then scrubs regs (marshal_scrub_regs) and sets rsp to
 * saved_rsp + word, popping the caller's return address; the caller resumes
 * at frame->return_gva. Registers are switched back even when a copy fails,
 * so the caller can always be resumed; the remaining copies are still made
 * and the first failure is returned.
 */
enum marshal_status marshal_leave(const struct marshal_frame *frame, bool g64,
                                  const struct mem_io *caller, const struct mem_io *pal_mem,
                                  struct marshal_regs *regs);

/*
 * Zeroes the caller-saved registers the PAL may have left secrets in, except
 * the return value: g64 RCX, RDX, RSI, RDI, R8-R11; 32-bit ECX, EDX.
 */
void marshal_scrub_regs(struct marshal_regs *regs, bool g64);

XHV_END_DECLS

#endif /* HYPAPPS_TRUSTVISOR_MARSHAL_H */
