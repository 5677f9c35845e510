// SPDX-License-Identifier: Apache-2.0
// E820 map editing: multiboot parsing, normalization, hiding, free-range search.
#include "xhv/e820.h"

#include <cstring>
#include <ostream>
#include <vector>

#include "gtest/gtest.h"

namespace {

constexpr uint64_t kKiB = 1024ULL;
constexpr uint64_t kMiB = 1024ULL * kKiB;
constexpr uint64_t kGiB = 1024ULL * kMiB;

constexpr uint32_t U = E820_TYPE_USABLE;
constexpr uint32_t R = E820_TYPE_RESERVED;
constexpr uint32_t A = E820_TYPE_ACPI;
constexpr uint32_t N = E820_TYPE_NVS;
constexpr uint32_t B = E820_TYPE_BAD;

struct Range {
  uint64_t base;
  uint64_t length;
  uint32_t type;
  bool operator==(const Range &o) const {
    return base == o.base && length == o.length && type == o.type;
  }
};

std::ostream &operator<<(std::ostream &os, const Range &r) {
  return os << "{0x" << std::hex << r.base << ", 0x" << r.length << std::dec << ", " << r.type
            << "}";
}

e820_map Map(const std::vector<Range> &ranges) {
  e820_map m;
  std::memset(&m, 0xA5, sizeof(m));  // junk beyond count must not matter
  m.count = static_cast<uint32_t>(ranges.size());
  for (size_t i = 0; i < ranges.size(); i++) {
    m.entry[i].base = ranges[i].base;
    m.entry[i].length = ranges[i].length;
    m.entry[i].type = ranges[i].type;
  }
  return m;
}

std::vector<Range> Entries(const e820_map &m) {
  std::vector<Range> v;
  for (uint32_t i = 0; i < m.count; i++) {
    v.push_back({m.entry[i].base, m.entry[i].length, m.entry[i].type});
  }
  return v;
}

std::vector<Range> Normalized(const std::vector<Range> &in) {
  e820_map m = Map(in);
  EXPECT_EQ(e820_normalize(&m), E820_OK);
  return Entries(m);
}

bool SameMap(const e820_map &a, const e820_map &b) {
  return Entries(a) == Entries(b);
}

// A typical firmware map: low RAM, legacy hole, RAM to 3 GiB, MMIO, RAM above 4 GiB.
std::vector<Range> PcMap() {
  return {{0, 0x9F000, U},
          {0x9F000, 0x1000, R},
          {0xF0000, 0x10000, R},
          {1 * kMiB, 3 * kGiB - 1 * kMiB, U},
          {3 * kGiB, 16 * kMiB, A},
          {0xFEC00000ULL, 0x1000, R},
          {4 * kGiB, 2 * kGiB, U}};
}

// ---- e820_normalize ----

TEST(E820Normalize, AlreadyCleanMapIsUnchanged) {
  EXPECT_EQ(Normalized(PcMap()), PcMap());
}

TEST(E820Normalize, UnsortedBiosMapIsSortedByBase) {
  std::vector<Range> shuffled = {{4 * kGiB, 2 * kGiB, U},   {0xF0000, 0x10000, R},
                                 {3 * kGiB, 16 * kMiB, A},  {0, 0x9F000, U},
                                 {0xFEC00000ULL, 0x1000, R}, {1 * kMiB, 3 * kGiB - 1 * kMiB, U},
                                 {0x9F000, 0x1000, R}};
  EXPECT_EQ(Normalized(shuffled), PcMap());
}

TEST(E820Normalize, ZeroLengthEntriesAreDropped) {
  EXPECT_EQ(Normalized({{0x5000, 0, R}, {0, 0x1000, U}, {0x800, 0, B}}),
            (std::vector<Range>{{0, 0x1000, U}}));
}

TEST(E820Normalize, EmptyMapStaysEmpty) {
  EXPECT_EQ(Normalized({}), std::vector<Range>{});
  EXPECT_EQ(Normalized({{0x1000, 0, U}}), std::vector<Range>{});
}

TEST(E820Normalize, AdjacentEntriesOfOneTypeMerge) {
  EXPECT_EQ(Normalized({{0, 0x1000, U}, {0x1000, 0x1000, U}, {0x2000, 0x3000, U}}),
            (std::vector<Range>{{0, 0x5000, U}}));
}

TEST(E820Normalize, AdjacentEntriesOfDifferentTypesStaySeparate) {
  EXPECT_EQ(Normalized({{0, 0x1000, U}, {0x1000, 0x1000, R}}),
            (std::vector<Range>{{0, 0x1000, U}, {0x1000, 0x1000, R}}));
}

TEST(E820Normalize, EntriesAcrossAHoleDoNotMerge) {
  EXPECT_EQ(Normalized({{0, 0x1000, U}, {0x2000, 0x1000, U}}),
            (std::vector<Range>{{0, 0x1000, U}, {0x2000, 0x1000, U}}));
}

TEST(E820Normalize, OverlapOfOneTypeMerges) {
  EXPECT_EQ(Normalized({{0, 0x3000, U}, {0x2000, 0x3000, U}}),
            (std::vector<Range>{{0, 0x5000, U}}));
}

TEST(E820Normalize, DuplicateEntriesCollapse) {
  EXPECT_EQ(Normalized({{0x1000, 0x1000, R}, {0x1000, 0x1000, R}}),
            (std::vector<Range>{{0x1000, 0x1000, R}}));
}

TEST(E820Normalize, ReservedInsideUsableSplitsIt) {
  EXPECT_EQ(Normalized({{0, 0x10000, U}, {0x4000, 0x1000, R}}),
            (std::vector<Range>{{0, 0x4000, U}, {0x4000, 0x1000, R}, {0x5000, 0xB000, U}}));
}

TEST(E820Normalize, UsableInsideReservedIsSwallowed) {
  EXPECT_EQ(Normalized({{0x4000, 0x1000, U}, {0, 0x10000, R}}),
            (std::vector<Range>{{0, 0x10000, R}}));
}

TEST(E820Normalize, PartialOverlapOnTheLeftGoesToTheStricterType) {
  // Reserved [0x0, 0x3000) overlaps usable [0x2000, 0x6000) at its start.
  EXPECT_EQ(Normalized({{0x2000, 0x4000, U}, {0, 0x3000, R}}),
            (std::vector<Range>{{0, 0x3000, R}, {0x3000, 0x3000, U}}));
}

TEST(E820Normalize, PartialOverlapOnTheRightGoesToTheStricterType) {
  EXPECT_EQ(Normalized({{0, 0x4000, U}, {0x3000, 0x3000, N}}),
            (std::vector<Range>{{0, 0x3000, U}, {0x3000, 0x3000, N}}));
}

TEST(E820Normalize, SameBaseDifferentLengths) {
  EXPECT_EQ(Normalized({{0x1000, 0x4000, U}, {0x1000, 0x1000, A}}),
            (std::vector<Range>{{0x1000, 0x1000, A}, {0x2000, 0x3000, U}}));
}

TEST(E820Normalize, SameEndDifferentBases) {
  EXPECT_EQ(Normalized({{0x1000, 0x4000, U}, {0x4000, 0x1000, R}}),
            (std::vector<Range>{{0x1000, 0x3000, U}, {0x4000, 0x1000, R}}));
}

TEST(E820Normalize, BetweenNonUsableTypesTheHigherNumberWins) {
  EXPECT_EQ(Normalized({{0, 0x4000, R}, {0x1000, 0x1000, A}, {0x3000, 0x2000, B},
                        {0x3800, 0x100, N}}),
            (std::vector<Range>{{0, 0x1000, R},
                                {0x1000, 0x1000, A},
                                {0x2000, 0x1000, R},
                                {0x3000, 0x2000, B}}));
}

TEST(E820Normalize, UnknownTypesAreKeptAndRankByNumber) {
  // Type 7 (persistent memory) and 12 are unknown to us; 12 beats 7 beats usable.
  EXPECT_EQ(Normalized({{0, 0x3000, U}, {0x1000, 0x2000, 7}, {0x2000, 0x2000, 12}}),
            (std::vector<Range>{{0, 0x1000, U}, {0x1000, 0x1000, 7}, {0x2000, 0x2000, 12}}));
}

TEST(E820Normalize, ChainOfOverlapsAcrossManyEntries) {
  EXPECT_EQ(Normalized({{0x0000, 0x2000, U},
                        {0x1000, 0x2000, U},
                        {0x2800, 0x1000, R},
                        {0x3000, 0x2000, U},
                        {0x4000, 0x3000, U}}),
            (std::vector<Range>{{0, 0x2800, U}, {0x2800, 0x1000, R}, {0x3800, 0x3800, U}}));
}

TEST(E820Normalize, EntryWrappingPastTopOfAddressSpaceIsCut) {
  EXPECT_EQ(Normalized({{UINT64_MAX - 0xFFF, 0x2000, R}}),
            (std::vector<Range>{{UINT64_MAX - 0xFFF, 0xFFF, R}}));
}

TEST(E820Normalize, ResultWithTooManyPiecesFailsAndKeepsTheMap) {
  // One usable range with 40 reserved specks needs 81 entries.
  std::vector<Range> in = {{0, 1 * kGiB, U}};
  for (uint64_t i = 0; i < 40; i++) in.push_back({(2 * i + 1) * kMiB, 0x1000, R});
  e820_map m = Map(in);
  e820_map before = m;
  EXPECT_EQ(e820_normalize(&m), E820_ERR_FULL);
  EXPECT_TRUE(SameMap(m, before));
}

TEST(E820Normalize, ExactlyMaxEntriesFits) {
  std::vector<Range> in;
  for (uint64_t i = 0; i < E820_MAX_ENTRIES; i++) {
    in.push_back({i * 0x2000, 0x1000, (i % 2) ? U : R});
  }
  EXPECT_EQ(Normalized(in), in);
}

// ---- e820_hide_range ----

std::vector<Range> Hidden(const std::vector<Range> &in, uint64_t base, uint64_t length) {
  e820_map m = Map(in);
  EXPECT_EQ(e820_hide_range(&m, base, length), E820_OK);
  return Entries(m);
}

TEST(E820Hide, AtTheStartOfAnEntry) {
  EXPECT_EQ(Hidden({{0x100000, 0x100000, U}}, 0x100000, 0x4000),
            (std::vector<Range>{{0x100000, 0x4000, R}, {0x104000, 0xFC000, U}}));
}

TEST(E820Hide, InTheMiddleOfAnEntrySplitsItInThree) {
  EXPECT_EQ(Hidden({{1 * kMiB, 1 * kGiB, U}}, 256 * kMiB, 64 * kMiB),
            (std::vector<Range>{{1 * kMiB, 255 * kMiB, U},
                                {256 * kMiB, 64 * kMiB, R},
                                {320 * kMiB, 1 * kGiB + 1 * kMiB - 320 * kMiB, U}}));
}

TEST(E820Hide, AtTheEndOfAnEntry) {
  EXPECT_EQ(Hidden({{0, 0x10000, U}, {0x10000, 0x1000, N}}, 0xC000, 0x4000),
            (std::vector<Range>{{0, 0xC000, U}, {0xC000, 0x4000, R}, {0x10000, 0x1000, N}}));
}

TEST(E820Hide, WholeEntryBecomesReservedAndMergesWithReservedNeighbours) {
  EXPECT_EQ(Hidden({{0, 0x1000, R}, {0x1000, 0x1000, U}, {0x2000, 0x1000, R}}, 0x1000, 0x1000),
            (std::vector<Range>{{0, 0x3000, R}}));
}

TEST(E820Hide, SpanningSeveralEntriesAndHoles) {
  // usable, hole, NVS, usable, hole, usable; hide from inside the first to inside the last.
  std::vector<Range> in = {{0x0000, 0x4000, U}, {0x5000, 0x1000, N}, {0x6000, 0x2000, U},
                           {0xA000, 0x4000, U}};
  EXPECT_EQ(Hidden(in, 0x2000, 0xA000),
            (std::vector<Range>{{0x0000, 0x2000, U},      // still usable
                                {0x2000, 0x3000, R},      // usable tail + hole
                                {0x5000, 0x1000, N},      // NVS is never RAM: kept
                                {0x6000, 0x6000, R},      // usable, hole, usable head
                                {0xC000, 0x2000, U}}));
}

TEST(E820Hide, AcpiReclaimableBecomesReserved) {
  // The guest may reclaim ACPI memory as RAM after reading the tables.
  EXPECT_EQ(Hidden({{0, 0x4000, A}}, 0x1000, 0x1000),
            (std::vector<Range>{{0, 0x1000, A}, {0x1000, 0x1000, R}, {0x2000, 0x2000, A}}));
}

TEST(E820Hide, BadAndUnknownTypesKeepTheirType) {
  EXPECT_EQ(Hidden({{0, 0x1000, B}, {0x1000, 0x1000, 9}}, 0, 0x2000),
            (std::vector<Range>{{0, 0x1000, B}, {0x1000, 0x1000, 9}}));
}

TEST(E820Hide, AlreadyReservedRangeIsUnchanged) {
  std::vector<Range> in = PcMap();
  EXPECT_EQ(Hidden(in, 0xF0000, 0x8000), in);
}

TEST(E820Hide, RangeInAHoleAddsAReservedEntry) {
  EXPECT_EQ(Hidden({{0, 0x1000, U}, {0x10000, 0x1000, U}}, 0x4000, 0x1000),
            (std::vector<Range>{{0, 0x1000, U}, {0x4000, 0x1000, R}, {0x10000, 0x1000, U}}));
}

TEST(E820Hide, RangeBelowEveryEntryOrInAnEmptyMap) {
  EXPECT_EQ(Hidden({{0x10000, 0x1000, U}}, 0x1000, 0x1000),
            (std::vector<Range>{{0x1000, 0x1000, R}, {0x10000, 0x1000, U}}));
  EXPECT_EQ(Hidden({}, 0x1000, 0x1000), (std::vector<Range>{{0x1000, 0x1000, R}}));
}

TEST(E820Hide, ResultIsNormalizedEvenIfTheInputWasNot) {
  EXPECT_EQ(Hidden({{0x8000, 0x8000, U}, {0, 0x8000, U}, {0x3000, 0, B}}, 0x4000, 0x1000),
            (std::vector<Range>{{0, 0x4000, U}, {0x4000, 0x1000, R}, {0x5000, 0xB000, U}}));
}

TEST(E820Hide, ZeroLengthOnlyNormalizes) {
  EXPECT_EQ(Hidden({{0x1000, 0x1000, U}, {0, 0x1000, U}}, 0x800, 0),
            (std::vector<Range>{{0, 0x2000, U}}));
}

TEST(E820Hide, HypervisorBelowFourGiBInTheTypicalMap) {
  e820_map m = Map(PcMap());
  ASSERT_EQ(e820_hide_range(&m, 0xB0000000ULL, 0x0A000000ULL), E820_OK);
  EXPECT_EQ(e820_type_at(&m, 0xAFFFFFFFULL), U);
  EXPECT_EQ(e820_type_at(&m, 0xB0000000ULL), R);
  EXPECT_EQ(e820_type_at(&m, 0xB9FFFFFFULL), R);
  EXPECT_EQ(e820_type_at(&m, 0xBA000000ULL), U);
  EXPECT_EQ(m.count, PcMap().size() + 2U);
}

TEST(E820Hide, MoreEntriesThanFitFailsAndLeavesTheMapUnchanged) {
  // 64 separate usable entries: splitting one of them needs 66.
  std::vector<Range> in;
  for (uint64_t i = 0; i < E820_MAX_ENTRIES; i++) in.push_back({i * 0x10000, 0x8000, U});
  e820_map m = Map(in);
  e820_map before = m;
  EXPECT_EQ(e820_hide_range(&m, 0x2000, 0x1000), E820_ERR_FULL);
  EXPECT_TRUE(SameMap(m, before));
  // A hole-only hide at the very end needs 65 entries: also refused.
  EXPECT_EQ(e820_hide_range(&m, 0x10000000ULL, 0x1000), E820_ERR_FULL);
  EXPECT_TRUE(SameMap(m, before));
  // Hiding one whole entry keeps 64 entries: allowed.
  EXPECT_EQ(e820_hide_range(&m, 0x30000, 0x8000), E820_OK);
  EXPECT_EQ(m.count, E820_MAX_ENTRIES);
  EXPECT_EQ(e820_type_at(&m, 0x30000), R);
}

TEST(E820Hide, RangeWrappingPastTwoToTheSixtyFourIsInvalid) {
  e820_map m = Map(PcMap());
  e820_map before = m;
  EXPECT_EQ(e820_hide_range(&m, UINT64_MAX - 0xFFF, 0x2000), E820_ERR_INVALID);
  EXPECT_TRUE(SameMap(m, before));
}

// ---- e820_find_free_outside ----

TEST(E820FindFreeOutside, WithNothingToAvoidItIsFindFree) {
  e820_map m = Map(PcMap());
  uint64_t base = 0;
  ASSERT_TRUE(e820_find_free_outside(&m, 256 * kMiB, 2 * kMiB, 4 * kGiB, nullptr, 0, &base));
  EXPECT_EQ(base, 3 * kGiB - 256 * kMiB);
}

TEST(E820FindFreeOutside, GoesBelowEachRangeInTheWay) {
  e820_map m = Map({{0x100000, 0x3FF00000, U}});  // 1 MiB .. 1 GiB
  const e820_range avoid[] = {{0x3FF00000, 0x1000}, {0x3FC01000, 0x100}};
  uint64_t base = 0;
  ASSERT_TRUE(e820_find_free_outside(&m, 0x200000, 0x200000, 4 * kGiB, avoid, 2, &base));
  // 0x3FE00000 holds the first range, 0x3FC00000 the second: the next 2 MiB down.
  EXPECT_EQ(base, 0x3FA00000U);
}

TEST(E820FindFreeOutside, TakesAnotherEntryWhenOneIsAllInTheWay) {
  e820_map m = Map({{0x100000, 0x0F00000, U}, {0x40000000ULL, 0x400000, U}});
  const e820_range avoid[] = {{0x40000000ULL, 0x400000}};
  uint64_t base = 0;
  ASSERT_TRUE(e820_find_free_outside(&m, 0x200000, 0x200000, 4 * kGiB, avoid, 1, &base));
  EXPECT_EQ(base, 0xE00000U);
  const e820_range everything[] = {{0, 4 * kGiB}};
  EXPECT_FALSE(e820_find_free_outside(&m, 0x200000, 0x200000, 4 * kGiB, everything, 1, &base));
}

TEST(E820FindFreeOutside, EmptyRangesAvoidNothing) {
  e820_map m = Map({{0x100000, 0x0F00000, U}});
  const e820_range avoid[] = {{0xE00000, 0}};
  uint64_t base = 0;
  ASSERT_TRUE(e820_find_free_outside(&m, 0x200000, 0x200000, 4 * kGiB, avoid, 1, &base));
  EXPECT_EQ(base, 0xE00000U);
}

// ---- e820_find_free ----

TEST(E820FindFree, PicksTheHighestFitBelowTheLimit) {
  e820_map m = Map(PcMap());
  uint64_t base = 0;
  ASSERT_TRUE(e820_find_free(&m, 256 * kMiB, 2 * kMiB, 4 * kGiB, &base));
  EXPECT_EQ(base, 3 * kGiB - 256 * kMiB);  // top of the RAM below 4 GiB, not above it
}

TEST(E820FindFree, LimitCutsAnEntry) {
  e820_map m = Map(PcMap());
  uint64_t base = 0;
  ASSERT_TRUE(e820_find_free(&m, 16 * kMiB, 2 * kMiB, 1 * kGiB + 3 * kMiB, &base));
  EXPECT_EQ(base, 1 * kGiB - 14 * kMiB);  // ends at 1 GiB + 2 MiB: aligned down
}

TEST(E820FindFree, AlignmentRoundsTheStartDown) {
  e820_map m = Map({{0x100000, 0x0FF5000, U}});  // ends at 0x10F5000
  uint64_t base = 0;
  ASSERT_TRUE(e820_find_free(&m, 0x100000, 0x200000, UINT64_MAX, &base));
  EXPECT_EQ(base, 0xE00000U);
  ASSERT_TRUE(e820_find_free(&m, 0x100000, 0x1000, UINT64_MAX, &base));
  EXPECT_EQ(base, 0xFF5000U);
}

TEST(E820FindFree, ChoosesTheHigherOfTwoEntriesWhenBothFit) {
  e820_map m = Map({{0x40000000ULL, 0x1000000, U}, {0x1000000, 0x1000000, U}});
  uint64_t base = 0;
  ASSERT_TRUE(e820_find_free(&m, 0x100000, 0x100000, 4 * kGiB, &base));
  EXPECT_EQ(base, 0x40F00000ULL);
}

TEST(E820FindFree, FallsBackToALowerEntryWhenTheHigherIsTooSmall) {
  e820_map m = Map({{0, 0x9F000, U}, {1 * kMiB, 64 * kMiB, U}, {128 * kMiB, 1 * kMiB, U}});
  uint64_t base = 0;
  ASSERT_TRUE(e820_find_free(&m, 4 * kMiB, 2 * kMiB, 4 * kGiB, &base));
  EXPECT_EQ(base, 60 * kMiB);  // 65 MiB - 4 MiB, aligned down
}

TEST(E820FindFree, AlignmentCanPushTheFitOutOfAnEntry) {
  // 3 MiB entry at 1 MiB: a 2 MiB-aligned 2 MiB block fits only at 2 MiB.
  e820_map m = Map({{1 * kMiB, 3 * kMiB, U}});
  uint64_t base = 0;
  ASSERT_TRUE(e820_find_free(&m, 2 * kMiB, 2 * kMiB, 4 * kGiB, &base));
  EXPECT_EQ(base, 2 * kMiB);
  // 2.5 MiB at 1.25 MiB cannot hold an aligned 2 MiB block.
  m = Map({{1 * kMiB + 256 * kKiB, 2 * kMiB + 512 * kKiB, U}});
  EXPECT_FALSE(e820_find_free(&m, 2 * kMiB, 2 * kMiB, 4 * kGiB, &base));
}

TEST(E820FindFree, NeverUsesReservedOrOtherTypes) {
  e820_map m = Map({{0, 1 * kGiB, R}, {1 * kGiB, 1 * kGiB, A}, {2 * kGiB, 1 * kGiB, N}});
  uint64_t base = 0x1234;
  EXPECT_FALSE(e820_find_free(&m, 0x1000, 0x1000, UINT64_MAX, &base));
  EXPECT_EQ(base, 0x1234U);  // untouched on failure
}

TEST(E820FindFree, FailsWhenNothingIsBigEnoughOrAllRamIsAboveTheLimit) {
  e820_map m = Map(PcMap());
  uint64_t base = 0;
  EXPECT_FALSE(e820_find_free(&m, 4 * kGiB, 0x1000, UINT64_MAX, &base));
  EXPECT_FALSE(e820_find_free(&m, 0x1000, 0x1000, 0x800, &base));
  m = Map({{4 * kGiB, 4 * kGiB, U}});
  EXPECT_FALSE(e820_find_free(&m, 0x1000, 0x1000, 4 * kGiB, &base));
}

TEST(E820FindFree, RejectsZeroSizeAndNonPowerOfTwoAlignment) {
  e820_map m = Map(PcMap());
  uint64_t base = 0;
  EXPECT_FALSE(e820_find_free(&m, 0, 0x1000, 4 * kGiB, &base));
  EXPECT_FALSE(e820_find_free(&m, 0x1000, 0, 4 * kGiB, &base));
  EXPECT_FALSE(e820_find_free(&m, 0x1000, 0x3000, 4 * kGiB, &base));
}

TEST(E820FindFree, HiddenRangeIsNotFoundAgain) {
  e820_map m = Map(PcMap());
  uint64_t first = 0, second = 0;
  ASSERT_TRUE(e820_find_free(&m, 64 * kMiB, 2 * kMiB, 4 * kGiB, &first));
  ASSERT_EQ(e820_hide_range(&m, first, 64 * kMiB), E820_OK);
  ASSERT_TRUE(e820_find_free(&m, 64 * kMiB, 2 * kMiB, 4 * kGiB, &second));
  EXPECT_EQ(second, first - 64 * kMiB);
}

// ---- e820_type_at / e820_usable_top ----

TEST(E820TypeAt, StricterTypeWinsInAnUnnormalizedMapAndHolesAreNone) {
  e820_map m = Map({{0, 0x4000, U}, {0x1000, 0x1000, R}, {0x8000, 0x1000, U}});
  EXPECT_EQ(e820_type_at(&m, 0x0FFF), U);
  EXPECT_EQ(e820_type_at(&m, 0x1000), R);
  EXPECT_EQ(e820_type_at(&m, 0x2000), U);
  EXPECT_EQ(e820_type_at(&m, 0x4000), E820_TYPE_NONE);
  EXPECT_EQ(e820_type_at(&m, 0x9000), E820_TYPE_NONE);
}

TEST(E820UsableTop, EndOfTheHighestUsableEntry) {
  e820_map m = Map(PcMap());
  EXPECT_EQ(e820_usable_top(&m), 6 * kGiB);
  m = Map({{0, 0x1000, R}});
  EXPECT_EQ(e820_usable_top(&m), 0U);
}

// ---- e820_from_multiboot ----

// Appends one multiboot mmap record whose `size` field is `size` (>= 20).
void PutRecord(std::vector<uint8_t> *buf, uint32_t size, uint64_t addr, uint64_t len,
               uint32_t type) {
  size_t at = buf->size();
  buf->resize(at + 4 + size, 0xEE);  // padding bytes past the type must be skipped
  std::memcpy(buf->data() + at, &size, 4);
  std::memcpy(buf->data() + at + 4, &addr, 8);
  std::memcpy(buf->data() + at + 12, &len, 8);
  std::memcpy(buf->data() + at + 20, &type, 4);
}

TEST(E820Multiboot, ParsesRecordsInFirmwareOrder) {
  std::vector<uint8_t> buf;
  PutRecord(&buf, 20, 0x100000, 0x7EF0000, U);
  PutRecord(&buf, 20, 0, 0x9FC00, U);
  PutRecord(&buf, 20, 0xFFFC0000ULL, 0x40000, R);
  e820_map m;
  ASSERT_EQ(e820_from_multiboot(&m, buf.data(), static_cast<uint32_t>(buf.size())), E820_OK);
  EXPECT_EQ(Entries(m), (std::vector<Range>{{0x100000, 0x7EF0000, U},
                                            {0, 0x9FC00, U},
                                            {0xFFFC0000ULL, 0x40000, R}}));
}

TEST(E820Multiboot, SizeFieldLargerThanTwentyIsHonoured) {
  std::vector<uint8_t> buf;
  PutRecord(&buf, 24, 0, 0x9FC00, U);  // ACPI 3.0 extended attributes
  PutRecord(&buf, 36, 0x9FC00, 0x400, R);
  PutRecord(&buf, 20, 0x100000, 0x100000000ULL, U);
  e820_map m;
  ASSERT_EQ(e820_from_multiboot(&m, buf.data(), static_cast<uint32_t>(buf.size())), E820_OK);
  EXPECT_EQ(Entries(m), (std::vector<Range>{{0, 0x9FC00, U},
                                            {0x9FC00, 0x400, R},
                                            {0x100000, 0x100000000ULL, U}}));
}

TEST(E820Multiboot, UnalignedBufferIsRead) {
  std::vector<uint8_t> buf(3, 0);
  PutRecord(&buf, 21, 0x1122334455667000ULL, 0x1000, A);
  e820_map m;
  ASSERT_EQ(e820_from_multiboot(&m, buf.data() + 3, static_cast<uint32_t>(buf.size() - 3)),
            E820_OK);
  EXPECT_EQ(Entries(m), (std::vector<Range>{{0x1122334455667000ULL, 0x1000, A}}));
}

TEST(E820Multiboot, EmptyMapGivesNoEntries) {
  e820_map m;
  m.count = 5;
  EXPECT_EQ(e820_from_multiboot(&m, nullptr, 0), E820_OK);
  EXPECT_EQ(m.count, 0U);
}

TEST(E820Multiboot, RecordShorterThanTwentyBytesIsInvalid) {
  // A first good record, then one whose size (16) fits the length exactly
  // but cannot hold addr, len and type.
  std::vector<uint8_t> buf;
  PutRecord(&buf, 20, 0, 0x1000, U);
  PutRecord(&buf, 20, 0x1000, 0x1000, U);
  const uint32_t sixteen = 16;
  std::memcpy(buf.data() + 24, &sixteen, 4);
  e820_map m;
  EXPECT_EQ(e820_from_multiboot(&m, buf.data(), 24 + 4 + 16), E820_ERR_INVALID);
  EXPECT_EQ(m.count, 0U);
}

TEST(E820Multiboot, RecordCutOffByTheLengthIsInvalid) {
  std::vector<uint8_t> buf;
  PutRecord(&buf, 20, 0, 0x1000, U);
  PutRecord(&buf, 20, 0x1000, 0x1000, U);
  e820_map m;
  EXPECT_EQ(e820_from_multiboot(&m, buf.data(), static_cast<uint32_t>(buf.size() - 1)),
            E820_ERR_INVALID);
  EXPECT_EQ(m.count, 0U);
  EXPECT_EQ(e820_from_multiboot(&m, buf.data(), 24 + 2), E820_ERR_INVALID);  // stray size bytes
}

TEST(E820Multiboot, MoreRecordsThanFitIsFull) {
  std::vector<uint8_t> buf;
  for (uint64_t i = 0; i <= E820_MAX_ENTRIES; i++) PutRecord(&buf, 20, i * 0x1000, 0x1000, U);
  e820_map m;
  EXPECT_EQ(e820_from_multiboot(&m, buf.data(), static_cast<uint32_t>(buf.size())),
            E820_ERR_FULL);
  EXPECT_EQ(m.count, 0U);
  // One fewer fits exactly.
  EXPECT_EQ(e820_from_multiboot(&m, buf.data(), static_cast<uint32_t>(buf.size() - 24)), E820_OK);
  EXPECT_EQ(m.count, E820_MAX_ENTRIES);
}

}  // namespace
