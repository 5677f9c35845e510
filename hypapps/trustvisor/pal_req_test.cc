// SPDX-License-Identifier: Apache-2.0
// PAL registration requests: what is accepted, each rejection's own code, and the layout handed on.
#include "hypapps/trustvisor/pal_req.h"

#include <cstdint>
#include <set>
#include <string>

#include "gtest/gtest.h"
#include "hypapps/trustvisor/marshal.h"

namespace {

constexpr uint64_t kCode = 0x08048000;
constexpr uint64_t kData = 0x08100000;
constexpr uint64_t kStack = 0x08200000;
constexpr uint64_t kParam = 0x08300000;
constexpr uint64_t kEntry = kCode + 0x10;
constexpr uint64_t kLinux32Limit = 0xC0000000;   // 3 GiB user space
constexpr uint64_t kCompat32Limit = 0xFFFFF000;  // 32-bit process on a 64-bit kernel

// pal_demo's request: four single pages and my_pal(int, int *).
struct Request {
  Request() {
    secs = tv_pal_sections{};
    params = tv_pal_params{};
    Add(TV_PAL_SECTION_CODE, 1, kCode);
    Add(TV_PAL_SECTION_DATA, 1, kData);
    Add(TV_PAL_SECTION_STACK, 1, kStack);
    Add(TV_PAL_SECTION_PARAM, 1, kParam);
    Param(TV_PAL_ARG_INTEGER, 4);
    Param(TV_PAL_ARG_POINTER, 4);
  }
  void Add(uint32_t type, uint32_t pages, uint64_t start) {
    secs.sections[secs.num_sections] = {type, pages, start};
    secs.num_sections++;
  }
  void Param(uint32_t type, uint64_t size) {
    params.params[params.num_params] = {type, 0, size};
    params.num_params++;
  }
  tv_pal_section &Section(uint32_t i) { return secs.sections[i]; }

  pal_req_status Check(bool g64, uint64_t limit = kLinux32Limit, uint64_t entry = kEntry) {
    return pal_req_check(&secs, &params, entry, g64, limit, &layout);
  }
  std::string Status(bool g64, uint64_t limit = kLinux32Limit, uint64_t entry = kEntry) {
    return pal_req_status_name(Check(g64, limit, entry));
  }

  tv_pal_sections secs;
  tv_pal_params params;
  pal_req_layout layout{};
};

class BothWidths : public ::testing::TestWithParam<bool> {
 protected:
  bool g64() const { return GetParam(); }
  Request r_;
};

INSTANTIATE_TEST_SUITE_P(Widths, BothWidths, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool> &info) {
                           return std::string(info.param ? "Caller64" : "Caller32");
                         });

TEST_P(BothWidths, PalDemoRequestIsAcceptedWithItsLayout) {
  ASSERT_EQ(r_.Status(g64()), "PAL_REQ_OK");
  EXPECT_EQ(r_.layout.code_section, 0U);
  EXPECT_EQ(r_.layout.stack_section, 2U);
  EXPECT_EQ(r_.layout.param_section, 3);
  EXPECT_EQ(r_.layout.total_pages, 4U);
  EXPECT_EQ(r_.layout.stack_top, kStack + 0x1000 - 0x10);
  EXPECT_EQ(r_.layout.param_area, kParam + 0x10);
  EXPECT_EQ(r_.layout.param_area_bytes, 0x1000U - 0x10);
  EXPECT_EQ(pal_req_check(&r_.secs, &r_.params, kEntry, g64(), kLinux32Limit, nullptr), PAL_REQ_OK);
}

TEST_P(BothWidths, SectionCountIsOneToTen) {
  Request none;
  none.secs.num_sections = 0;
  EXPECT_EQ(none.Status(g64()), "PAL_REQ_ERR_NUM_SECTIONS");
  for (uint64_t i = 0; i < 6; i++) r_.Add(TV_PAL_SECTION_DATA, 1, 0x09000000 + i * 0x10000);
  EXPECT_EQ(r_.Status(g64()), "PAL_REQ_OK");
  r_.secs.num_sections = 11;
  EXPECT_EQ(r_.Status(g64()), "PAL_REQ_ERR_NUM_SECTIONS");
}

