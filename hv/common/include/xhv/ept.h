/* SPDX-License-Identifier: Apache-2.0 */
/* Extended page tables: build and edit one 4-level EPT, with 2 MiB/1 GiB leaves where they fit. */
#ifndef XHV_EPT_H
#define XHV_EPT_H

#include <stdbool.h>
#include <stdint.h>

#include "xhv/compiler.h"
#include "xhv/mtrr.h"

XHV_BEGIN_DECLS

/* Access rights (entry bits 2:0); 0 means not present. */
#define EPT_READ 1U
#define EPT_WRITE 2U
#define EPT_EXEC 4U
#define EPT_RWX (EPT_READ | EPT_WRITE | EPT_EXEC)

#define EPT_OK 0
/* Bad argument: unaligned, out of range, write without read, bad memory type. */
#define EPT_ERR_INVALID (-1)
/* The page source had no page left; see ept_map for what the map then holds. */
#define EPT_ERR_NOMEM (-2)

/* ept_lookup's answer when gpa has no present translation. */
#define EPT_NOT_PRESENT UINT64_MAX

/* Leaf levels: 1 maps 4 KiB, 2 maps 2 MiB, 3 maps 1 GiB. */
#define EPT_LEVEL_4K 1
#define EPT_LEVEL_2M 2
#define EPT_LEVEL_1G 3

#define EPT_PAGE_SIZE 0x1000ULL
/* 4-level EPT translates 48-bit guest-physical addresses. */
#define EPT_GPA_LIMIT (1ULL << 48)

/*
 * Where page-table pages come from. alloc returns the virtual address of a
 * 4 KiB-aligned page (its contents do not matter: ept zeroes or fills it)
 * and its physical address in *pa, or NULL when there is none left.
 * pa_to_va turns a table's physical address back into a pointer.
 */
struct ept_pages {
  void *(*alloc)(void *ctx, uint64_t *pa);
  void *(*pa_to_va)(void *ctx, uint64_t pa);
  void *ctx;
};

/*
 * One EPT. Callers that change an EPT some CPU is running on quiesce those
 * CPUs and INVEPT afterwards: entries are rewritten in place, and on i386 a
 * 64-bit entry store is two 32-bit stores.
 */
struct ept {
  uint64_t pml4_pa;
  void *pml4;
  const struct ept_pages *pages;
  /* Largest leaf ept_map may use: EPT_LEVEL_2M after ept_init; raise to
   * EPT_LEVEL_1G only if IA32_VMX_EPT_VPID_CAP bit 17 says the CPU has 1 GiB
   * pages; EPT_LEVEL_4K turns large pages off. */
  int max_leaf_level;
};

/* Allocates an empty PML4 from *pages (kept by reference). EPT_OK or EPT_ERR_NOMEM. */
int ept_init(struct ept *e, const struct ept_pages *pages);

/* The VMCS EPT pointer: PML4 address, write-back paging structures, 4-level walk (0x1E). */
uint64_t ept_eptp(const struct ept *e);

/*
 * Maps [gpa, gpa + size) to [hpa, hpa + size) with access prot (EPT_READ |
 * EPT_WRITE | EPT_EXEC, 0 = present in the tables but not to the guest) and
 * MTRR-encoded memtype. All three must be 4 KiB aligned. Uses the largest
 * leaf that alignment and max_leaf_level allow; a large leaf that is only
 * partly remapped is split, the rest keeping its old mapping. Never merges
 * existing tables back into a large leaf (pages are never freed).
 * EPT_ERR_NOMEM: pages before the failing one are mapped, the rest keep
 * their old mapping; the tables stay valid.
 */
int ept_map(struct ept *e, uint64_t gpa, uint64_t hpa, uint64_t size, uint32_t prot,
            uint8_t memtype);

/*
 * Maps [0, top) RWX to itself, top rounded up to 4 KiB, each page with its
 * MTRR type; large leaves only where mtrr_range_uniform says the type is
 * uniform. top must not exceed 2^MAXPHYADDR. Errors as ept_map.
 */
int ept_identity_map(struct ept *e, uint64_t top, const struct mtrr_state *mtrr);

/* The same for [base, top), base 4 KiB aligned: a region added later (MMIO above RAM). */
int ept_identity_map_range(struct ept *e, uint64_t base, uint64_t top,
                           const struct mtrr_state *mtrr);

/*
 * Sets the access rights of every mapped page in [gpa, gpa + size) (4 KiB
 * aligned) to prot, splitting large leaves that straddle the range ends.
 * prot 0 hides pages but keeps their address and type, so a later call can
 * show them again. Unmapped parts stay unmapped. Errors as ept_map.
 */
int ept_set_prot(struct ept *e, uint64_t gpa, uint64_t size, uint32_t prot);

/*
 * Translates gpa. Returns the host-physical address, or EPT_NOT_PRESENT if
 * the guest cannot access it. Each non-NULL output is set: the leaf's *prot,
 * *memtype and *level (hidden pages too, with *prot 0); if nothing is
 * mapped, *prot and *memtype are 0 and *level is where the walk stopped.
 */
uint64_t ept_lookup(const struct ept *e, uint64_t gpa, uint32_t *prot, uint8_t *memtype,
                    int *level);

XHV_END_DECLS

#endif /* XHV_EPT_H */
