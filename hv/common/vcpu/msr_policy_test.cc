// SPDX-License-Identifier: Apache-2.0
// The MSR bitmap intercepts exactly what the policy keeps from the guest.
#include "xhv/msr_policy.h"

#include <cstdint>
#include <set>
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

TEST(MsrPolicy, EveryMtrrHasItsOwnShadowSlot) {
  std::set<int> slots;
  std::vector<uint32_t> mtrrs = {0x250, 0x258, 0x259, 0x2FF};
  for (uint32_t msr = 0x200; msr <= 0x213; msr++) mtrrs.push_back(msr);
  for (uint32_t msr = 0x268; msr <= 0x26F; msr++) mtrrs.push_back(msr);
  for (uint32_t msr : mtrrs) {
    int slot = mtrr_shadow_slot(msr);
    ASSERT_GE(slot, 0) << std::hex << msr;
    ASSERT_LT(slot, static_cast<int>(MTRR_SHADOW_SLOTS));
    EXPECT_TRUE(slots.insert(slot).second) << "slot reused by " << std::hex << msr;
    EXPECT_EQ(msr_policy(msr, true), MSR_MTRR_SHADOW);
  }
  EXPECT_EQ(mtrr_shadow_slot(0xFE), -1) << "MTRRCAP is read-only hardware information";
  EXPECT_EQ(mtrr_shadow_slot(0x277), -1) << "PAT is the guest's own";
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
