// SPDX-License-Identifier: Apache-2.0
// The MSR policy keeps from the guest exactly what it says, and the bitmap intercepts exactly that.
#include "xhv/msr_policy.h"

#include <cstddef>
#include <cstdint>
#include <vector>

#include "gtest/gtest.h"

namespace {

// The SDM's layout of the 4 KiB MSR bitmap ("MSR-Bitmap Address"), written
// out here rather than taken from msr_policy.c, so a wrong offset there
// cannot agree with itself: four 1 KiB quarters, read-low (MSRs 0 to
// 1FFFH), read-high (C0000000H to C0001FFFH), write-low, write-high; MSR
// index n of a quarter is bit n % 8 of its byte n / 8.
struct SdmBit {
  size_t byte;
  uint8_t mask;
};

SdmBit SdmLocate(uint32_t msr, bool write) {
  const bool high = msr >= 0xC0000000U;
  const uint32_t index = high ? msr - 0xC0000000U : msr;
  const size_t quarter = (write ? 2U : 0U) + (high ? 1U : 0U);
  return {quarter * 1024U + index / 8U, static_cast<uint8_t>(1U << (index % 8U))};
}

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

TEST(MsrPolicy, IntelPtMsrsDoNotExistForTheGuest) {
  for (uint32_t msr : {0x560U, 0x561U, 0x570U, 0x571U, 0x572U, 0x580U, 0x587U}) {
    EXPECT_EQ(msr_policy(msr, false), MSR_GP) << std::hex << msr;
    EXPECT_EQ(msr_policy(msr, true), MSR_GP) << std::hex << msr;
  }
}

TEST(MsrPolicy, MtrrWritesAreDroppedAndReadsPass) {
  for (uint32_t msr : {0x200U, 0x201U, 0x20FU, 0x21FU, 0x250U, 0x258U, 0x259U, 0x268U, 0x26FU,
                       0x2FFU}) {
    EXPECT_EQ(msr_policy(msr, false), MSR_PASS) << std::hex << msr;
    EXPECT_EQ(msr_policy(msr, true), MSR_WRITE_DROP) << std::hex << msr;
  }
  EXPECT_EQ(msr_policy(0x277U /*PAT: switched by the VMCS*/, true), MSR_PASS);
  EXPECT_EQ(msr_policy(0x79U /*BIOS_UPDT_TRIG*/, true), MSR_WRITE_DROP);
}

TEST(MsrPolicy, ApicBaseWritesAreCheckedAndOnlyANoChangeWritePasses) {
  EXPECT_EQ(msr_policy(0x1B, false), MSR_PASS);
  EXPECT_EQ(msr_policy(0x1B, true), MSR_WRITE_CHECK);
  const uint64_t now = 0xFEE00900ULL;  // enabled, BSP, xAPIC at its reset base
  EXPECT_EQ(msr_check_write(0x1B, now, now), MSR_WRITE_HARDWARE);
  EXPECT_EQ(msr_check_write(0x1B, now & ~0x100ULL, now), MSR_WRITE_HARDWARE) << "BSP is read-only";
  EXPECT_EQ(msr_check_write(0x1B, now | 0x400ULL, now), MSR_WRITE_FAULT) << "x2APIC";
  EXPECT_EQ(msr_check_write(0x1B, now & ~0x800ULL, now), MSR_WRITE_FAULT) << "disable";
  EXPECT_EQ(msr_check_write(0x1B, 0xFED00900ULL, now), MSR_WRITE_FAULT) << "move";
}

TEST(MsrPolicy, MiscEnableWritesMayOnlyClearLimitCpuidAndXdDisable) {
  EXPECT_EQ(msr_policy(0x1A0, false), MSR_PASS);
  EXPECT_EQ(msr_policy(0x1A0, true), MSR_WRITE_CHECK);
  const uint64_t limit = 1ULL << 22, xd = 1ULL << 34, fast_strings = 1ULL << 0;
  const uint64_t now = fast_strings | limit | xd;
  EXPECT_EQ(msr_check_write(0x1A0, now, now), MSR_WRITE_HARDWARE);
  EXPECT_EQ(msr_check_write(0x1A0, now & ~limit, now), MSR_WRITE_HARDWARE) << "what Linux does";
  EXPECT_EQ(msr_check_write(0x1A0, now & ~(limit | xd), now), MSR_WRITE_HARDWARE);
  EXPECT_EQ(msr_check_write(0x1A0, fast_strings | limit, fast_strings), MSR_WRITE_FAULT)
      << "limiting CPUID under the hypervisor";
  EXPECT_EQ(msr_check_write(0x1A0, fast_strings | xd, fast_strings), MSR_WRITE_FAULT)
      << "disabling XD under the hypervisor";
  EXPECT_EQ(msr_check_write(0x1A0, now & ~fast_strings, now), MSR_WRITE_FAULT)
      << "a bit that may be read-only on this model";
}

TEST(MsrPolicy, ArchitecturalLbrMsrsDoNotExistForTheGuest) {
  for (uint32_t msr : {0x14CEU, 0x14CFU, 0x1200U, 0x121FU, 0x1500U, 0x151FU, 0x1600U, 0x161FU}) {
    EXPECT_EQ(msr_policy(msr, false), MSR_GP) << std::hex << msr;
    EXPECT_EQ(msr_policy(msr, true), MSR_GP) << std::hex << msr;
  }
}

TEST(MsrPolicy, DebugctlIsTheGuestsOwnSwitchedByTheVmcs) {
  EXPECT_EQ(msr_policy(0x1D9, false), MSR_PASS);
  EXPECT_EQ(msr_policy(0x1D9, true), MSR_PASS);
}

TEST(MsrPolicy, TheI386ImageHasNoLongModeMsrs) {
  for (uint32_t msr : {0xC0000081U, 0xC0000082U, 0xC0000083U, 0xC0000084U, 0xC0000100U,
                       0xC0000101U, 0xC0000102U}) {
    EXPECT_EQ(msr_policy_image(32, msr, false), MSR_GP) << std::hex << msr;
    EXPECT_EQ(msr_policy_image(32, msr, true), MSR_GP) << std::hex << msr;
    EXPECT_EQ(msr_policy_image(64, msr, false), MSR_PASS) << std::hex << msr;
    EXPECT_EQ(msr_policy_image(64, msr, true), MSR_PASS) << std::hex << msr;
  }
}

TEST(MsrPolicy, TheI386ImageRefusesLongModeEnable) {
  EXPECT_EQ(msr_policy_image(32, 0xC0000080U, true), MSR_WRITE_CHECK);
  EXPECT_EQ(msr_policy_image(64, 0xC0000080U, true), MSR_PASS);
  EXPECT_EQ(msr_check_write(0xC0000080U, 0x100ULL /*LME*/, 0), MSR_WRITE_FAULT);
  EXPECT_EQ(msr_check_write(0xC0000080U, 0x800ULL /*NXE*/, 0), MSR_WRITE_GUEST_EFER);
}

TEST(MsrBitmap, InterceptsExactlyThePolicy) {
  auto b = Bitmap();
  for (uint32_t msr = 0; msr < 0x2000; msr++) {
    for (bool write : {false, true}) {
      EXPECT_EQ(msr_bitmap_exits(b.data(), msr, write), msr_policy(msr, write) != MSR_PASS)
          << std::hex << msr << (write ? " write" : " read");
    }
  }
  for (uint32_t msr = 0xC0000000U; msr < 0xC0002000U; msr++) {
    for (bool write : {false, true}) {
      EXPECT_EQ(msr_bitmap_exits(b.data(), msr, write), msr_policy(msr, write) != MSR_PASS)
          << std::hex << msr << (write ? " write" : " read");
    }
  }
}

TEST(MsrBitmap, EveryBitSitsWhereTheSdmPutsItAndNoOtherBitIsSet) {
  auto b = Bitmap();
  std::vector<uint8_t> expected(4096, 0);
  for (uint32_t base : {0x0U, 0xC0000000U}) {
    for (uint32_t msr = base; msr < base + 0x2000U; msr++) {
      for (bool write : {false, true}) {
        if (msr_policy(msr, write) != MSR_PASS) {
          SdmBit at = SdmLocate(msr, write);
          expected[at.byte] |= at.mask;
        }
      }
    }
  }
  // The VMX capability MSRs (480H-491H), read and write: bytes 90H-92H of
  // the read-low and write-low quarters, nothing in either high quarter.
  EXPECT_EQ(expected[0x90], 0xFF);
  EXPECT_EQ(expected[0x91], 0xFF);
  EXPECT_EQ(expected[0x92], 0x03);
  EXPECT_EQ(expected[2048 + 0x92], 0x03);
  for (size_t i = 0; i < b.size(); i++) {
    EXPECT_EQ(b[i], expected[i]) << "byte " << i;
  }
}

TEST(MsrBitmap, ExitsAreReadFromTheSdmsBitForEachMsr) {
  // One bit set at a time where the SDM puts it: exactly that access exits.
  for (uint32_t msr : {0x10U, 0x1FFFU, 0xC0000080U, 0xC0001FFFU}) {
    for (bool write : {false, true}) {
      std::vector<uint8_t> b(4096, 0);
      SdmBit at = SdmLocate(msr, write);
      b[at.byte] |= at.mask;
      EXPECT_TRUE(msr_bitmap_exits(b.data(), msr, write)) << std::hex << msr;
      EXPECT_FALSE(msr_bitmap_exits(b.data(), msr, !write)) << std::hex << msr;
      EXPECT_FALSE(msr_bitmap_exits(b.data(), msr ^ 1U, write)) << std::hex << msr;
    }
  }
}

TEST(MsrBitmap, MtrrReadsDoNotExit) {
  auto b = Bitmap();
  EXPECT_FALSE(msr_bitmap_exits(b.data(), 0x2FF, false));
  EXPECT_TRUE(msr_bitmap_exits(b.data(), 0x2FF, true));
}

TEST(MsrBitmap, MsrsOutsideBothRangesAlwaysExit) {
  auto b = Bitmap();
  EXPECT_TRUE(msr_bitmap_exits(b.data(), 0x4B564D00U, false));
  EXPECT_TRUE(msr_bitmap_exits(b.data(), 0x2000U, true));
}

TEST(MsrBitmap, ReadAndWriteHalvesAreSeparate) {
  auto b = Bitmap();
  // EFER has no intercept; poke only its write bit and see reads stay free.
  SdmBit at = SdmLocate(0xC0000080U, true);
  b[at.byte] |= at.mask;
  EXPECT_TRUE(msr_bitmap_exits(b.data(), 0xC0000080U, true));
  EXPECT_FALSE(msr_bitmap_exits(b.data(), 0xC0000080U, false));
}

}  // namespace
