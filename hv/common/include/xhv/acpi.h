/* SPDX-License-Identifier: Apache-2.0 */
/* Just enough ACPI to find the tables and power the machine off (S5). */
#ifndef XHV_ACPI_H
#define XHV_ACPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xhv/compiler.h"

XHV_BEGIN_DECLS

struct acpi_s5 {
  uint16_t pm1a_cnt; /* PM1a control port (FADT PM1a_CNT_BLK) */
  uint16_t pm1b_cnt; /* 0 when the machine has no PM1b block */
  uint8_t slp_typ_a; /* SLP_TYPa for S5, from the DSDT's \_S5 package */
  uint8_t slp_typ_b;
};

/* The FADT's reset register (ACPI 2.0+), when it is an I/O port. */
struct acpi_reset {
  uint16_t port;
  uint8_t value; /* RESET_VALUE: writing it to the port resets the machine */
};

/* The 8-bit sum of `len` bytes; a valid ACPI structure sums to 0. */
uint8_t acpi_checksum(const uint8_t *p, size_t len);

/*
 * Finds a valid RSDP ("RSD PTR ", 16-byte aligned, checksum OK) in
 * [base, base + len). Returns its offset from `base`, or -1.
 */
long acpi_find_rsdp(const uint8_t *base, size_t len);

/*
 * Reads SLP_TYPa/b of the \_S5 sleep package from DSDT AML. Returns false
 * when the AML has no well-formed _S5 package.
 */
bool acpi_parse_s5(const uint8_t *aml, size_t len, uint8_t *slp_typ_a, uint8_t *slp_typ_b);

/* The physical address of the RSDP (EBDA, then the BIOS ROM area), or 0 if there is none. */
uint32_t acpi_rsdp_address(void);

/*
 * Walks RSDP -> RSDT -> FADT -> DSDT in physical memory (identity mapped)
 * and fills `out`. Returns false if any table is missing or corrupt.
 */
bool acpi_find_s5(struct acpi_s5 *out);

/*
 * Collects the local APIC IDs of enabled processors from a MADT ("APIC"
 * table, whole table including its header) in table order; the first is the
 * boot CPU by convention. Returns how many were found (at most `max`), or -1
 * when the table is malformed.
 */
int acpi_madt_cpus(const uint8_t *madt, size_t len, uint32_t *apic_ids, uint32_t max);

/* Finds the MADT in physical memory and runs acpi_madt_cpus on it; -1 if none. */
int acpi_find_cpus(uint32_t *apic_ids, uint32_t max);

/*
 * Reads the reset register of a FADT (whole table, `len` bytes): true if
 * the table says it has one (RESET_REG_SUP) and it is a byte-wide I/O port.
 * A FADT older than ACPI 2.0 has none; a memory-mapped one is not used.
 */
bool acpi_parse_reset(const uint8_t *fadt, size_t len, struct acpi_reset *out);

/* Finds the FADT in physical memory and runs acpi_parse_reset on it. */
bool acpi_find_reset(struct acpi_reset *out);

/* Enters S5 through the PM1 control blocks; returns only if that failed. */
void acpi_poweroff(const struct acpi_s5 *s5);

XHV_END_DECLS

#endif /* XHV_ACPI_H */
