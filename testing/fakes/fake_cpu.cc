// SPDX-License-Identifier: Apache-2.0
// Host implementation of xhv/cpu_ops.h backed by xhv_fake::FakeCpu.
#include "testing/fakes/fake_cpu.h"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>

namespace xhv_fake {

FakeCpu &cpu() {
  static FakeCpu state;
  return state;
}

}  // namespace xhv_fake

using xhv_fake::cpu;

extern "C" {

void cpu_cpuid(uint32_t leaf, uint32_t subleaf, struct cpuid_regs *out) {
  auto it = cpu().cpuid.find({leaf, subleaf});
  *out = it == cpu().cpuid.end() ? cpuid_regs{0, 0, 0, 0} : it->second;
}

static uint32_t port_read(uint16_t port, uint32_t all_ones) {
  auto &q = cpu().port_reads[port];
  if (q.empty()) {
    return all_ones;  // an ISA bus with nothing behind the port
  }
  uint32_t v = q.front();
  if (q.size() > 1) {
    q.pop_front();  // the last scripted value repeats
  }
  return v;
}

uint8_t cpu_inb(uint16_t port) { return static_cast<uint8_t>(port_read(port, 0xFFU)); }
uint16_t cpu_inw(uint16_t port) { return static_cast<uint16_t>(port_read(port, 0xFFFFU)); }
uint32_t cpu_inl(uint16_t port) { return port_read(port, 0xFFFFFFFFU); }
void cpu_outb(uint16_t port, uint8_t value) { cpu().port_writes.push_back({port, value, 1}); }
void cpu_outw(uint16_t port, uint16_t value) { cpu().port_writes.push_back({port, value, 2}); }
void cpu_outl(uint16_t port, uint32_t value) { cpu().port_writes.push_back({port, value, 4}); }

uint64_t cpu_rdmsr(uint32_t msr) {
  auto it = cpu().msrs.find(msr);
  if (it == cpu().msrs.end()) {
    std::fprintf(stderr, "fake cpu: RDMSR of unset MSR 0x%x\n", msr);
    std::abort();
  }
  return it->second;
}

void cpu_wrmsr(uint32_t msr, uint64_t value) { cpu().msrs[msr] = value; }
uint64_t cpu_rdtsc(void) { return cpu().tsc++; }

void *cpu_phys_ptr(uint64_t pa, uint64_t len) {
  auto &m = cpu().phys;
  if (pa > m.size() || len > m.size() - pa) {
    return nullptr;
  }
  if (pa < cpu().high_end && pa + len > cpu().high_start) {
    return nullptr;  // beyond the identity map
  }
  return m.data() + pa;
}

static constexpr uint64_t kPage = 4096;

// Inside one page, and identity-mapped or (the window copies a whole page) all of its page in RAM.
bool cpu_phys_reachable(uint64_t pa, uint32_t len) {
  auto &m = cpu().phys;
  if (len == 0 || (pa & (kPage - 1)) + len > kPage) {
    return false;
  }
  uint64_t page = pa & ~(kPage - 1);
  return cpu_phys_ptr(pa, len) != nullptr || (page < m.size() && m.size() - page >= kPage);
}

void *cpu_phys_map(uint64_t pa, uint32_t len) {
  auto &c = cpu();
  if (!cpu_phys_reachable(pa, len)) {
    return nullptr;
  }
  if (void *p = cpu_phys_ptr(pa, len)) {
    return p;
  }
  if (c.window_mapped) {
    std::fprintf(stderr, "fake cpu: cpu_phys_map of 0x%llx while 0x%llx is still mapped\n",
                 static_cast<unsigned long long>(pa), static_cast<unsigned long long>(c.window_pa));
    std::abort();
  }
  uint64_t page = pa & ~(kPage - 1);
  c.window.assign(c.phys.begin() + page, c.phys.begin() + page + kPage);
  c.window_pa = page;
  c.window_mapped = true;
  c.window_maps++;
  return c.window.data() + (pa - page);
}

uint64_t cpu_phys_temporary_maps(void) { return static_cast<uint64_t>(cpu().window_maps); }

void cpu_phys_unmap(void *p) {
  auto &c = cpu();
  auto at = reinterpret_cast<uintptr_t>(p);
  auto start = reinterpret_cast<uintptr_t>(c.window.data());
  if (at < start || at - start >= c.window.size()) {
    return;  // an identity pointer (or NULL): nothing to end
  }
  if (!c.window_mapped) {
    std::fprintf(stderr, "fake cpu: cpu_phys_unmap of a window that is not mapped\n");
    std::abort();
  }
  std::copy(c.window.begin(), c.window.end(), c.phys.begin() + c.window_pa);
  std::fill(c.window.begin(), c.window.end(), 0xCC);
  c.window_mapped = false;
}

uword_t cpu_read_cr2(void) { return cpu().cr2; }
void cpu_write_cr2(uword_t value) { cpu().cr2 = value; }
uword_t cpu_read_dr6(void) { return cpu().dr6; }
void cpu_write_dr6(uword_t value) { cpu().dr6 = value; }
void cpu_xsetbv(uint32_t xcr, uint64_t value) { cpu().xcr[xcr] = value; }
uint64_t cpu_map_phys(uint64_t) { return cpu().phys.size(); }
void cpu_set_phys_limit(uint64_t) {}
uword_t cpu_read_cr0(void) { return cpu().cr0; }
uword_t cpu_read_cr3(void) { return cpu().cr3; }
uword_t cpu_read_cr4(void) { return cpu().cr4; }
void cpu_write_cr0(uword_t value) { cpu().cr0 = value; }
void cpu_write_cr3(uword_t value) { cpu().cr3 = value; }
void cpu_write_cr4(uword_t value) { cpu().cr4 = value; }

void cpu_wbinvd(void) {
  cpu().wbinvds++;
  cpu().port_writes_at_wbinvd = cpu().port_writes.size();
}

void cpu_pause(void) {
  if (cpu().pause_hook) {
    cpu().pause_hook();
  }
}

void cpu_nmi_unblock(void) {
  if (cpu().nmi_unblock_hook) {
    cpu().nmi_unblock_hook();
  }
}

void cpu_send_nmi_all_but_self(void) {
  if (cpu().send_nmi_hook) {
    cpu().send_nmi_hook();
  }
}

void cpu_halt_forever(void) {
  cpu().halts++;
  std::string writes;
  for (const auto &w : cpu().port_writes) {
    char one[48];
    std::snprintf(one, sizeof(one), " 0x%x<-0x%x", w.port, w.value);
    writes += one;
  }
  std::fprintf(stderr, "fake cpu: port writes:%s\n", writes.c_str());
  if (cpu().halt_report) {
    std::fprintf(stderr, "%s\n", cpu().halt_report().c_str());
  }
  std::fprintf(stderr, "fake cpu: halted for good\n");
  std::abort();
}

}  // extern "C"

extern "C" void xhv_panic(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::fprintf(stderr, "xhv: PANIC: ");
  std::vfprintf(stderr, fmt, ap);
  std::fprintf(stderr, "\n");
  va_end(ap);
  std::abort();
}
