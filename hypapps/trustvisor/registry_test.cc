// SPDX-License-Identifier: Apache-2.0
// The PAL table: capacity, keys, lookups by address and by lent page, running state, unregistering.
#include "hypapps/trustvisor/registry.h"

#include <cstdint>
#include <memory>
#include <set>
#include <string>

#include "gtest/gtest.h"
#include "hypapps/trustvisor/pal_req.h"

namespace {

constexpr uint64_t kCr3 = 0x1234000;
constexpr uint64_t kCode = 0x08048000;
constexpr uint64_t kData = 0x08100000;
constexpr uint64_t kStack = 0x08200000;
constexpr uint64_t kParam = 0x08300000;
constexpr uint64_t kEntry = kCode + 0x10;

// A request pal_req_check accepted, as the glue hands it to the registry.
struct Request {
  explicit Request(uint64_t base = 0) {
    secs = tv_pal_sections{};
    params = tv_pal_params{};
    Add(TV_PAL_SECTION_CODE, 1, kCode + base);
    Add(TV_PAL_SECTION_DATA, 3, kData + base);
    Add(TV_PAL_SECTION_STACK, 2, kStack + base);
    Add(TV_PAL_SECTION_PARAM, 1, kParam + base);
    params.num_params = 2;
    params.params[0] = {TV_PAL_ARG_INTEGER, 0, 4};
    params.params[1] = {TV_PAL_ARG_POINTER, 0, 4};
    entry = kEntry + base;
    EXPECT_EQ(pal_req_check(&secs, &params, entry, false, 0xC0000000, &layout), PAL_REQ_OK);
  }
  void Add(uint32_t type, uint32_t pages, uint64_t start) {
    secs.sections[secs.num_sections] = {type, pages, start};
    secs.num_sections++;
  }
  reg_status AddTo(pal_registry *r, uint64_t cr3, bool g64 = false, reg_pal **out = nullptr) {
    return registry_add(r, cr3, g64, entry, &secs, &params, &layout, out);
  }