TEST_P(BothWidths, OnlyTheCallersSectionTypesAreAccepted) {
  // 6 and 7 are TrustVisor-internal (SHARED, GUEST_PAGE_TABLES), never a caller's.
  for (uint32_t type : {0U, 6U, 7U, 8U, 0xFFFFFFFFU}) {
    Request r;
    r.Section(1).type = type;
    EXPECT_EQ(r.Status(g64()), "PAL_REQ_ERR_SECTION_TYPE") << type;
  }
  r_.Section(1).type = TV_PAL_SECTION_SHARED_CODE;
  EXPECT_EQ(r_.Status(g64()), "PAL_REQ_OK");
}

TEST_P(BothWidths, SectionSizeIsOneTo256Pages) {
  r_.Section(1).page_num = 0;
  EXPECT_EQ(r_.Status(g64()), "PAL_REQ_ERR_SECTION_PAGES");
  r_.Section(1).page_num = PAL_REQ_MAX_SECTION_PAGES + 1;
  EXPECT_EQ(r_.Status(g64()), "PAL_REQ_ERR_SECTION_PAGES");
  r_.Section(1).page_num = PAL_REQ_MAX_SECTION_PAGES;
  EXPECT_EQ(r_.Status(g64()), "PAL_REQ_OK");
}

TEST_P(BothWidths, AllSectionsTogetherAreAtMost512Pages) {
  Request r;
  r.secs.num_sections = 0;
  r.params.num_params = 0;
  r.Add(TV_PAL_SECTION_CODE, 256, 0x10000000);
  r.Add(TV_PAL_SECTION_STACK, 256, 0x20000000);
  EXPECT_EQ(r.Status(g64(), kLinux32Limit, 0x10000000), "PAL_REQ_OK");
  EXPECT_EQ(r.layout.total_pages, PAL_REQ_MAX_TOTAL_PAGES);
  r.Add(TV_PAL_SECTION_DATA, 1, 0x30000000);
  EXPECT_EQ(r.Status(g64(), kLinux32Limit, 0x10000000), "PAL_REQ_ERR_TOTAL_PAGES");
}

TEST_P(BothWidths, SectionStartIsPageAligned) {
  r_.Section(1).start_addr = kData + 0x800;
  EXPECT_EQ(r_.Status(g64()), "PAL_REQ_ERR_SECTION_ALIGN");
}

TEST_P(BothWidths, SectionMayNotWrapOrCoverPageZero) {
  r_.Section(1).start_addr = 0xFFFFFFFFFFFFF000ULL;
  r_.Section(1).page_num = 2;
  EXPECT_EQ(r_.Status(g64()), "PAL_REQ_ERR_SECTION_WRAP");
  r_.Section(1).page_num = 1;
  EXPECT_EQ(r_.Status(g64()), "PAL_REQ_ERR_SECTION_WRAP") << "its end, 2^64, wraps to 0";
  r_.Section(1).start_addr = 0xFFFFFFFFFFFFE000ULL;
  EXPECT_EQ(r_.Status(g64()), "PAL_REQ_ERR_SECTION_KERNEL");
  r_.Section(1).start_addr = 0;
  EXPECT_EQ(r_.Status(g64()), "PAL_REQ_ERR_SECTION_PAGE0")
      << "page 0 holds the return sentinel in the PAL's page tables";
  r_.Section(1).start_addr = 0x1000;
  EXPECT_EQ(r_.Status(g64()), "PAL_REQ_OK");
}

TEST_P(BothWidths, SectionsStayBelowTheCallersUserLimit) {
  r_.Section(1).start_addr = kLinux32Limit - 0x1000;
  EXPECT_EQ(r_.Status(g64()), "PAL_REQ_OK");
  r_.Section(1).page_num = 2;
  EXPECT_EQ(r_.Status(g64()), "PAL_REQ_ERR_SECTION_KERNEL");
  r_.Section(1).page_num = 1;
  r_.Section(1).start_addr = kLinux32Limit;
  EXPECT_EQ(r_.Status(g64()), "PAL_REQ_ERR_SECTION_KERNEL");
  EXPECT_EQ(r_.Status(g64(), 0), "PAL_REQ_ERR_SECTION_KERNEL") << "limit 0: nothing is user";
}

