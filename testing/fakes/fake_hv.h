// SPDX-License-Identifier: Apache-2.0
// Host stand-ins for the hypervisor services an exit handler calls: the log,
// per-CPU lookup, the page heap, the VMX capabilities and the APIC trap.
#ifndef XHV_TESTING_FAKES_FAKE_HV_H
#define XHV_TESTING_FAKES_FAKE_HV_H

#include <cstdint>
#include <string>
#include <vector>

#include "xhv/e820.h"
#include "xhv/percpu.h"
#include "xhv/vmx_caps.h"

namespace xhv_fake {

struct FakeHv {
  std::string log;                       // everything log_printf wrote
  struct cpu cpu0 {};                    // this_cpu() and cpu_by_index(0)
  struct cpu cpu1 {};                    // cpu_by_index(1) when cpu_count is 2
  // Tests that run several simulated CPUs as threads point this at each
  // thread's own struct cpu (it is thread_local there).
  static thread_local struct cpu *current;
  uint32_t cpu_count = 1;
  struct vmx_caps caps {};               // vmx_machine_caps()
  // heap_alloc_pages hands out zeroed pages of the fake physical memory
  // (xhv_fake::cpu().phys) from heap_next up to heap_end.
  uint64_t heap_next = 0, heap_end = 0;
  struct e820_map guest_map {};          // what GuestMemory gives guest_mem_init
  struct Reset {
    uint16_t cs;
    uword_t ip;
    uint32_t activity;
  };
  std::vector<Reset> resets;             // vmx_guest_reset_state calls
  int parks = 0;                         // apic_trap_park calls
  int park_sipi_vector = -1;             // what a park ends with: a SIPI, or (-1) an NMI
  bool park_wake_on_nmi = true;          // the last park's: may an NMI end it

  void Clear() { *this = FakeHv(); }
};

FakeHv &hv();

}  // namespace xhv_fake

#endif  // XHV_TESTING_FAKES_FAKE_HV_H