  tv_pal_sections secs;
  tv_pal_params params;
  pal_req_layout layout{};
  uint64_t entry;
};

class Registry : public ::testing::Test {
 protected:
  void SetUp() override {
    r_ = std::make_unique<pal_registry>();
    registry_init(r_.get());
  }
  std::unique_ptr<pal_registry> r_;
};

TEST_F(Registry, RegistrationRecordsTheRequestAndStartsIdle) {
  Request req;
  reg_pal *p = nullptr;
  ASSERT_EQ(req.AddTo(r_.get(), kCr3, true, &p), REG_OK);
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(p->in_use);
  EXPECT_EQ(p->id, 0U);
  EXPECT_EQ(p->cr3, kCr3);
  EXPECT_TRUE(p->g64);
  EXPECT_EQ(p->entry_gva, kEntry);
  EXPECT_EQ(p->stack_top, kStack + 2 * 0x1000 - 0x10);
  EXPECT_EQ(p->param_area, kParam + 0x10);
  EXPECT_EQ(p->param_area_bytes, 0x1000U - 0x10);
  EXPECT_EQ(p->params.num_params, 2U);
  EXPECT_EQ(p->params.params[1].type, TV_PAL_ARG_POINTER);
  ASSERT_EQ(p->num_sections, 4U);
  EXPECT_EQ(p->sections[1].type, TV_PAL_SECTION_DATA);
  EXPECT_EQ(p->sections[1].start_gva, kData);
  EXPECT_EQ(p->sections[1].first_page, 1U);
  EXPECT_EQ(p->sections[2].first_page, 4U);
  EXPECT_EQ(p->sections[3].first_page, 6U);
  EXPECT_EQ(p->num_pages, 7U);
  for (uint32_t k = 0; k < p->num_pages; k++) EXPECT_EQ(p->page_gpa[k], REG_NO_GPA);
  EXPECT_EQ(p->running_cpu, REG_NO_CPU);
  EXPECT_EQ(reg_pal_page_gva(p, 0), kCode);
  EXPECT_EQ(reg_pal_page_gva(p, 3), kData + 0x2000);
  EXPECT_EQ(reg_pal_page_gva(p, 5), kStack + 0x1000);
  EXPECT_EQ(reg_pal_page_gva(p, 7), UINT64_MAX);

  marshal_pal m;
  reg_pal_marshal_target(p, &m);
  EXPECT_TRUE(m.g64);
  EXPECT_EQ(m.stack_top, p->stack_top);
  EXPECT_EQ(m.param_area, p->param_area);
  EXPECT_EQ(m.param_area_bytes, p->param_area_bytes);
  EXPECT_EQ(m.params, &p->params);
}

TEST_F(Registry, TableTakesItsCapacityAndRefusesTheRest) {
  Request req;
  int ok = 0, full = 0;
  std::set<uint32_t> ids;
  for (uint64_t i = 0; i < 1000; i++) {
    reg_pal *p = nullptr;
    const reg_status st = req.AddTo(r_.get(), 0x1000 * (i + 1), false, &p);
    if (st == REG_OK) {
      ok++;
      ids.insert(p->id);
    } else {
      EXPECT_EQ(st, REG_ERR_FULL) << i;
      full++;
    }
  }
  EXPECT_EQ(ok, static_cast<int>(REG_MAX_PALS));
  EXPECT_EQ(full, 1000 - static_cast<int>(REG_MAX_PALS));
  EXPECT_EQ(ids.size(), REG_MAX_PALS);
  EXPECT_EQ(*ids.rbegin(), REG_MAX_PALS - 1);

  // A freed slot is the next one used.
  ASSERT_EQ(registry_remove(r_.get(), 0x1000 * 6, false, kEntry), REG_OK);
  reg_pal *p = nullptr;
  ASSERT_EQ(req.AddTo(r_.get(), 0xABC000, false, &p), REG_OK);
  EXPECT_EQ(p->id, 5U);
  EXPECT_EQ(req.AddTo(r_.get(), 0xABD000), REG_ERR_FULL);
}

TEST_F(Registry, UnregisteringTwiceIsNotFound) {
  Request req;
  ASSERT_EQ(req.AddTo(r_.get(), kCr3), REG_OK);
  EXPECT_EQ(registry_remove(r_.get(), kCr3, false, kEntry), REG_OK);
  EXPECT_EQ(registry_find(r_.get(), kCr3, false, kEntry), nullptr);
  EXPECT_EQ(registry_remove(r_.get(), kCr3, false, kEntry), REG_ERR_NOT_FOUND);
  EXPECT_EQ(registry_get(r_.get(), 0), nullptr);
}

TEST_F(Registry, KeysAreAddressSpaceWidthAndEntry) {
  Request a, b(0x01000000);
  b.entry = a.entry;  // same entry gva, other sections
  ASSERT_EQ(a.AddTo(r_.get(), kCr3, false), REG_OK);
  EXPECT_EQ(a.AddTo(r_.get(), kCr3, false), REG_ERR_DUPLICATE);
  ASSERT_EQ(b.AddTo(r_.get(), kCr3, true), REG_OK) << "same entry, other width";
  ASSERT_EQ(a.AddTo(r_.get(), kCr3 + 0x1000, false), REG_OK) << "same request, other process";
  const reg_pal *p32 = registry_find(r_.get(), kCr3, false, kEntry);
  const reg_pal *p64 = registry_find(r_.get(), kCr3, true, kEntry);
  ASSERT_NE(p32, nullptr);
  ASSERT_NE(p64, nullptr);
  EXPECT_NE(p32, p64);
  EXPECT_EQ(registry_find(r_.get(), kCr3, false, kEntry + 1), nullptr);
  EXPECT_EQ(registry_find(r_.get(), kCr3 + 0x2000, false, kEntry), nullptr);
}

TEST_F(Registry, SectionsOfTwoPalsInOneAddressSpaceMayNotOverlap) {
  Request a, b(0x00001000);  // every section one page higher
  ASSERT_EQ(a.AddTo(r_.get(), kCr3), REG_OK);
  EXPECT_EQ(b.AddTo(r_.get(), kCr3), REG_ERR_OVERLAP);
  EXPECT_EQ(b.AddTo(r_.get(), kCr3, true), REG_ERR_OVERLAP) << "whatever the width";
  EXPECT_EQ(b.AddTo(r_.get(), kCr3 + 0x1000), REG_OK);
  Request c(0x00800000);
  EXPECT_EQ(c.AddTo(r_.get(), kCr3), REG_OK);
}

TEST_F(Registry, FindByGvaNamesThePalAndItsSection) {
  Request req;
  ASSERT_EQ(req.AddTo(r_.get(), kCr3), REG_OK);
  uint32_t s = 99;
  reg_pal *p = registry_find_by_gva(r_.get(), kCr3, false, kData + 0x2FFF, &s);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(s, 1U);
  EXPECT_EQ(registry_find_by_gva(r_.get(), kCr3, false, kEntry, nullptr), p);
  EXPECT_EQ(registry_find_by_gva(r_.get(), kCr3, false, kData + 0x3000, nullptr), nullptr);
  EXPECT_EQ(registry_find_by_gva(r_.get(), kCr3, false, kCode - 1, nullptr), nullptr);
  EXPECT_EQ(registry_find_by_gva(r_.get(), kCr3, true, kEntry, nullptr), nullptr);
  EXPECT_EQ(registry_find_by_gva(r_.get(), kCr3 + 0x1000, false, kEntry, nullptr), nullptr);
  EXPECT_EQ(registry_find_by_gva(r_.get(), kCr3, false, MARSHAL_RETURN_SENTINEL, nullptr), nullptr)
      << "the return sentinel is in no PAL: that is how exit is told from entry";
}

TEST_F(Registry, AGpaIsLentToOnePalPageAtMost) {
  Request a, b(0x00800000);
  reg_pal *pa = nullptr, *pb = nullptr;
  ASSERT_EQ(a.AddTo(r_.get(), kCr3, false, &pa), REG_OK);
  ASSERT_EQ(b.AddTo(r_.get(), kCr3, false, &pb), REG_OK);
  ASSERT_EQ(registry_lend_page(r_.get(), pa, 0, 0x5000000), REG_OK);
  uint32_t page = 99;
  EXPECT_EQ(registry_find_lent_gpa(r_.get(), 0x5000123, &page), pa);
  EXPECT_EQ(page, 0U);
  EXPECT_EQ(registry_lend_page(r_.get(), pb, 0, 0x5000000), REG_ERR_GPA_LENT);
  EXPECT_EQ(registry_lend_page(r_.get(), pa, 1, 0x5000000), REG_ERR_GPA_LENT)
      << "two gvas of one PAL aliasing one frame";
  EXPECT_EQ(registry_lend_page(r_.get(), pa, 0, 0x6000000), REG_ERR_INVALID) << "already lent";
  EXPECT_EQ(registry_lend_page(r_.get(), pa, 1, 0x6000800), REG_ERR_INVALID) << "misaligned";
  EXPECT_EQ(registry_lend_page(r_.get(), pa, pa->num_pages, 0x6000000), REG_ERR_INVALID);
  EXPECT_EQ(registry_find_lent_gpa(r_.get(), 0x6000000, nullptr), nullptr);

  ASSERT_EQ(registry_remove(r_.get(), kCr3, false, a.entry), REG_OK);
  EXPECT_EQ(registry_find_lent_gpa(r_.get(), 0x5000000, nullptr), nullptr);
  EXPECT_EQ(registry_lend_page(r_.get(), pb, 0, 0x5000000), REG_OK) << "free again";
}

TEST_F(Registry, RunningPalIsClaimedByOneCpuAndCannotBeRemoved) {
  Request req;
  reg_pal *p = nullptr;
  ASSERT_EQ(req.AddTo(r_.get(), kCr3, false, &p), REG_OK);
  ASSERT_EQ(reg_pal_claim(p, 2), REG_OK);
  EXPECT_EQ(p->running_cpu, 2);
  EXPECT_EQ(reg_pal_claim(p, 3), REG_ERR_BUSY);
  EXPECT_EQ(reg_pal_claim(p, 2), REG_ERR_BUSY);
  EXPECT_EQ(registry_remove(r_.get(), kCr3, false, kEntry), REG_ERR_BUSY);
  EXPECT_EQ(reg_pal_release(p, 1), REG_ERR_NOT_RUNNING);
  EXPECT_EQ(reg_pal_release(p, 2), REG_OK);
  EXPECT_EQ(reg_pal_release(p, 2), REG_ERR_NOT_RUNNING);
  EXPECT_EQ(reg_pal_claim(p, -1), REG_ERR_INVALID);
  EXPECT_EQ(registry_remove(r_.get(), kCr3, false, kEntry), REG_OK);
}

TEST_F(Registry, RequestsPalReqWouldRejectCannotCorruptTheTable) {
  Request req;
  req.secs.num_sections = 0;
  EXPECT_EQ(req.AddTo(r_.get(), kCr3), REG_ERR_INVALID);
  Request big;
  big.secs.sections[1].page_num = REG_MAX_PAGES;  // 512 + 4 pages in all
  EXPECT_EQ(big.AddTo(r_.get(), kCr3), REG_ERR_INVALID);
  Request wrap;
  wrap.secs.sections[1].start_addr = 0xFFFFFFFFFFFFF000ULL;
  EXPECT_EQ(wrap.AddTo(r_.get(), kCr3), REG_ERR_INVALID);
  Request many;
  many.params.num_params = TV_MAX_PARAMS + 1;
  EXPECT_EQ(many.AddTo(r_.get(), kCr3), REG_ERR_INVALID);
  for (uint32_t i = 0; i < REG_MAX_PALS; i++) EXPECT_EQ(registry_get(r_.get(), i), nullptr);
}

TEST_F(Registry, GetFindsOnlyLiveSlots) {
  Request req;
  ASSERT_EQ(req.AddTo(r_.get(), kCr3), REG_OK);
  EXPECT_NE(registry_get(r_.get(), 0), nullptr);
  EXPECT_EQ(registry_get(r_.get(), 1), nullptr);
  EXPECT_EQ(registry_get(r_.get(), REG_MAX_PALS), nullptr);
  EXPECT_EQ(registry_get(r_.get(), UINT32_MAX), nullptr);
}

TEST(RegistryNames, EveryStatusHasItsOwnName) {
  std::set<std::string> seen;
  for (int s = REG_OK; s <= REG_ERR_NOT_RUNNING; s++) {
    const std::string name = reg_status_name(static_cast<reg_status>(s));
    EXPECT_EQ(name.rfind("REG_", 0), 0U) << name;
    EXPECT_NE(name, "REG_ERR_?");
    EXPECT_TRUE(seen.insert(name).second) << name;
  }
  EXPECT_STREQ(reg_status_name(static_cast<reg_status>(77)), "REG_ERR_?");
}

}  // namespace
