// SPDX-License-Identifier: Apache-2.0
// Host tests of what the demo PALs compute and of the TrustVisor ABI layout.
#include "pal_demo/pal_math.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>

#include "hypapps/trustvisor/tv_abi.h"

namespace {

TEST(TvAbiTest, RecordsHaveTheSameLayoutForEveryCaller) {
  EXPECT_EQ(offsetof(tv_pal_section, page_num), 4U);
  EXPECT_EQ(offsetof(tv_pal_section, start_addr), 8U);
  EXPECT_EQ(offsetof(tv_pal_sections, sections), 8U);
  EXPECT_EQ(offsetof(tv_pal_param, size), 8U);
  EXPECT_EQ(offsetof(tv_pal_params, params), 8U);
  EXPECT_EQ(sizeof(tv_pal_sections), 8U + TV_MAX_SECTIONS * sizeof(tv_pal_section));
  EXPECT_EQ(sizeof(tv_pal_params), 8U + TV_MAX_PARAMS * sizeof(tv_pal_param));
}

TEST(PalTakeFlagTest, ClearsOnlyBit31AndReportsIt) {
  uintptr_t with = PAL_FLAG_MASK | 0x1234U;
  EXPECT_TRUE(pal_take_flag(&with));
  EXPECT_EQ(with, 0x1234U);
  uintptr_t without = ~PAL_FLAG_MASK;
  EXPECT_FALSE(pal_take_flag(&without));
  EXPECT_EQ(without, ~PAL_FLAG_MASK);
}

TEST(PalCpuidVerdictTest, MissingSignatureWinsOverEverything) {
  EXPECT_EQ(pal_cpuid_verdict(1, 0, 0), PAL_ERR_NO_TRUSTVISOR);
  EXPECT_EQ(pal_cpuid_verdict(0, TV_CPUID_LEAF, TV_CPUID_NO_PAL), PAL_ERR_NO_TRUSTVISOR);
}

TEST(PalCpuidVerdictTest, InsideAPalEbxMustNameOne) {
  EXPECT_EQ(pal_cpuid_verdict(1, TV_CPUID_SIGNATURE, 0), 0U);
  EXPECT_EQ(pal_cpuid_verdict(1, TV_CPUID_SIGNATURE, 99), 0U);
  EXPECT_EQ(pal_cpuid_verdict(1, TV_CPUID_SIGNATURE, TV_CPUID_NO_PAL), PAL_ERR_NOT_IN_PAL);
}

TEST(PalCpuidVerdictTest, OutsideEbxMustSayNoPal) {
  EXPECT_EQ(pal_cpuid_verdict(0, TV_CPUID_SIGNATURE, TV_CPUID_NO_PAL), 0U);
  EXPECT_EQ(pal_cpuid_verdict(0, TV_CPUID_SIGNATURE, 0), PAL_ERR_IN_PAL);
}

TEST(PalWeighAndBumpTest, CoefficientRunsOnAcrossArrays) {
  uintptr_t first[2] = {1, 2};
  uintptr_t second[1] = {3};
  uintptr_t coef = 1;
  EXPECT_EQ(pal_weigh_and_bump(2, first, &coef), 1U * 1U + 2U * 2U);
  EXPECT_EQ(coef, 3U);
  EXPECT_EQ(pal_weigh_and_bump(1, second, &coef), 3U * 3U);
  EXPECT_EQ(coef, 4U);
  EXPECT_EQ(first[0], 1U + PAL_5_PTR_ADDEND);
  EXPECT_EQ(first[1], 2U + PAL_5_PTR_ADDEND);
  EXPECT_EQ(second[0], 3U + PAL_5_PTR_ADDEND);
}

TEST(PalWeighAndBumpTest, EmptyArrayChangesNothing) {
  uintptr_t untouched = 7;
  uintptr_t coef = 5;
  EXPECT_EQ(pal_weigh_and_bump(0, &untouched, &coef), 0U);
  EXPECT_EQ(coef, 5U);
  EXPECT_EQ(untouched, 7U);
}

}  // namespace
