// SPDX-License-Identifier: Apache-2.0
// A scriptable stand-in for xhv/cpu_ops.h, linked into host unit tests.
#ifndef XHV_TESTING_FAKES_FAKE_CPU_H
#define XHV_TESTING_FAKES_FAKE_CPU_H

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <map>
#include <utility>
#include <vector>

#include "xhv/cpu_ops.h"

namespace xhv_fake {

struct PortWrite {
  uint16_t port;
  uint32_t value;
  int width;  // bytes
  bool operator==(const PortWrite &o) const {
    return port == o.port && value == o.value && width == o.width;
  }
};

// State behind the fake cpu_* functions. Tests set it up, call the code under
// test, then inspect what it did. Reset() between tests (FakeCpuTest does).
struct FakeCpu {
  std::map<std::pair<uint32_t, uint32_t>, cpuid_regs> cpuid;  // (leaf, subleaf)
  std::map<uint32_t, uint64_t> msrs;
  std::map<uint16_t, std::deque<uint32_t>> port_reads;  // scripted, else 0xFF..
  std::vector<PortWrite> port_writes;
  uword_t cr0 = 0, cr2 = 0, cr3 = 0, cr4 = 0;
  uword_t dr6 = 0;  // cpu_read_dr6, cpu_write_dr6
  std::map<uint32_t, uint64_t> xcr;  // cpu_xsetbv
  // Physical memory behind cpu_phys_ptr: [0, phys.size()), empty until a
  // test sizes it (phys.assign(bytes, 0)); ranges beyond it have no pointer.
  std::vector<uint8_t> phys;
  // [high_start, high_end) of it plays the i386 image's memory above 4 GiB:
  // cpu_phys_ptr has no pointer into it, and cpu_phys_map reaches a page
  // there only through the one temporary mapping, a copy that cpu_phys_unmap
  // writes back and then poisons (so a pointer used after its unmap reads
  // garbage, and a write through it is lost).
  uint64_t high_start = 0, high_end = 0;
  std::vector<uint8_t> window;       // the mapped page's bytes while mapped
  uint64_t window_pa = 0;            // the page it holds
  bool window_mapped = false;
  int window_maps = 0;               // cpu_phys_map calls that used it
  uint64_t tsc = 0;
  int halts = 0;
  int wbinvds = 0;  // cpu_wbinvd() calls
  size_t port_writes_at_wbinvd = 0;  // port_writes.size() at the last one
  // Called by cpu_pause() and cpu_send_nmi_all_but_self(): tests that
  // simulate several CPUs deliver NMIs there.
  std::function<void()> pause_hook;
  std::function<void()> send_nmi_hook;
  std::function<void()> nmi_unblock_hook;  // cpu_nmi_unblock()
  // cpu_halt_forever() prints, before it aborts, every port write made and
  // what this returns (death tests match both on the dying child's stderr).
  std::function<std::string()> halt_report;

  void Reset() { *this = FakeCpu(); }
};

FakeCpu &cpu();

}  // namespace xhv_fake

#endif  // XHV_TESTING_FAKES_FAKE_CPU_H
