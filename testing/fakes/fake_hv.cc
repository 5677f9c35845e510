// SPDX-License-Identifier: Apache-2.0
// Host implementations of the hypervisor services exit handlers use.
#include "testing/fakes/fake_hv.h"

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "testing/fakes/fake_cpu.h"
#include "xhv/apic_trap.h"
#include "xhv/cpu_ops.h"
#include "xhv/heap.h"
#include "xhv/hypapp.h"
#include "xhv/log.h"
#include "xhv/smp.h"
#include "xhv/vcpu.h"

namespace xhv_fake {

thread_local struct cpu *FakeHv::current = nullptr;

FakeHv &hv() {
  static FakeHv state;
  return state;
}

}  // namespace xhv_fake

using xhv_fake::cpu;
using xhv_fake::hv;

extern "C" {

void log_init(void) {}

void log_vprintf(const char *fmt, va_list ap) {
  char buf[1024];
  std::vsnprintf(buf, sizeof(buf), fmt, ap);
  hv().log += buf;
}

void log_printf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  log_vprintf(fmt, ap);
  va_end(ap);
}

void log_flush(void) {}

// The legacy quiesce build's line lock (xhv/log.h): a real lock, so the
// host stress test runs the seed's protocol with it.
static uint32_t line_lock;
void log_line_lock(void) {
  while (__atomic_exchange_n(&line_lock, 1U, __ATOMIC_ACQUIRE) != 0U) {
    cpu_pause();
  }
}
void log_line_unlock(void) { __atomic_store_n(&line_lock, 0U, __ATOMIC_RELEASE); }

struct cpu *this_cpu(void) { return hv().current ? hv().current : &hv().cpu0; }

struct cpu *cpu_by_index(uint32_t index) {
  return index == 0 ? &hv().cpu0 : index == 1 && hv().cpu_count > 1 ? &hv().cpu1 : nullptr;
}

uint32_t smp_cpu_count(void) { return hv().cpu_count; }

void *heap_alloc_pages(uint32_t count, uint32_t align_pages, uint64_t *pa) {
  uint64_t align = static_cast<uint64_t>(align_pages ? align_pages : 1U) * PAGE_SIZE;
  uint64_t start = (hv().heap_next + align - 1U) & ~(align - 1U);
  uint64_t end = start + static_cast<uint64_t>(count) * PAGE_SIZE;
  void *p = end <= hv().heap_end ? cpu_phys_ptr(start, end - start) : nullptr;
  if (p == nullptr) {
    std::fprintf(stderr, "fake heap: exhausted\n");
    std::abort();
  }
  hv().heap_next = end;
  std::memset(p, 0, end - start);
  *pa = start;
  return p;
}

const struct vmx_caps *vmx_machine_caps(void) { return &hv().caps; }

void vmx_guest_reset_state(uint16_t cs, uword_t ip, uint32_t activity) {
  hv().resets.push_back({cs, ip, activity});
}

bool apic_trap_ept_violation(struct cpu *, uint64_t, uint32_t, bool) { return false; }

bool apic_trap_step_end(struct cpu *, bool) { return false; }

// A parked CPU: the test says what comes first, a SIPI (its vector) or an
// NMI for the guest, which only a park that wakes on NMIs returns for.
bool apic_trap_park(struct cpu *cpu, bool wake_on_nmi, uint32_t *vector) {
  hv().parks++;
  hv().park_wake_on_nmi = wake_on_nmi;
  if (hv().park_sipi_vector >= 0) {
    if (!wake_on_nmi) {
      __atomic_add_fetch(&cpu->guest_nmi_owed, 1U, __ATOMIC_ACQ_REL);  // came while it waited
    }
    *vector = static_cast<uint32_t>(hv().park_sipi_vector);
    return true;
  }
  if (!wake_on_nmi) {
    std::fprintf(stderr, "fake_hv: a park only a SIPI ends, and the test sends none\n");
    std::abort();  // the real one would wait for ever
  }
  __atomic_add_fetch(&cpu->guest_nmi_owed, 1U, __ATOMIC_ACQ_REL);
  return false;
}

}  // extern "C"
