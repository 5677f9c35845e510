/* SPDX-License-Identifier: Apache-2.0 */
/* ACPI table lookup and S5 power-off; parsing is pure and host-tested. */
#include "xhv/acpi.h"

#include "xhv/cpu_ops.h"
#include "xhv/string.h"

#define SDT_HEADER_LEN 36U
#define RSDP_LEN_V1 20U
#define RSDP_RSDT_OFFSET 16U
#define FADT_DSDT_OFFSET 40U
#define FADT_PM1A_CNT_OFFSET 64U
#define FADT_PM1B_CNT_OFFSET 68U
#define FADT_FLAGS_OFFSET 112U
#define FADT_RESET_REG_OFFSET 116U /* a Generic Address Structure: space, width, offset, size, address */
#define FADT_RESET_VALUE_OFFSET 128U
#define FADT_FLAG_RESET_REG_SUP (1U << 10)
#define GAS_SPACE_IO 1U
#define PM1_SLP_EN (1U << 13)
#define PM1_SLP_TYP_SHIFT 10U

#define AML_NAME_OP 0x08U
#define AML_PACKAGE_OP 0x12U
#define AML_ZERO_OP 0x00U
#define AML_ONE_OP 0x01U
#define AML_BYTE_PREFIX 0x0AU

/* BIOS areas where the RSDP may live (ACPI spec, "Finding the RSDP"). */
#define BDA_EBDA_SEGMENT 0x40EU
#define EBDA_SEARCH_LEN 1024U
#define BIOS_ROM_BASE 0xE0000U
#define BIOS_ROM_LEN 0x20000U

static uint32_t read_le32(const uint8_t *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
         ((uint32_t)p[3] << 24);
}

uint8_t acpi_checksum(const uint8_t *p, size_t len) {
  uint8_t sum = 0;
  for (size_t i = 0; i < len; i++) {
    sum = (uint8_t)(sum + p[i]);
  }
  return sum;
}

long acpi_find_rsdp(const uint8_t *base, size_t len) {
  for (size_t off = 0; off + RSDP_LEN_V1 <= len; off += 16U) {
    if (memcmp(base + off, "RSD PTR ", 8) == 0 && acpi_checksum(base + off, RSDP_LEN_V1) == 0) {
      return (long)off;
    }
  }
  return -1;
}

/* One S5 package element: ZeroOp, OneOp or BytePrefix + byte. */
static bool aml_small_integer(const uint8_t *p, const uint8_t *end, uint8_t *value, size_t *used) {
  if (p >= end) {
    return false;
  }
  if (*p == AML_ZERO_OP || *p == AML_ONE_OP) {
    *value = *p;
    *used = 1;
    return true;
  }
  if (*p == AML_BYTE_PREFIX && p + 1 < end) {
    *value = p[1];
    *used = 2;
    return true;
  }
  return false;
}

bool acpi_parse_s5(const uint8_t *aml, size_t len, uint8_t *slp_typ_a, uint8_t *slp_typ_b) {
  for (size_t i = 0; i + 4 < len; i++) {
    if (memcmp(aml + i, "_S5_", 4) != 0) {
      continue;
    }
    /* A definition is NameOp, optionally a root prefix '\', then the name. */
    if (!(i >= 1 && aml[i - 1] == AML_NAME_OP) &&
        !(i >= 2 && aml[i - 1] == '\\' && aml[i - 2] == AML_NAME_OP)) {
      continue;
    }
    const uint8_t *p = aml + i + 4;
    const uint8_t *end = aml + len;
    if (p >= end || *p != AML_PACKAGE_OP) {
      continue;
    }
    p++;
    if (p >= end) {
      return false;
    }
    /* PkgLength: bits 7:6 of the lead byte count the bytes that follow. */
    p += 1U + (size_t)(*p >> 6);
    p++; /* NumElements */
    size_t used = 0;
    if (!aml_small_integer(p, end, slp_typ_a, &used)) {
      return false;
    }
    p += used;
    if (!aml_small_integer(p, end, slp_typ_b, &used)) {
      *slp_typ_b = *slp_typ_a;
    }
    return true;
  }
  return false;
}

static const uint8_t *phys(uint32_t addr) { return (const uint8_t *)(uword_t)addr; }

static const uint8_t *valid_sdt(uint32_t addr, const char *sig) {
  const uint8_t *t = phys(addr);
  if (addr == 0 || memcmp(t, sig, 4) != 0) {
    return 0;
  }
  uint32_t len = read_le32(t + 4);
  if (len < SDT_HEADER_LEN || acpi_checksum(t, len) != 0) {
    return 0;
  }
  return t;
}

#define MADT_ENTRIES_OFFSET 44U
#define MADT_LOCAL_APIC 0U
#define MADT_LOCAL_APIC_ENABLED 1U

