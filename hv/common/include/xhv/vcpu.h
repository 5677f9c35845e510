/* SPDX-License-Identifier: Apache-2.0 */
/* Turning a CPU into a guest CPU: machine-wide VMX set-up and per-CPU launch. */
#ifndef XHV_VCPU_H
#define XHV_VCPU_H

#include <stdbool.h>
#include <stdint.h>

#include "xhv/compiler.h"
#include "xhv/percpu.h"
#include "xhv/vmx_caps.h"

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
  uint64_t map_top; /* the end of the highest range of the guest's memory map */
};

/*
 * BSP, once, before any CPU enters VMX: checks and reports the VMX
 * capabilities (panics naming the first missing feature), chooses the
 * controls, builds the EPT shared by all CPUs (xhv/guest_ept.h) and the
 * MSR/I/O bitmaps.
 */
void vmx_machine_init(const struct guest_boot *boot);

/* The VMX capabilities vmx_machine_init read (CR0/CR4 fixed bits for the exit handlers). */
const struct vmx_caps *vmx_machine_caps(void);

/* Where a CPU's guest starts. */
struct guest_start {
  bool pvh;            /* at a kernel's PVH entry, else in real mode as after INIT */
  uint16_t cs;         /* real mode: CS selector (base cs << 4), IP, SP, RFLAGS, DL */
  uint16_t ip;
  uint16_t sp;
  uint16_t flags;      /* bit 1 is always set */
  uint8_t dl;          /* the BIOS drive a boot sector is handed (the BSP), else 0 */
  uint32_t pvh_entry;  /* PVH: 32-bit protected mode at pvh_entry, EBX = pvh_start_info */
  uint32_t pvh_start_info;
};

/*
 * Every CPU: VMXON, a fresh VMCS with host state and the guest at `start`,
 * the hypapp's per-CPU init, then VMLAUNCH. Never returns. (The BSP's guest
 * starts at the boot sector or the PVH entry; an AP's once the guest's
 * start-up IPI names its vector, xhv/apic_trap.h.)
 */
XHV_NORETURN void vmx_cpu_launch(struct cpu *cpu, const struct guest_start *start);

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

/* Called by the exit stub when VMRESUME fails; never returns. */
XHV_NORETURN void vmx_vmresume_failed(int code);

XHV_END_DECLS

#endif /* XHV_VCPU_H */
