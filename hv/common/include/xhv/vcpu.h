/* SPDX-License-Identifier: Apache-2.0 */
/* Turning a CPU into a guest CPU: machine-wide VMX set-up and per-CPU launch. */
#ifndef XHV_VCPU_H
#define XHV_VCPU_H

#include <stdbool.h>
#include <stdint.h>

#include "xhv/compiler.h"
#include "xhv/percpu.h"

XHV_BEGIN_DECLS

/* Where the guest's boot sector runs and which BIOS drive it boots from. */
#define GUEST_BOOT_SECTOR 0x7C00U

struct guest_boot {
  const uint8_t *mbr;   /* the guest disk's boot sector (512 bytes) */
  uint8_t boot_drive;   /* BIOS drive number handed over in DL */
  uint64_t hide_base;   /* hypervisor memory the guest must not see */
  uint64_t hide_size;
  uint64_t second_hide_base;
  uint64_t second_hide_size;
  /* Direct boot (PVH): the kernel's 32-bit entry and its start_info; 0 for the MBR chain. */
  uint32_t pvh_entry;
  uint32_t pvh_start_info;
};

/*
 * BSP, once, before any CPU enters VMX: checks and reports the VMX
 * capabilities (panics naming the first missing feature), chooses the
 * controls, builds the EPT shared by all CPUs (identity map, MTRR memory
 * types, the hypervisor's ranges not present) and the MSR/I/O bitmaps.
 */
void vmx_machine_init(const struct guest_boot *boot);

/*
 * Every CPU: VMXON, a fresh VMCS with host state and the initial guest
 * state, then VMLAUNCH. The BSP's guest starts in real mode at 0x7C00 with
 * the MBR loaded and DL = the boot drive, or, for a direct boot, at the
 * kernel's PVH entry with EBX = start_info; an AP's guest waits for SIPI.
 * Never returns.
 */
XHV_NORETURN void vmx_cpu_launch(struct cpu *cpu);

/*
 * Loads the current VMCS with the state a CPU has after INIT, as a guest in
 * real mode at `cs`:`ip`, in the given activity state (SIPI, BSP start).
 */
void vmx_guest_reset_state(uint16_t cs, uword_t ip, uint32_t activity);

/*
 * Loads the current VMCS with the state the PVH boot ABI starts a kernel in:
 * 32-bit protected mode with flat code and data segments, paging and
 * interrupts off, at `entry`.
 */
void vmx_guest_pvh_state(uint32_t entry);

/* Makes guest accesses to `port` exit (I/O bitmaps). BSP, before launch. */
void vmx_io_intercept_port(uint16_t port);

/* True if `gpa` is hypervisor memory hidden from the guest. */
bool vmx_hidden_gpa(uint64_t gpa);

/*
 * Backs the 4 KiB guest page at `gpa` with one blank page (shared, RW, no
 * execute): a guest that touches hypervisor memory reads zeros or its own
 * earlier writes there, never the hypervisor's bytes.
 */
void vmx_map_blank_page(uint64_t gpa);

/*
 * Maps the guest page `gpa` to `hpa` with `prot` (EPT_READ/WRITE/EXEC, 0 =
 * not present) and `memtype`, then flushes this CPU's EPT translations.
 * Other CPUs running the guest keep stale translations until they flush.
 */
void vmx_ept_map_page(uint64_t gpa, uint64_t hpa, uint32_t prot, uint8_t memtype);

/* Called by the exit stub when VMRESUME fails; never returns. */
XHV_NORETURN void vmx_vmresume_failed(int code);

XHV_END_DECLS

#endif /* XHV_VCPU_H */