int acpi_madt_cpus(const uint8_t *madt, size_t len, uint32_t *apic_ids, uint32_t max) {
  if (len < MADT_ENTRIES_OFFSET) {
    return -1;
  }
  uint32_t count = 0;
  size_t off = MADT_ENTRIES_OFFSET;
  while (off + 2U <= len) {
    uint8_t type = madt[off];
    uint8_t entry_len = madt[off + 1U];
    if (entry_len < 2U || off + entry_len > len) {
      return -1;
    }
    if (type == MADT_LOCAL_APIC && entry_len >= 8U &&
        (read_le32(madt + off + 4U) & MADT_LOCAL_APIC_ENABLED) && count < max) {
      apic_ids[count++] = madt[off + 3U];
    }
    off += entry_len;
  }
  return (int)count;
}

uint32_t acpi_rsdp_address(void) {
  uint32_t ebda = (uint32_t)(*(const volatile uint16_t *)(uword_t)BDA_EBDA_SEGMENT) << 4;
  long off = ebda != 0 ? acpi_find_rsdp(phys(ebda), EBDA_SEARCH_LEN) : -1;
  if (off >= 0) {
    return ebda + (uint32_t)off;
  }
  off = acpi_find_rsdp(phys(BIOS_ROM_BASE), BIOS_ROM_LEN);
  return off >= 0 ? BIOS_ROM_BASE + (uint32_t)off : 0U;
}

/* The RSDT in physical memory, or 0. */
static const uint8_t *find_rsdt(void) {
  uint32_t rsdp = acpi_rsdp_address();
  return rsdp == 0U ? 0 : valid_sdt(read_le32(phys(rsdp) + RSDP_RSDT_OFFSET), "RSDT");
}

/* The first valid table with signature `sig` listed in the RSDT, or 0. */
static const uint8_t *find_table(const char *sig) {
  const uint8_t *rsdt = find_rsdt();
  if (rsdt == 0) {
    return 0;
  }
  uint32_t entries = (read_le32(rsdt + 4) - SDT_HEADER_LEN) / 4U;
  for (uint32_t i = 0; i < entries; i++) {
    const uint8_t *t = valid_sdt(read_le32(rsdt + SDT_HEADER_LEN + 4U * i), sig);
    if (t != 0) {
      return t;
    }
  }
  return 0;
}

int acpi_find_cpus(uint32_t *apic_ids, uint32_t max) {
  const uint8_t *madt = find_table("APIC");
  return madt == 0 ? -1 : acpi_madt_cpus(madt, read_le32(madt + 4), apic_ids, max);
}

bool acpi_find_s5(struct acpi_s5 *out) {
  const uint8_t *fadt = find_table("FACP");
  if (fadt == 0 || read_le32(fadt + 4) < FADT_PM1B_CNT_OFFSET + 4U) {
    return false;
  }
  const uint8_t *dsdt = valid_sdt(read_le32(fadt + FADT_DSDT_OFFSET), "DSDT");
  if (dsdt == 0) {
    return false;
  }
  out->pm1a_cnt = (uint16_t)read_le32(fadt + FADT_PM1A_CNT_OFFSET);
  out->pm1b_cnt = (uint16_t)read_le32(fadt + FADT_PM1B_CNT_OFFSET);
  return out->pm1a_cnt != 0 &&
         acpi_parse_s5(dsdt + SDT_HEADER_LEN, read_le32(dsdt + 4) - SDT_HEADER_LEN,
                       &out->slp_typ_a, &out->slp_typ_b);
}

bool acpi_parse_reset(const uint8_t *fadt, size_t len, struct acpi_reset *out) {
  if (len <= FADT_RESET_VALUE_OFFSET || !(read_le32(fadt + FADT_FLAGS_OFFSET) & FADT_FLAG_RESET_REG_SUP)) {
    return false;
  }
  const uint8_t *gas = fadt + FADT_RESET_REG_OFFSET;
  uint32_t address_low = read_le32(gas + 4);
  uint32_t address_high = read_le32(gas + 8);
  if (gas[0] != GAS_SPACE_IO || gas[1] != 8U || gas[2] != 0U || address_high != 0U ||
      address_low == 0U || address_low > 0xFFFFU) {
    return false;
  }
  out->port = (uint16_t)address_low;
  out->value = fadt[FADT_RESET_VALUE_OFFSET];
  return true;
}

bool acpi_find_reset(struct acpi_reset *out) {
  const uint8_t *fadt = find_table("FACP");
  return fadt != 0 && acpi_parse_reset(fadt, read_le32(fadt + 4), out);
}

void acpi_poweroff(const struct acpi_s5 *s5) {
  cpu_outw(s5->pm1a_cnt, (uint16_t)(PM1_SLP_EN | ((uint32_t)s5->slp_typ_a << PM1_SLP_TYP_SHIFT)));
  if (s5->pm1b_cnt != 0) {
    cpu_outw(s5->pm1b_cnt, (uint16_t)(PM1_SLP_EN | ((uint32_t)s5->slp_typ_b << PM1_SLP_TYP_SHIFT)));
  }
}
