// SPDX-License-Identifier: Apache-2.0
// MTRR memory types: MSR snapshot, per-address type precedence, uniform-range checks.
#include "xhv/mtrr.h"

#include <cstring>
#include <vector>

#include "gtest/gtest.h"
#include "testing/fakes/fake_cpu.h"

namespace {

constexpr uint64_t kKiB = 1024ULL;
constexpr uint64_t kMiB = 1024ULL * kKiB;
constexpr uint64_t kGiB = 1024ULL * kMiB;

constexpr uint8_t UC = MTRR_TYPE_UC;
constexpr uint8_t WC = MTRR_TYPE_WC;
constexpr uint8_t WT = MTRR_TYPE_WT;
constexpr uint8_t WP = MTRR_TYPE_WP;
constexpr uint8_t WB = MTRR_TYPE_WB;

uint64_t Repeat(uint8_t type) { return 0x0101010101010101ULL * type; }

// Enabled MTRRs, fixed ranges on, default `def`, no variable ranges, 36 address bits.
mtrr_state Base(uint8_t def) {
  mtrr_state s;
  std::memset(&s, 0, sizeof(s));
  s.cap = MTRRCAP_FIX | 8U;
  s.def_type = MTRR_DEF_TYPE_E | MTRR_DEF_TYPE_FE | def;
  for (uint64_t &f : s.fixed) f = Repeat(WB);
  s.phys_addr_bits = 36;
  return s;
}

// Adds a variable range [base, base + size) (size a power of two, base aligned to it).
void AddVar(mtrr_state *s, uint64_t base, uint64_t size, uint8_t type) {
  const uint64_t phys = (1ULL << s->phys_addr_bits) - 1U;
  s->var[s->var_count].base = base | type;
  s->var[s->var_count].mask = (~(size - 1U) & phys) | MTRR_PHYSMASK_VALID;
  s->var_count++;
}

// A PC-like setup: WB RAM, legacy VGA hole UC, option ROMs WP, MMIO at 3-4 GiB UC.
mtrr_state PcState() {
  mtrr_state s = Base(WB);
  s.fixed[1] = Repeat(WB);  // 0x80000-0x9FFFF
  s.fixed[2] = Repeat(UC);  // 0xA0000-0xBFFFF
  for (int i = 3; i < 11; i++) s.fixed[i] = Repeat(WP);
  AddVar(&s, 3 * kGiB, 1 * kGiB, UC);
  return s;
}

// ---- mtrr_type_of ----

TEST(MtrrTypeOf, DisabledMtrrsMakeEverythingUncacheable) {
  mtrr_state s = PcState();
  s.def_type &= ~MTRR_DEF_TYPE_E;
  for (uint64_t pa : std::vector<uint64_t>{0, 0xA0000, 0xF0000, 1 * kMiB, 2 * kGiB, 5 * kGiB}) {
    EXPECT_EQ(mtrr_type_of(&s, pa), UC) << std::hex << pa;
  }
}

// The fixed-range layout, written out independently of the code under test.
struct FixedGroup {
  uint64_t start;
  uint64_t end;
  uint64_t unit;
  int first_msr;
};
const FixedGroup kGroups[] = {{0x00000, 0x80000, 64 * kKiB, 0},
                              {0x80000, 0xC0000, 16 * kKiB, 1},
                              {0xC0000, 0x100000, 4 * kKiB, 3}};

TEST(MtrrTypeOf, EveryFixedRangeByteTypesItsOwnSubRange) {
  // Five types cycling over 8 bytes per MSR: no two neighbouring units, and no
  // two MSRs' same byte, share a type, so an off-by-one shows.
  static const uint8_t kCycle[] = {UC, WC, WT, WP, WB};
  mtrr_state s = Base(UC);
  for (int m = 0; m < 11; m++) {
    s.fixed[m] = 0;
    for (int b = 0; b < 8; b++) {
      s.fixed[m] |= static_cast<uint64_t>(kCycle[(m * 8 + b) % 5]) << (8 * b);
    }
  }
  int checked = 0;
  for (const FixedGroup &g : kGroups) {
    for (uint64_t pa = g.start; pa < g.end; pa += g.unit) {
      const uint64_t unit = (pa - g.start) / g.unit;
      const int msr = g.first_msr + static_cast<int>(unit / 8);
      const uint8_t want = kCycle[(msr * 8 + unit % 8) % 5];
      EXPECT_EQ(mtrr_type_of(&s, pa), want) << std::hex << pa;
      EXPECT_EQ(mtrr_type_of(&s, pa + g.unit - 1), want) << std::hex << pa + g.unit - 1;
      checked++;
    }
  }
  EXPECT_EQ(checked, 8 + 16 + 64);
}

TEST(MtrrTypeOf, VariableRangesDoNotApplyBelowOneMiBWhileFixedAreOn) {
  mtrr_state s = PcState();
  AddVar(&s, 0, 1 * kMiB, UC);
  EXPECT_EQ(mtrr_type_of(&s, 0x1000), WB);
  EXPECT_EQ(mtrr_type_of(&s, 0xFFFFF), WP);
  EXPECT_EQ(mtrr_type_of(&s, 1 * kMiB), WB);  // the default again above 1 MiB
}

TEST(MtrrTypeOf, FixedRangesOffViaFeUseVariableAndDefault) {
  mtrr_state s = PcState();
  s.def_type &= ~MTRR_DEF_TYPE_FE;
  EXPECT_EQ(mtrr_type_of(&s, 0xA0000), WB);  // the fixed UC no longer counts
  AddVar(&s, 0, 1 * kMiB, WT);
  EXPECT_EQ(mtrr_type_of(&s, 0xA0000), WT);
}

TEST(MtrrTypeOf, FixedRangesIgnoredWhenTheCpuHasNone) {
  mtrr_state s = PcState();
  s.cap &= ~MTRRCAP_FIX;
  EXPECT_EQ(mtrr_type_of(&s, 0xA0000), WB);
}

TEST(MtrrTypeOf, VariableRangeBoundsAreExact) {
  mtrr_state s = PcState();
  EXPECT_EQ(mtrr_type_of(&s, 3 * kGiB - 1), WB);
  EXPECT_EQ(mtrr_type_of(&s, 3 * kGiB), UC);
  EXPECT_EQ(mtrr_type_of(&s, 4 * kGiB - 1), UC);
  EXPECT_EQ(mtrr_type_of(&s, 4 * kGiB), WB);
}

TEST(MtrrTypeOf, NoMatchGivesTheDefaultType) {
  mtrr_state s = Base(UC);
  AddVar(&s, 0, 2 * kGiB, WB);
  EXPECT_EQ(mtrr_type_of(&s, 2 * kGiB - 0x1000), WB);
  EXPECT_EQ(mtrr_type_of(&s, 2 * kGiB), UC);
}

TEST(MtrrTypeOf, UncacheableWinsAnyOverlap) {
  mtrr_state s = Base(WB);
  AddVar(&s, 0, 4 * kGiB, WB);
  AddVar(&s, 1 * kGiB, 1 * kGiB, WT);
  AddVar(&s, 1 * kGiB, 256 * kMiB, UC);
  EXPECT_EQ(mtrr_type_of(&s, 1 * kGiB), UC);
  EXPECT_EQ(mtrr_type_of(&s, 1 * kGiB + 256 * kMiB), WT);
}

TEST(MtrrTypeOf, WriteThroughBeatsWriteBack) {
  mtrr_state s = Base(UC);
  AddVar(&s, 0, 1 * kGiB, WB);
  AddVar(&s, 512 * kMiB, 512 * kMiB, WT);
  EXPECT_EQ(mtrr_type_of(&s, 256 * kMiB), WB);
  EXPECT_EQ(mtrr_type_of(&s, 512 * kMiB), WT);
}

TEST(MtrrTypeOf, SameTypeOverlapKeepsTheType) {
  mtrr_state s = Base(UC);
  AddVar(&s, 0, 1 * kGiB, WC);
  AddVar(&s, 0, 2 * kGiB, WC);
  EXPECT_EQ(mtrr_type_of(&s, 0x40000000ULL - 0x1000), WC);
}

TEST(MtrrTypeOf, UndefinedConflictsChooseUncacheable) {
  mtrr_state s = Base(WB);
  AddVar(&s, 0, 2 * kGiB, WB);
  AddVar(&s, 1 * kGiB, 1 * kGiB, WC);
  AddVar(&s, 4 * kGiB, 1 * kGiB, WP);
  AddVar(&s, 4 * kGiB, 1 * kGiB, WT);
  EXPECT_EQ(mtrr_type_of(&s, 1 * kGiB), UC);  // WC + WB
  EXPECT_EQ(mtrr_type_of(&s, 4 * kGiB), UC);  // WP + WT
  EXPECT_EQ(mtrr_type_of(&s, 512 * kMiB), WB);
}

TEST(MtrrTypeOf, InvalidAndUncountedVariableRangesAreIgnored) {
  mtrr_state s = Base(WB);
  AddVar(&s, 0, 4 * kGiB, UC);
  s.var[0].mask &= ~MTRR_PHYSMASK_VALID;
  AddVar(&s, 0, 4 * kGiB, WT);
  s.var_count = 1;  // the WT pair is beyond MTRRCAP.VCNT
  EXPECT_EQ(mtrr_type_of(&s, 2 * kGiB), WB);
}

TEST(MtrrTypeOf, MaskBitsAboveMaxPhysAddrDoNotMatter) {
  mtrr_state s = Base(UC);
  AddVar(&s, 2 * kGiB, 2 * kGiB, WB);
  s.var[0].mask |= 0xFFFFFFF000000000ULL;  // junk above bit 35
  EXPECT_EQ(mtrr_type_of(&s, 2 * kGiB), WB);
  EXPECT_EQ(mtrr_type_of(&s, 1 * kGiB), UC);
  // With 36 bits, addresses alias modulo 64 GiB.
  EXPECT_EQ(mtrr_type_of(&s, 64 * kGiB + 3 * kGiB), WB);
}

TEST(MtrrTypeOf, OffsetWithinAPageDoesNotMatter) {
  mtrr_state s = PcState();
  EXPECT_EQ(mtrr_type_of(&s, 3 * kGiB + 0xFFF), UC);
  EXPECT_EQ(mtrr_type_of(&s, 0xBFFFF), UC);
}

// ---- mtrr_range_uniform ----

TEST(MtrrRangeUniform, TwoMiBInsideOneTypeIsUniform) {
  mtrr_state s = PcState();
  uint8_t t = 0xEE;
  ASSERT_TRUE(mtrr_range_uniform(&s, 2 * kMiB, 2 * kMiB, &t));
  EXPECT_EQ(t, WB);
  ASSERT_TRUE(mtrr_range_uniform(&s, 3 * kGiB, 2 * kMiB, &t));
  EXPECT_EQ(t, UC);
}

TEST(MtrrRangeUniform, FirstTwoMiBWithLegacyHoleIsNotUniform) {
  mtrr_state s = PcState();
  uint8_t t = 0xEE;
  EXPECT_FALSE(mtrr_range_uniform(&s, 0, 2 * kMiB, &t));
  EXPECT_EQ(t, 0xEE);  // untouched when not uniform
}

TEST(MtrrRangeUniform, FirstTwoMiBAllWriteBackIsUniform) {
  mtrr_state s = Base(WB);
  uint8_t t = 0;
  ASSERT_TRUE(mtrr_range_uniform(&s, 0, 2 * kMiB, &t));
  EXPECT_EQ(t, WB);
  ASSERT_TRUE(mtrr_range_uniform(&s, 0, 1 * kGiB, &t));
}

TEST(MtrrRangeUniform, TypeChangeInsideARangeIsSeen) {
  mtrr_state s = Base(WB);
  AddVar(&s, 6 * kMiB + 0x1000, 0x1000, UC);  // one UC page
  uint8_t t = 0;
  EXPECT_FALSE(mtrr_range_uniform(&s, 6 * kMiB, 2 * kMiB, &t));
  EXPECT_FALSE(mtrr_range_uniform(&s, 0, 1 * kGiB, &t));
  EXPECT_TRUE(mtrr_range_uniform(&s, 4 * kMiB, 2 * kMiB, &t));
  EXPECT_TRUE(mtrr_range_uniform(&s, 8 * kMiB, 2 * kMiB, &t));
  EXPECT_TRUE(mtrr_range_uniform(&s, 6 * kMiB + 0x1000, 0x1000, &t));
  EXPECT_EQ(t, UC);
}

TEST(MtrrRangeUniform, RedundantRangeOfTheSameTypeStillUniform) {
  mtrr_state s = Base(WB);
  AddVar(&s, 6 * kMiB + 0x1000, 0x1000, WB);  // partly covers the 2 MiB, same type
  uint8_t t = 0;
  ASSERT_TRUE(mtrr_range_uniform(&s, 6 * kMiB, 2 * kMiB, &t));
  EXPECT_EQ(t, WB);
}

TEST(MtrrRangeUniform, UnalignedRangeIsWidenedToPages) {
  mtrr_state s = Base(WB);
  AddVar(&s, 0x200000, 0x1000, UC);
  uint8_t t = 0;
  // [0x1FFFFF, 0x200001) touches a WB page and the UC page.
  EXPECT_FALSE(mtrr_range_uniform(&s, 0x1FFFFF, 2, &t));
  ASSERT_TRUE(mtrr_range_uniform(&s, 0x200001, 0xFFE, &t));
  EXPECT_EQ(t, UC);
}

TEST(MtrrRangeUniform, EmptyOrWrappingRangeIsNotUniform) {
  mtrr_state s = Base(WB);
  uint8_t t = 0;
  EXPECT_FALSE(mtrr_range_uniform(&s, 0x1000, 0, &t));
  EXPECT_FALSE(mtrr_range_uniform(&s, UINT64_MAX - 0xFFF, 0x2000, &t));
}

TEST(MtrrRangeUniform, WholeAddressSpace) {
  mtrr_state s = Base(WB);
  uint8_t t = 0;
  ASSERT_TRUE(mtrr_range_uniform(&s, 0, UINT64_MAX, &t));
  EXPECT_EQ(t, WB);
  s.def_type = 0;  // disabled
  t = 0xEE;
  ASSERT_TRUE(mtrr_range_uniform(&s, 0, UINT64_MAX, &t));
  EXPECT_EQ(t, UC);
  s = PcState();
  EXPECT_FALSE(mtrr_range_uniform(&s, 0, UINT64_MAX, &t));
}

// The uniform check must agree with a page-by-page walk over mtrr_type_of.
TEST(MtrrRangeUniform, AgreesWithPageByPageTypes) {
  mtrr_state s = PcState();
  s.fixed[0] = Repeat(WB);
  AddVar(&s, 4 * kMiB, 1 * kMiB, WT);
  AddVar(&s, 4 * kMiB + 512 * kKiB, 4 * kKiB, UC);
  AddVar(&s, 9 * kMiB, 8 * kKiB, WB);  // redundant
  AddVar(&s, 12 * kMiB, 4 * kMiB, WC);
  constexpr uint64_t kPages = 16 * kMiB / 0x1000;
  std::vector<uint8_t> page_type(kPages);
  for (uint64_t p = 0; p < kPages; p++) page_type[p] = mtrr_type_of(&s, p * 0x1000);

  int uniform = 0, mixed = 0;
  for (uint64_t first = 0; first < kPages; first += 37) {
    for (uint64_t count = 1; first + count <= kPages; count = count * 2 + 1) {
      bool same = true;
      for (uint64_t p = first + 1; p < first + count; p++) same &= page_type[p] == page_type[first];
      uint8_t t = 0xEE;
      ASSERT_EQ(mtrr_range_uniform(&s, first * 0x1000, count * 0x1000, &t), same)
          << std::hex << "range 0x" << first * 0x1000 << " + 0x" << count * 0x1000;
      if (same) {
        EXPECT_EQ(t, page_type[first]);
        uniform++;
      } else {
        mixed++;
      }
    }
  }
  EXPECT_GT(uniform, 100);
  EXPECT_GT(mixed, 100);
}

// ---- mtrr_read ----

class MtrrReadTest : public ::testing::Test {
 protected:
  void SetUp() override { xhv_fake::cpu().Reset(); }
  void TearDown() override { xhv_fake::cpu().Reset(); }