TEST(PalReq32, CompatibilityProcessMayUseAlmostAllOfFourGiB) {
  Request r;
  r.Section(1).start_addr = 0xFFFFE000;
  EXPECT_EQ(r.Status(false), "PAL_REQ_ERR_SECTION_KERNEL");
  EXPECT_EQ(r.Status(false, kCompat32Limit), "PAL_REQ_OK");
  r.Section(1).start_addr = 0xFFFFF000;
  EXPECT_EQ(r.Status(false, kCompat32Limit), "PAL_REQ_ERR_SECTION_KERNEL");
  EXPECT_EQ(r.Status(false, 1ULL << 40), "PAL_REQ_OK") << "ends exactly at 4 GiB";
  r.Section(1).start_addr = 0x100000000ULL;
  EXPECT_EQ(r.Status(false, UINT64_MAX), "PAL_REQ_ERR_SECTION_KERNEL")
      << "a 32-bit caller never gets past 4 GiB, whatever limit it is given";
  EXPECT_EQ(r.Status(true, UINT64_MAX), "PAL_REQ_OK");
}

TEST(PalReq64, UserHalfEndsAtTwoToThe47) {
  Request r;
  r.Section(1).start_addr = 0x00007FFFFFFFF000ULL;
  EXPECT_EQ(r.Status(true, UINT64_MAX), "PAL_REQ_OK");
  r.Section(1).start_addr = 0x0000800000000000ULL;
  EXPECT_EQ(r.Status(true, UINT64_MAX), "PAL_REQ_ERR_SECTION_KERNEL");
  r.Section(1).start_addr = 0xFFFF800000000000ULL;
  EXPECT_EQ(r.Status(true, UINT64_MAX), "PAL_REQ_ERR_SECTION_KERNEL");
}

TEST_P(BothWidths, SectionsMayTouchButNotShareAPage) {
  r_.Section(1).start_addr = kCode + 0x1000;
  EXPECT_EQ(r_.Status(g64()), "PAL_REQ_OK");
  r_.Section(1).start_addr = kCode - 0x1000;
  r_.Section(1).page_num = 2;
  EXPECT_EQ(r_.Status(g64()), "PAL_REQ_ERR_SECTION_OVERLAP");
  r_.Section(1).start_addr = kStack;
  r_.Section(1).page_num = 1;
  EXPECT_EQ(r_.Status(g64()), "PAL_REQ_ERR_SECTION_OVERLAP");
}

TEST_P(BothWidths, OneStackAndAtMostOneParamSection) {
  Request two_stacks;
  two_stacks.Add(TV_PAL_SECTION_STACK, 1, 0x09000000);
  EXPECT_EQ(two_stacks.Status(g64()), "PAL_REQ_ERR_SECTION_DUPLICATE");
  Request two_params;
  two_params.Add(TV_PAL_SECTION_PARAM, 1, 0x09000000);
  EXPECT_EQ(two_params.Status(g64()), "PAL_REQ_ERR_SECTION_DUPLICATE");
  r_.Section(2).type = TV_PAL_SECTION_DATA;
  EXPECT_EQ(r_.Status(g64()), "PAL_REQ_ERR_NO_STACK");
}

TEST_P(BothWidths, EntryMustBeInACodeSection) {
  r_.Section(0).type = TV_PAL_SECTION_DATA;
  EXPECT_EQ(r_.Status(g64()), "PAL_REQ_ERR_NO_CODE");
  r_.Section(0).type = TV_PAL_SECTION_SHARED_CODE;
  EXPECT_EQ(r_.Status(g64()), "PAL_REQ_ERR_NO_CODE") << "shared code never traps into the PAL";
  r_.Section(0).type = TV_PAL_SECTION_CODE;
  EXPECT_EQ(r_.Status(g64(), kLinux32Limit, kCode), "PAL_REQ_OK");
  EXPECT_EQ(r_.Status(g64(), kLinux32Limit, kCode + 0xFFF), "PAL_REQ_OK");
  EXPECT_EQ(r_.Status(g64(), kLinux32Limit, kCode + 0x1000), "PAL_REQ_ERR_ENTRY");
  EXPECT_EQ(r_.Status(g64(), kLinux32Limit, kData), "PAL_REQ_ERR_ENTRY");
  EXPECT_EQ(r_.Status(g64(), kLinux32Limit, 0), "PAL_REQ_ERR_ENTRY");
}

