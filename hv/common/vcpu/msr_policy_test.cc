// SPDX-License-Identifier: Apache-2.0
// The MSR bitmap intercepts exactly what the policy keeps from the guest.
#include "xhv/msr_policy.h"

#include <cstdint>
#include <vector>

#include "gtest/gtest.h"

namespace {

std::vector<uint8_t> Bitmap() {
  std::vector<uint8_t> b(4096, 0);
  msr_bitmap_build(b.data());
  return b;
}

TEST(MsrPolicy, VmxCapabilityMsrsDoNotExistForTheGuest) {
  for (uint32_t msr = 0x480; msr <= 0x491; msr++) {
    EXPECT_EQ(msr_policy(msr, false), MSR_GP) << std::hex << msr;
  }
  EXPECT_EQ(msr_policy(0x47F, false), MSR_PASS);
  EXPECT_EQ(msr_policy(0x492, false), MSR_PASS);
}

TEST(MsrPolicy, MtrrsAndOtherArchitecturalMsrsPassThrough) {
  for (uint32_t msr : {0x200U, 0x250U, 0x2FFU, 0x277U /*PAT*/, 0x1BU /*APIC_BASE*/, 0x10U}) {
    EXPECT_EQ(msr_policy(msr, false), MSR_PASS) << std::hex << msr;
    EXPECT_EQ(msr_policy(msr, true), MSR_PASS) << std::hex << msr;
  }
}

TEST(MsrBitmap, InterceptsExactlyThePolicy) {
  auto b = Bitmap();
  for (uint32_t msr = 0; msr < 0x2000; msr++) {
    for (bool write : {false, true}) {
      EXPECT_EQ(msr_bitmap_exits(b.data(), msr, write), msr_policy(msr, write) != MSR_PASS)
          << std::hex << msr << (write ? " write" : " read");
    }
  }
}

TEST(MsrBitmap, HighRangeMsrsPassThrough) {
  auto b = Bitmap();
  for (uint32_t msr : {0xC0000080U /*EFER*/, 0xC0000100U /*FS_BASE*/, 0xC0000102U}) {
    EXPECT_FALSE(msr_bitmap_exits(b.data(), msr, false));
    EXPECT_FALSE(msr_bitmap_exits(b.data(), msr, true));
  }
}

TEST(MsrBitmap, MsrsOutsideBothRangesAlwaysExit) {
  auto b = Bitmap();
  EXPECT_TRUE(msr_bitmap_exits(b.data(), 0x4B564D00U, false));
  EXPECT_TRUE(msr_bitmap_exits(b.data(), 0x2000U, true));
}

TEST(MsrBitmap, ReadAndWriteHalvesAreSeparate) {
  auto b = Bitmap();
  // EFER has no intercept; poke only its write bit and see reads stay free.
  b[3072 + (0x80 / 8)] |= 1U << (0x80 % 8);
  EXPECT_TRUE(msr_bitmap_exits(b.data(), 0xC0000080U, true));
  EXPECT_FALSE(msr_bitmap_exits(b.data(), 0xC0000080U, false));
}

}  // namespace