  static void HaveMtrrs() { xhv_fake::cpu().cpuid[{1, 0}] = {0, 0, 0, 1U << 12}; }
  static void MaxPhysAddr(uint32_t bits) {
    xhv_fake::cpu().cpuid[{0x80000000U, 0}] = {0x80000008U, 0, 0, 0};
    xhv_fake::cpu().cpuid[{0x80000008U, 0}] = {0x3000U | bits, 0, 0, 0};
  }
};

TEST_F(MtrrReadTest, ReadsEveryMsrTheCpuHas) {
  HaveMtrrs();
  MaxPhysAddr(39);
  auto &msrs = xhv_fake::cpu().msrs;
  msrs[0xFE] = 0x508;  // WC supported, fixed supported, 8 variable pairs
  msrs[0x2FF] = 0xC06;
  const uint32_t fixed_msrs[] = {0x250, 0x258, 0x259, 0x268, 0x269, 0x26A,
                                 0x26B, 0x26C, 0x26D, 0x26E, 0x26F};
  for (uint32_t i = 0; i < 11; i++) msrs[fixed_msrs[i]] = 0x1000U + i;
  for (uint32_t n = 0; n < 8; n++) {
    msrs[0x200 + 2 * n] = 0x100000ULL * n + 6;
    msrs[0x201 + 2 * n] = 0x7FFFF00800ULL + n;
  }
  mtrr_state s;
  std::memset(&s, 0xA5, sizeof(s));
  mtrr_read(&s);
  EXPECT_EQ(s.cap, 0x508U);
  EXPECT_EQ(s.def_type, 0xC06U);
  for (uint32_t i = 0; i < 11; i++) EXPECT_EQ(s.fixed[i], 0x1000U + i) << i;
  ASSERT_EQ(s.var_count, 8U);
  for (uint32_t n = 0; n < 8; n++) {
    EXPECT_EQ(s.var[n].base, 0x100000ULL * n + 6) << n;
    EXPECT_EQ(s.var[n].mask, 0x7FFFF00800ULL + n) << n;
  }
  for (uint32_t n = 8; n < MTRR_MAX_VAR; n++) {
    EXPECT_EQ(s.var[n].mask, 0U) << n;  // unused pairs cleared, not left as junk
  }
  EXPECT_EQ(s.phys_addr_bits, 39);
}

TEST_F(MtrrReadTest, MaxPhysAddrDefaultsTo36WithoutLeaf80000008) {
  HaveMtrrs();
  xhv_fake::cpu().cpuid[{0x80000000U, 0}] = {0x80000004U, 0, 0, 0};
  xhv_fake::cpu().msrs[0xFE] = 0;
  xhv_fake::cpu().msrs[0x2FF] = 0;
  mtrr_state s;
  mtrr_read(&s);
  EXPECT_EQ(s.phys_addr_bits, 36);
}

TEST_F(MtrrReadTest, NoMtrrSupportReadsNoMsrAndMeansUncacheable) {
  MaxPhysAddr(40);
  mtrr_state s;
  std::memset(&s, 0xA5, sizeof(s));
  mtrr_read(&s);  // the fake aborts on any RDMSR: none are set
  EXPECT_EQ(s.cap, 0U);
  EXPECT_EQ(s.def_type, 0U);
  EXPECT_EQ(s.var_count, 0U);
  EXPECT_EQ(mtrr_type_of(&s, 1 * kGiB), UC);
  EXPECT_EQ(s.phys_addr_bits, 40);
}

TEST_F(MtrrReadTest, FixedMsrsAreNotReadWithoutTheFixCapability) {
  HaveMtrrs();
  xhv_fake::cpu().msrs[0xFE] = 0x001;  // one variable pair, no fixed ranges
  xhv_fake::cpu().msrs[0x2FF] = 0xC00;
  xhv_fake::cpu().msrs[0x200] = 6;
  xhv_fake::cpu().msrs[0x201] = 0xF80000800ULL;
  mtrr_state s;
  mtrr_read(&s);
  EXPECT_EQ(s.var_count, 1U);
  for (uint64_t f : s.fixed) EXPECT_EQ(f, 0U);
}

TEST_F(MtrrReadTest, VariableCountIsCappedAtMtrrMaxVar) {
  HaveMtrrs();
  xhv_fake::cpu().msrs[0xFE] = 20;  // more pairs than the snapshot holds
  xhv_fake::cpu().msrs[0x2FF] = 0x806;
  for (uint32_t n = 0; n < MTRR_MAX_VAR; n++) {  // reading pair 16 would abort
    xhv_fake::cpu().msrs[0x200 + 2 * n] = n;
    xhv_fake::cpu().msrs[0x201 + 2 * n] = 0;
  }
  mtrr_state s;
  mtrr_read(&s);
  EXPECT_EQ(s.var_count, MTRR_MAX_VAR);
  EXPECT_EQ(s.var[15].base, 15U);
}

TEST_F(MtrrReadTest, ReadStateGivesTheExpectedTypes) {
  HaveMtrrs();
  MaxPhysAddr(36);
  auto &msrs = xhv_fake::cpu().msrs;
  msrs[0xFE] = 0x502;
  msrs[0x2FF] = 0xC00;  // enabled, fixed on, default UC
  for (uint32_t m : {0x250U, 0x258U}) msrs[m] = Repeat(WB);
  msrs[0x259] = Repeat(UC);
  for (uint32_t m = 0x268; m <= 0x26F; m++) msrs[m] = Repeat(WP);
  msrs[0x200] = 0x0 | WB;  // [0, 2 GiB) WB
  msrs[0x201] = 0xF80000800ULL;
  msrs[0x202] = 0x0;
  msrs[0x203] = 0;  // invalid pair
  mtrr_state s;
  mtrr_read(&s);
  EXPECT_EQ(mtrr_type_of(&s, 0x9F000), WB);
  EXPECT_EQ(mtrr_type_of(&s, 0xB8000), UC);
  EXPECT_EQ(mtrr_type_of(&s, 0xF0000), WP);
  EXPECT_EQ(mtrr_type_of(&s, 1 * kGiB), WB);
  EXPECT_EQ(mtrr_type_of(&s, 2 * kGiB), UC);
}

}  // namespace
