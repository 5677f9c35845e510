/* SPDX-License-Identifier: Apache-2.0 */
/* The guest's BIOS services the hypervisor takes over: INT 15h E820. */
#ifndef XHV_GUEST_BIOS_H
#define XHV_GUEST_BIOS_H

#include <stdbool.h>

#include "xhv/arch.h"
#include "xhv/compiler.h"
#include "xhv/e820.h"
#include "xhv/percpu.h"

XHV_BEGIN_DECLS

/* Real-mode address of the hook stub (VMCALL; IRET) in the BIOS data area. */
#define E820_HOOK_SEGMENT 0x0040U
#define E820_HOOK_OFFSET 0x00ACU

/*
 * Points the guest's INT 15h vector at a VMCALL stub in the BIOS data area,
 * remembering the BIOS's own handler, so E820 queries reach
 * guest_bios_int15 with `map` as the answer. BSP, before the guest runs.
 */
void guest_bios_install_e820(const struct e820_map *map);

/*
 * Handles a VMCALL exit if it came from the hook stub (real mode, CS base
 * 0x400, IP 0xAC): answers E820 from the edited map, or chains to the
 * BIOS's handler for every other INT 15h function. Every address involved
 * (the caller's buffer at ES:DI, the IRET frame at SS:SP, the saved
 * vector) comes from segment bases the guest chose, unreal mode included:
 * all go through the checked accessor (xhv/guest_mem.h), with the other
 * CPUs quiesced. A buffer that is not the guest's RAM gets the call failed
 * (CF set, AH = 86h) and nothing written. Returns false when the VMCALL was
 * not the hook's; *advance says whether to skip the VMCALL.
 */
bool guest_bios_int15(struct cpu *cpu, struct cpu_regs *regs, bool *advance);

XHV_END_DECLS

#endif /* XHV_GUEST_BIOS_H */