TEST_P(BothWidths, AtMostTenParametersOfKnownTypes) {
  Request r;
  r.params.num_params = 0;
  for (int i = 0; i < 10; i++) r.Param(TV_PAL_ARG_INTEGER, 0);
  EXPECT_EQ(r.Status(g64()), "PAL_REQ_OK");
  r.params.num_params = 11;
  EXPECT_EQ(r.Status(g64()), "PAL_REQ_ERR_NUM_PARAMS");
  r.params.num_params = 10;
  r.params.params[9].type = 3;
  EXPECT_EQ(r.Status(g64()), "PAL_REQ_ERR_PARAM_TYPE");
  r.params.params[9].type = 0;
  EXPECT_EQ(r.Status(g64()), "PAL_REQ_ERR_PARAM_TYPE");
}

TEST_P(BothWidths, ParametersNeedAParamSection) {
  r_.secs.num_sections = 3;  // drop PARAM
  EXPECT_EQ(r_.Status(g64()), "PAL_REQ_ERR_NO_PARAM");
  r_.params.num_params = 0;
  ASSERT_EQ(r_.Status(g64()), "PAL_REQ_OK");
  EXPECT_EQ(r_.layout.param_section, -1);
  EXPECT_EQ(r_.layout.param_area, 0U);
  EXPECT_EQ(r_.layout.param_area_bytes, 0U);
}

TEST_P(BothWidths, PointerPayloadMustFitTheParamArea) {
  // One page: 4096 - 16 (offset) - 8 (count) - 24 (record) = 4048 payload bytes.
  const uint64_t words_that_fit = 4048 / (g64() ? 8 : 4);
  r_.params.num_params = 0;
  r_.Param(TV_PAL_ARG_POINTER, words_that_fit);
  EXPECT_EQ(r_.Status(g64()), "PAL_REQ_OK");
  r_.params.params[0].size = words_that_fit + 1;
  EXPECT_EQ(r_.Status(g64()), "PAL_REQ_ERR_PARAM_OVERFLOW");
  r_.Section(3).page_num = 2;
  EXPECT_EQ(r_.Status(g64()), "PAL_REQ_OK");
  r_.params.params[0].size = UINT64_MAX;
  EXPECT_EQ(r_.Status(g64()), "PAL_REQ_ERR_PARAM_OVERFLOW");
  r_.params.params[0].size = 1ULL << 61;
  EXPECT_EQ(r_.Status(g64()), "PAL_REQ_ERR_PARAM_OVERFLOW");
}

TEST(PalReq, FivePointersOf99WordsFitOnePageOnlyFor32BitCallers) {
  Request r;
  r.params.num_params = 0;
  for (int k = 0; k < 5; k++) {
    r.Param(TV_PAL_ARG_INTEGER, 0);
    r.Param(TV_PAL_ARG_POINTER, 99);
  }
  EXPECT_EQ(r.Status(false), "PAL_REQ_OK");
  EXPECT_EQ(r.Status(true), "PAL_REQ_ERR_PARAM_OVERFLOW");
  EXPECT_GT(marshal_area_bytes(&r.params, true), r.layout.param_area_bytes);
}

TEST(PalReq, FirstFailingCheckIsReported) {
  Request r;
  r.Section(3).type = 9;                // section 3: bad type
  r.Section(0).start_addr = kCode + 1;  // section 0: misaligned, checked first
  EXPECT_EQ(r.Status(false), "PAL_REQ_ERR_SECTION_ALIGN");
  r.Section(0).start_addr = kCode;
  EXPECT_EQ(r.Status(false), "PAL_REQ_ERR_SECTION_TYPE");
}

TEST(PalReq, LayoutIsUntouchedOnRejection) {
  Request r;
  r.layout.total_pages = 12345;
  r.Section(0).page_num = 0;
  EXPECT_NE(r.Check(false), PAL_REQ_OK);
  EXPECT_EQ(r.layout.total_pages, 12345U);
}

TEST(PalReqNames, EveryStatusHasItsOwnName) {
  std::set<std::string> seen;
  for (int s = PAL_REQ_OK; s <= PAL_REQ_ERR_PARAM_OVERFLOW; s++) {
    const std::string name = pal_req_status_name(static_cast<pal_req_status>(s));
    EXPECT_EQ(name.rfind("PAL_REQ_", 0), 0U) << name;
    EXPECT_NE(name, "PAL_REQ_ERR_?");
    EXPECT_TRUE(seen.insert(name).second) << name;
  }
  EXPECT_STREQ(pal_req_status_name(static_cast<pal_req_status>(1000)), "PAL_REQ_ERR_?");
}

}  // namespace
