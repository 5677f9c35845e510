// SPDX-License-Identifier: Apache-2.0
// Host stand-ins for the hypervisor services an exit handler calls: the log,
// per-CPU lookup, and the VMX/EPT/APIC helpers it may ask for.
#ifndef XHV_TESTING_FAKES_FAKE_HV_H
#define XHV_TESTING_FAKES_FAKE_HV_H

#include <cstdint>
#include <string>
#include <vector>

#include "xhv/percpu.h"

namespace xhv_fake {

struct FakeHv {
  std::string log;                       // everything log_printf wrote
  struct cpu cpu0 {};                    // this_cpu() and cpu_by_index(0)
  // Tests that run several simulated CPUs as threads point this at each
  // thread's own struct cpu (it is thread_local there).
  static thread_local struct cpu *current;
  uint32_t cpu_count = 1;
  std::vector<uint64_t> blank_pages;     // vmx_map_blank_page calls
  uint64_t hidden_base = 0, hidden_size = 0;
  struct Reset {
    uint16_t cs;
    uword_t ip;
    uint32_t activity;
  };
  std::vector<Reset> resets;             // vmx_guest_reset_state calls

  void Clear() { *this = FakeHv(); }
};

FakeHv &hv();

}  // namespace xhv_fake

#endif  // XHV_TESTING_FAKES_FAKE_HV_H
