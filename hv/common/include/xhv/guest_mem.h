/* SPDX-License-Identifier: Apache-2.0 */
/* The one checked way the hypervisor reads and writes guest-physical memory. */
#ifndef XHV_GUEST_MEM_H
#define XHV_GUEST_MEM_H

#include <stdbool.h>
#include <stdint.h>

#include "xhv/compiler.h"
#include "xhv/e820.h"
#include "xhv/ept.h"
#include "xhv/mem_io.h"

XHV_BEGIN_DECLS

/*
 * Every access the hypervisor makes to guest memory (the INT 15h E820
 * hook, task-switch and string-I/O emulation, TrustVisor's marshalling and
 * scrubbing) goes through guest_mem_read / guest_mem_write, checked page by
 * page against a view:
 *
 *  - view NULL, the regular guest: the page must be RAM in the E820 map the
 *    guest was given (guest_mem_init) and mapped straight through by the
 *    regular EPT (gpa = hpa, read, write and execute). That refuses
 *    hypervisor memory (not present), pages lent to a hypapp (its zero page,
 *    or no write right), the trapped local APIC, and MMIO and ROM (not RAM).
 *  - an EPT a hypapp built (a PAL's view): the page must be mapped there
 *    gpa = hpa with the access's right (EPT_READ to read, EPT_WRITE to
 *    write). That EPT is the hypapp's statement of what the view holds.
 *
 * Each call is all or nothing: a refused access copies nothing. Ranges may
 * cross pages; each page is checked, then each is copied. Callers run in an
 * exit handler or a hypapp callback, never in NMI context, and hold the
 * quiesce (xhv/quiesce.h) once the guest runs: the views change only under
 * it, so none changes between a call's checks and its copy.
 */
bool guest_mem_read(const struct ept *view, uint64_t gpa, void *buf, uint32_t len);
bool guest_mem_write(const struct ept *view, uint64_t gpa, const void *buf, uint32_t len);
/* Sets [gpa, gpa + len) to `value` (scrubbing), with guest_mem_write's checks. */
bool guest_mem_fill(const struct ept *view, uint64_t gpa, uint8_t value, uint32_t len);

/* Whether every page of [gpa, gpa + len) passes the checks above for `access` (EPT_READ/WRITE). */
bool guest_mem_reachable(const struct ept *view, uint64_t gpa, uint64_t len, uint32_t access);

/* The guest's RAM, as the map it is given says (BSP, once, before the guest runs). */
void guest_mem_init(const struct e820_map *guest_map);
/* True if [gpa, gpa + len) is all usable RAM in that map. */
bool guest_mem_is_ram(uint64_t gpa, uint64_t len);

/* A mem_io (xhv/mem_io.h) over guest-physical addresses in `view`, for the gpt walker. */
struct mem_io guest_mem_io(const struct ept *view);

XHV_END_DECLS

#endif /* XHV_GUEST_MEM_H */
