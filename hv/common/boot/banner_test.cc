// SPDX-License-Identifier: Apache-2.0
// The banner reports bitness and the CPU features read from CPUID.
#include <cstring>
#include <string>

#include "gtest/gtest.h"
#include "testing/fakes/fake_cpu.h"
#include "xhv/version.h"

namespace {

cpuid_regs Regs(uint32_t a, uint32_t b, uint32_t c, uint32_t d) { return {a, b, c, d}; }

void SetVendor(const char *vendor12) {
  uint32_t r[3];
  std::memcpy(r, vendor12, 12);
  xhv_fake::cpu().cpuid[{0, 0}] = Regs(0xD, r[0], r[2], r[1]);
}

std::string Banner() {
  struct cpu_summary cpu;
  cpu_summary_read(&cpu);
  char buf[512];
  int n = banner_format(buf, sizeof(buf), &cpu);
  EXPECT_EQ(n, static_cast<int>(std::strlen(buf)));
  return buf;
}

TEST(Banner, ReportsVendorAndVmxPresent) {
  xhv_fake::cpu().Reset();
  SetVendor("GenuineIntel");
  xhv_fake::cpu().cpuid[{1, 0}] = Regs(0x206A7, 0, 1U << 5, (1U << 6) | (1U << 9));
  std::string b = Banner();
  EXPECT_NE(b.find("vendor=GenuineIntel signature=0x000206a7"), std::string::npos) << b;
  EXPECT_NE(b.find("vmx=yes pae=yes apic=yes x2apic=no long-mode=no"), std::string::npos) << b;
}

TEST(Banner, ReportsVmxAbsentAndLongModeFromExtendedLeaf) {
  xhv_fake::cpu().Reset();
  SetVendor("AuthenticAMD");
  xhv_fake::cpu().cpuid[{1, 0}] = Regs(0x800F12, 0, 1U << 31, 1U << 6);
  xhv_fake::cpu().cpuid[{0x80000000U, 0}] = Regs(0x80000001U, 0, 0, 0);
  xhv_fake::cpu().cpuid[{0x80000001U, 0}] = Regs(0, 0, 0, (1U << 29) | (1U << 20));
  std::string b = Banner();
  EXPECT_NE(b.find("vendor=AuthenticAMD"), std::string::npos) << b;
  EXPECT_NE(b.find("vmx=no pae=yes apic=no x2apic=no long-mode=yes nx=yes hypervisor=yes"),
            std::string::npos)
      << b;
}

TEST(Banner, NamesTheHostBitnessOnTheFirstLine) {
  xhv_fake::cpu().Reset();
  std::string b = Banner();
  // Host tests build for x86_64, so the banner names that arch and 64 bits.
  EXPECT_EQ(b.substr(0, b.find('\n')), "xhv " XHV_VERSION " x86_64 (64-bit hypervisor)");
}

TEST(Banner, BrandStringComesFromThreeLeaves) {
  xhv_fake::cpu().Reset();
  xhv_fake::cpu().cpuid[{0x80000000U, 0}] = Regs(0x80000004U, 0, 0, 0);
  const char brand[49] = "Test CPU @ 1.00GHz";
  uint32_t w[12] = {};
  std::memcpy(w, brand, 48);
  for (uint32_t i = 0; i < 3; i++) {
    xhv_fake::cpu().cpuid[{0x80000002U + i, 0}] = Regs(w[4 * i], w[4 * i + 1], w[4 * i + 2], w[4 * i + 3]);
  }
  std::string b = Banner();
  EXPECT_NE(b.find("brand=\"Test CPU @ 1.00GHz\""), std::string::npos) << b;
}

}  // namespace
