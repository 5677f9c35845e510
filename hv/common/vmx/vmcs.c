/* SPDX-License-Identifier: Apache-2.0 */
/* Width-checked VMREAD/VMWRITE of the current VMCS, the field name table and the VMCS dump. */
#include "xhv/vmcs.h"

#include <stddef.h>

#include "xhv/cpu_ops.h"
#include "xhv/panic.h"

/*
 * Every table entry must be a full-access encoding with the reserved bits
 * (31:15, 12) clear: SDM "VMREAD, VMWRITE, and Encodings of VMCS Fields".
 */
#define VMCS_FIELD(name, encoding)                                             \
  XHV_STATIC_ASSERT(((encoding) & ~0x6FFEU) == 0U,                             \
                    "VMCS_" #name ": reserved or access-type bit set");
#include "xhv/vmcs_fields.def"

struct vmcs_field_entry {
  uint32_t encoding;
  const char *name;
};

static const struct vmcs_field_entry vmcs_field_table[] = {
#define VMCS_FIELD(name, encoding) {(encoding), "VMCS_" #name},
#include "xhv/vmcs_fields.def"
};

const char *vmcs_field_name(uint32_t enc) {
  for (size_t i = 0; i < XHV_ARRAY_SIZE(vmcs_field_table); i++) {
    if (vmcs_field_table[i].encoding == enc) {
      return vmcs_field_table[i].name;
    }
  }
  return NULL;
}

const char *vmcs_width_name(enum vmcs_width width) {
  switch (width) {
    case VMCS_WIDTH_16:
      return "16-bit";
    case VMCS_WIDTH_64:
      return "64-bit";
    case VMCS_WIDTH_32:
      return "32-bit";
    case VMCS_WIDTH_NATURAL:
      return "natural-width";
  }
  return "invalid-width";
}

const char *vmx_instruction_error_name(uint32_t error) {
  /* SDM "VM-Instruction Error Numbers". */
  static const char *const names[] = {
      [1] = "VMCALL executed in VMX root operation",
      [2] = "VMCLEAR with invalid physical address",
      [3] = "VMCLEAR with VMXON pointer",
      [4] = "VMLAUNCH with non-clear VMCS",
      [5] = "VMRESUME with non-launched VMCS",
      [6] = "VMRESUME after VMXOFF",
      [7] = "VM entry with invalid control field(s)",
      [8] = "VM entry with invalid host-state field(s)",
      [9] = "VMPTRLD with invalid physical address",
      [10] = "VMPTRLD with VMXON pointer",
      [11] = "VMPTRLD with incorrect VMCS revision identifier",
      [12] = "VMREAD/VMWRITE from/to unsupported VMCS component",
      [13] = "VMWRITE to read-only VMCS component",
      [15] = "VMXON executed in VMX root operation",
      [16] = "VM entry with invalid executive-VMCS pointer",
      [17] = "VM entry with non-launched executive VMCS",
      [18] = "VM entry with executive-VMCS pointer not VMXON pointer",
      [19] = "VMCALL with non-clear VMCS",
      [20] = "VMCALL with invalid VM-exit control fields",
      [22] = "VMCALL with incorrect MSEG revision identifier",
      [23] = "VMXOFF under dual-monitor treatment of SMIs and SMM",
      [24] = "VMCALL with invalid SMM-monitor features",
      [25] = "VM entry with invalid VM-execution control fields in executive VMCS",
      [26] = "VM entry with events blocked by MOV SS",
      [28] = "invalid operand to INVEPT/INVVPID",
  };
  if (error < XHV_ARRAY_SIZE(names) && names[error] != NULL) {
    return names[error];
  }
  return "unknown VM-instruction error";
}

/*
 * The one place that knows the i386 image cannot move a 64-bit field in one
 * access: outside 64-bit mode VMREAD/VMWRITE move 32 bits, and encoding + 1
 * (access type "high") reaches bits 63:32 (SDM "VMREAD, VMWRITE, and
 * Encodings of VMCS Fields"). XHV_VMCS_FORCE_SPLIT64 lets a host test run
 * this path on x86_64.
 */
#if XHV_BITS == 32 || defined(XHV_VMCS_FORCE_SPLIT64)
#define VMCS_SPLIT_64BIT_FIELDS 1
#else
#define VMCS_SPLIT_64BIT_FIELDS 0
#endif

/* One field of any width; returns a CPU_VMX_* status. */
static int vmcs_raw_read(uint32_t enc, uint64_t *value) {
  uword_t lo = 0;
  int rc = cpu_vmread(enc, &lo);
  if (rc != CPU_VMX_OK) {
    return rc;
  }
  if (VMCS_SPLIT_64BIT_FIELDS && vmcs_encoding_width(enc) == VMCS_WIDTH_64) {
    uword_t hi = 0;
    rc = cpu_vmread(enc + 1U, &hi);
    if (rc != CPU_VMX_OK) {
      return rc;
    }
    *value = ((uint64_t)(uint32_t)hi << 32) | (uint32_t)lo;
    return CPU_VMX_OK;
  }
  *value = lo;
  return CPU_VMX_OK;
}

static int vmcs_raw_write(uint32_t enc, uint64_t value) {
  if (VMCS_SPLIT_64BIT_FIELDS && vmcs_encoding_width(enc) == VMCS_WIDTH_64) {
    /*
     * Low half first: a full-access VMWRITE from a 32-bit operand clears
     * bits 63:32 of the field (SDM "VMWRITE": "If the VMCS field is longer,
     * then the high bits of the field are cleared to 0").
     */
    int rc = cpu_vmwrite(enc, (uword_t)(uint32_t)value);
    if (rc != CPU_VMX_OK) {
      return rc;
    }
    return cpu_vmwrite(enc + 1U, (uword_t)(uint32_t)(value >> 32));
  }
  return cpu_vmwrite(enc, (uword_t)value);
}

static const char *vmcs_name_or_unknown(uint32_t enc) {
  const char *name = vmcs_field_name(enc);
  return name != NULL ? name : "unknown VMCS field";
}

static void vmcs_check_width(uint32_t enc, enum vmcs_width want, const char *accessor) {
  enum vmcs_width have = vmcs_encoding_width(enc);
  if (have != want || (enc & 1U) != 0U) {
    xhv_panic("%s: %s (0x%04x) is a %s%s field, not %s", accessor, vmcs_name_or_unknown(enc),
              (unsigned)enc, vmcs_width_name(have), (enc & 1U) != 0U ? " high-access" : "",
              vmcs_width_name(want));
  }
}

static void vmcs_check_status(int rc, uint32_t enc, const char *accessor, const char *insn) {
  if (rc == CPU_VMX_OK) {
    return;
  }
  if (rc == CPU_VMX_FAIL_INVALID) {
    xhv_panic("%s: %s of %s (0x%04x) failed: no current VMCS (VMfailInvalid)", accessor, insn,
              vmcs_name_or_unknown(enc), (unsigned)enc);
  }
  /* VMfailValid: the reason is in the current VMCS; read it raw, not via an accessor. */
  uword_t error = 0;
  if (cpu_vmread(VMCS_VM_INSTRUCTION_ERROR, &error) != CPU_VMX_OK) {
    xhv_panic("%s: %s of %s (0x%04x) failed (VMfailValid); VM-instruction error unreadable",
              accessor, insn, vmcs_name_or_unknown(enc), (unsigned)enc);
  }
  xhv_panic("%s: %s of %s (0x%04x) failed: VM-instruction error %u (%s)", accessor, insn,
            vmcs_name_or_unknown(enc), (unsigned)enc, (unsigned)error,
            vmx_instruction_error_name((uint32_t)error));
}

static uint64_t vmcs_read_checked(uint32_t enc, enum vmcs_width width, const char *accessor) {
  uint64_t value = 0;
  vmcs_check_width(enc, width, accessor);
  vmcs_check_status(vmcs_raw_read(enc, &value), enc, accessor, "VMREAD");
  return value;
}

static void vmcs_write_checked(uint32_t enc, uint64_t value, enum vmcs_width width,
                               const char *accessor) {
  vmcs_check_width(enc, width, accessor);
  vmcs_check_status(vmcs_raw_write(enc, value), enc, accessor, "VMWRITE");
}

uint16_t vmcs_read16(enum vmcs_field field) {
  return (uint16_t)vmcs_read_checked(field, VMCS_WIDTH_16, "vmcs_read16");
}

uint32_t vmcs_read32(enum vmcs_field field) {
  return (uint32_t)vmcs_read_checked(field, VMCS_WIDTH_32, "vmcs_read32");
}

uint64_t vmcs_read64(enum vmcs_field field) {
  return vmcs_read_checked(field, VMCS_WIDTH_64, "vmcs_read64");
}

uword_t vmcs_readnw(enum vmcs_field field) {
  return (uword_t)vmcs_read_checked(field, VMCS_WIDTH_NATURAL, "vmcs_readnw");
}

void vmcs_write16(enum vmcs_field field, uint16_t value) {
  vmcs_write_checked(field, value, VMCS_WIDTH_16, "vmcs_write16");
}

void vmcs_write32(enum vmcs_field field, uint32_t value) {
  vmcs_write_checked(field, value, VMCS_WIDTH_32, "vmcs_write32");
}

void vmcs_write64(enum vmcs_field field, uint64_t value) {
  vmcs_write_checked(field, value, VMCS_WIDTH_64, "vmcs_write64");
}

void vmcs_writenw(enum vmcs_field field, uword_t value) {
  vmcs_write_checked(field, value, VMCS_WIDTH_NATURAL, "vmcs_writenw");
}

/* Hex digits that show a field's full width. */
static int vmcs_hex_digits(enum vmcs_width width) {
  switch (width) {
    case VMCS_WIDTH_16:
      return 4;
    case VMCS_WIDTH_32:
      return 8;
    case VMCS_WIDTH_64:
      return 16;
    case VMCS_WIDTH_NATURAL:
      return (int)(2U * XHV_WORD_BYTES);
  }
  return 16;
}

void vmcs_dump(vmcs_print_fn print) {
  unsigned skipped = 0U;
  uword_t probe = 0;
  /* VMfailInvalid on any read means there is no current VMCS at all. */
  if (cpu_vmread(VMCS_VM_INSTRUCTION_ERROR, &probe) == CPU_VMX_FAIL_INVALID) {
    print("vmcs: no current VMCS\n");
    return;
  }
  print("vmcs: dump of %u fields\n", (unsigned)XHV_ARRAY_SIZE(vmcs_field_table));
  for (size_t i = 0; i < XHV_ARRAY_SIZE(vmcs_field_table); i++) {
    const struct vmcs_field_entry *f = &vmcs_field_table[i];
    uint64_t value = 0;
    if (vmcs_raw_read(f->encoding, &value) != CPU_VMX_OK) {
      skipped++;
      continue;
    }
    print("  %-36s (0x%04x) = 0x%0*llx\n", f->name, (unsigned)f->encoding,
          vmcs_hex_digits(vmcs_encoding_width(f->encoding)), (unsigned long long)value);
  }
  if (skipped != 0U) {
    print("vmcs: %u fields not supported by this CPU\n", skipped);
  }
}

/* Each segment register's selector, base, limit and access-rights fields. */
static const enum vmcs_field guest_segment_fields[VMCS_SEG_COUNT][4] = {
    {VMCS_GUEST_ES_SELECTOR, VMCS_GUEST_ES_BASE, VMCS_GUEST_ES_LIMIT, VMCS_GUEST_ES_ACCESS_RIGHTS},
    {VMCS_GUEST_CS_SELECTOR, VMCS_GUEST_CS_BASE, VMCS_GUEST_CS_LIMIT, VMCS_GUEST_CS_ACCESS_RIGHTS},
    {VMCS_GUEST_SS_SELECTOR, VMCS_GUEST_SS_BASE, VMCS_GUEST_SS_LIMIT, VMCS_GUEST_SS_ACCESS_RIGHTS},
    {VMCS_GUEST_DS_SELECTOR, VMCS_GUEST_DS_BASE, VMCS_GUEST_DS_LIMIT, VMCS_GUEST_DS_ACCESS_RIGHTS},
    {VMCS_GUEST_FS_SELECTOR, VMCS_GUEST_FS_BASE, VMCS_GUEST_FS_LIMIT, VMCS_GUEST_FS_ACCESS_RIGHTS},
    {VMCS_GUEST_GS_SELECTOR, VMCS_GUEST_GS_BASE, VMCS_GUEST_GS_LIMIT, VMCS_GUEST_GS_ACCESS_RIGHTS},
    {VMCS_GUEST_LDTR_SELECTOR, VMCS_GUEST_LDTR_BASE, VMCS_GUEST_LDTR_LIMIT,
     VMCS_GUEST_LDTR_ACCESS_RIGHTS},
    {VMCS_GUEST_TR_SELECTOR, VMCS_GUEST_TR_BASE, VMCS_GUEST_TR_LIMIT, VMCS_GUEST_TR_ACCESS_RIGHTS},
};

void vmcs_read_guest_segment(enum vmcs_seg seg, struct vmcs_segment *s) {
  s->sel = vmcs_read16(guest_segment_fields[seg][0]);
  s->base = vmcs_readnw(guest_segment_fields[seg][1]);
  s->limit = vmcs_read32(guest_segment_fields[seg][2]);
  s->ar = vmcs_read32(guest_segment_fields[seg][3]);
}

void vmcs_write_guest_segment(enum vmcs_seg seg, const struct vmcs_segment *s) {
  vmcs_write16(guest_segment_fields[seg][0], s->sel);
  vmcs_writenw(guest_segment_fields[seg][1], s->base);
  vmcs_write32(guest_segment_fields[seg][2], s->limit);
  vmcs_write32(guest_segment_fields[seg][3], s->ar);
}
