/* SPDX-License-Identifier: Apache-2.0 */
/* VMCS fields by name and width-checked VMREAD/VMWRITE accessors for the current VMCS. */
#ifndef XHV_VMCS_H
#define XHV_VMCS_H

#include <stdint.h>

#include "xhv/arch.h"
#include "xhv/compiler.h"

XHV_BEGIN_DECLS

/* Every field xhv uses, valued by its encoding; the list is xhv/vmcs_fields.def. */
enum vmcs_field {
#define VMCS_FIELD(name, encoding) VMCS_##name = (encoding),
#include "xhv/vmcs_fields.def"
};

/*
 * The parts of a field encoding (SDM "VMREAD, VMWRITE, and Encodings of VMCS
 * Fields"). They hold for any encoding, listed in the table or not.
 */
enum vmcs_width {
  VMCS_WIDTH_16 = 0,
  VMCS_WIDTH_64 = 1,
  VMCS_WIDTH_32 = 2,
  VMCS_WIDTH_NATURAL = 3,
};

enum vmcs_type {
  VMCS_TYPE_CONTROL = 0,
  VMCS_TYPE_EXIT_INFO = 1, /* "read-only data": exit information, VM-instruction error */
  VMCS_TYPE_GUEST = 2,
  VMCS_TYPE_HOST = 3,
};

/* Bits 14:13 of the encoding. */
static inline enum vmcs_width vmcs_encoding_width(uint32_t enc) {
  return (enum vmcs_width)((enc >> 13) & 3U);
}

/* Bits 11:10 of the encoding. */
static inline enum vmcs_type vmcs_encoding_type(uint32_t enc) {
  return (enum vmcs_type)((enc >> 10) & 3U);
}

/*
 * Read-only data fields reject VMWRITE unless IA32_VMX_MISC bit 29 is set
 * (SDM "VMWRITE"); xhv never relies on that bit.
 */
static inline int vmcs_encoding_is_read_only(uint32_t enc) {
  return vmcs_encoding_type(enc) == VMCS_TYPE_EXIT_INFO;
}

/* Bit 0 set on a 64-bit field: the access reaches bits 63:32 only. */
static inline int vmcs_encoding_is_high(uint32_t enc) {
  return vmcs_encoding_width(enc) == VMCS_WIDTH_64 && (enc & 1U) != 0U;
}

/*
 * The enumerator name of a table field ("VMCS_GUEST_RIP"), or NULL when enc
 * is not in the table (high-access encodings are not). For dumps and panics:
 * a linear search.
 */
const char *vmcs_field_name(uint32_t enc);

/* "16-bit", "64-bit", "32-bit" or "natural-width". */
const char *vmcs_width_name(enum vmcs_width width);

/*
 * The SDM's text for a VM-instruction error number (SDM "VM-Instruction
 * Error Numbers"); "unknown VM-instruction error" for numbers it does not
 * define.
 */
const char *vmx_instruction_error_name(uint32_t error);

/*
 * Accessors for the current VMCS. Contract for all eight: field must have the
 * accessor's width (checked on every call) and a current VMCS must be loaded;
 * a width mismatch or a failing VMREAD/VMWRITE panics, naming the accessor,
 * the field and the VM-instruction error. They never return an error.
 *
 * 64-bit fields are single accesses in the x86_64 image and two 32-bit
 * accesses (full encoding, then encoding + 1) in the i386 image. Natural-
 * width fields are as wide as uword_t.
 */
uint16_t vmcs_read16(enum vmcs_field field);
uint32_t vmcs_read32(enum vmcs_field field);
uint64_t vmcs_read64(enum vmcs_field field);
uword_t vmcs_readnw(enum vmcs_field field);

/* A write to a read-only (exit information) field panics, like any failure. */
void vmcs_write16(enum vmcs_field field, uint16_t value);
void vmcs_write32(enum vmcs_field field, uint32_t value);
void vmcs_write64(enum vmcs_field field, uint64_t value);
void vmcs_writenw(enum vmcs_field field, uword_t value);

/* The guest's segment registers in the SDM's encoding order. */
enum vmcs_seg {
  VMCS_SEG_ES,
  VMCS_SEG_CS,
  VMCS_SEG_SS,
  VMCS_SEG_DS,
  VMCS_SEG_FS,
  VMCS_SEG_GS,
  VMCS_SEG_LDTR,
  VMCS_SEG_TR,
  VMCS_SEG_COUNT
};

/* One guest segment register as the VMCS holds it. */
struct vmcs_segment {
  uint16_t sel;
  uword_t base;
  uint32_t limit;
  uint32_t ar; /* access rights, VMX's format */
};

void vmcs_read_guest_segment(enum vmcs_seg seg, struct vmcs_segment *s);
void vmcs_write_guest_segment(enum vmcs_seg seg, const struct vmcs_segment *s);

/* Where vmcs_dump sends its lines; log_printf fits. */
typedef void (*vmcs_print_fn)(const char *fmt, ...) XHV_PRINTF(1, 2);

/*
 * Prints every table field of the current VMCS, one "name = value" line
 * each, for the loud dump on a fatal exit. Never panics: fields this CPU
 * lacks are skipped and counted, and with no current VMCS it says so and
 * returns. Safe to call from a panic path.
 */
void vmcs_dump(vmcs_print_fn print);

XHV_END_DECLS

#endif /* XHV_VMCS_H */
