/* SPDX-License-Identifier: Apache-2.0 */
/* The core's side of the regular guest's EPT: building it, hiding the hypervisor, single-page edits. */
#ifndef XHV_GUEST_EPT_H
#define XHV_GUEST_EPT_H

#include <stdbool.h>
#include <stdint.h>

#include "xhv/compiler.h"
#include "xhv/mtrr.h"

XHV_BEGIN_DECLS

/*
 * BSP, once, before any CPU enters VMX: the regular EPT maps [0, top) to
 * itself with the MTRRs' memory types, except the two hypervisor ranges,
 * which are not present. Hypapps see the result through xhv/guest.h. The
 * MTRRs are kept for guest_ept_map_device.
 */
void guest_ept_init(uint64_t top, const struct mtrr_state *mtrr, uint64_t hide_base,
                    uint64_t hide_size, uint64_t second_base, uint64_t second_size);

/*
 * The guest-physical space above what guest_ept_init mapped, up to the
 * CPU's physical address width, holds no RAM (the memory map ends below)
 * but may hold devices (64-bit PCI BARs). The first access to a 2 MiB
 * region there maps it to itself with its MTRR type, quiesced; true if
 * `gpa` was such an address (the access runs again), false otherwise.
 */
bool guest_ept_map_device(uint64_t gpa);

/* True if `gpa` is hypervisor memory hidden from the guest. */
bool guest_hidden_gpa(uint64_t gpa);

/* Where the hypervisor's image is (guest_ept_init's second range). */
void guest_ept_hypervisor_image(uint64_t *base, uint64_t *size);

/*
 * Maps the regular guest's 4 KiB page at `gpa` to `hpa` with `prot`
 * (EPT_READ/WRITE/EXEC, 0 = not present) and `memtype`; every CPU flushes
 * before it next enters the guest (guest_ept_changed). Every edit of the
 * regular EPT is made with every other CPU quiesced: none of them can then
 * be parked half-way through an edit (or holding the EPT lock the quiescer
 * needs), nor run the guest on a half-made change. This function quiesces
 * the others itself (nested when its caller already has). Not in NMI context.
 */
void guest_ept_map_page(uint64_t gpa, uint64_t hpa, uint32_t prot, uint8_t memtype);

/*
 * Shows the hidden page at `gpa` as the core's zero page, read-only: reads
 * of hypervisor memory see zeros without exiting again; writes and fetches
 * still exit (and get #GP). No view ever maps that page writable.
 */
void guest_ept_show_hidden_as_zero(uint64_t gpa);

XHV_END_DECLS

#endif /* XHV_GUEST_EPT_H */
