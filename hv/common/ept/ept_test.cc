// SPDX-License-Identifier: Apache-2.0
// EPT builder: mapping, large pages, splitting, hiding, identity map with MTRR types, page budget.
#include "xhv/ept.h"

#include <cstdlib>
#include <cstring>
#include <vector>

#include "gtest/gtest.h"
#include "testing/fakes/fake_cpu.h"

namespace {

constexpr uint64_t kKiB = 1024ULL;
constexpr uint64_t kMiB = 1024ULL * kKiB;
constexpr uint64_t kGiB = 1024ULL * kMiB;
constexpr uint64_t k4K = 4 * kKiB;
constexpr uint64_t k2M = 2 * kMiB;

constexpr uint8_t UC = MTRR_TYPE_UC;
constexpr uint8_t WT = MTRR_TYPE_WT;
constexpr uint8_t WP = MTRR_TYPE_WP;
constexpr uint8_t WB = MTRR_TYPE_WB;

// Page-table pages from the heap, each with a made-up physical address so
// that a mix-up between virtual and physical addresses cannot go unnoticed.
class PagePool {
 public:
  static constexpr uint64_t kPaBase = 0x7654000000ULL;

  PagePool() {
    ops_.alloc = &PagePool::Alloc;
    ops_.pa_to_va = &PagePool::PaToVa;
    ops_.ctx = this;
  }
  ~PagePool() {
    for (void *p : pages_) std::free(p);
  }
  PagePool(const PagePool &) = delete;
  PagePool &operator=(const PagePool &) = delete;

  const ept_pages *ops() const { return &ops_; }
  size_t allocated() const { return pages_.size(); }
  void set_limit(size_t limit) { limit_ = limit; }
  void set_misaligned(bool m) { misaligned_ = m; }

  // The host pointer of the table page at pa, or nullptr if pa is not one of ours.
  uint64_t *Table(uint64_t pa) const {
    if (pa < kPaBase || (pa - kPaBase) % k4K != 0 || (pa - kPaBase) / k4K >= pages_.size()) {
      return nullptr;
    }
    return static_cast<uint64_t *>(pages_[(pa - kPaBase) / k4K]);
  }

 private:
  static void *Alloc(void *ctx, uint64_t *pa) {
    PagePool *self = static_cast<PagePool *>(ctx);
    if (self->pages_.size() >= self->limit_) return nullptr;
    void *p = nullptr;
    if (posix_memalign(&p, k4K, k4K) != 0) return nullptr;
    std::memset(p, 0xA5, k4K);  // the builder must not rely on zeroed pages
    *pa = kPaBase + self->pages_.size() * k4K + (self->misaligned_ ? 0x10 : 0);
    self->pages_.push_back(p);
    return p;
  }
  static void *PaToVa(void *ctx, uint64_t pa) {
    uint64_t *t = static_cast<PagePool *>(ctx)->Table(pa);
    if (t == nullptr) {
      ADD_FAILURE() << "pa_to_va of unknown page 0x" << std::hex << pa;
      std::abort();
    }
    return t;
  }

  ept_pages ops_;
  std::vector<void *> pages_;
  size_t limit_ = SIZE_MAX;
  bool misaligned_ = false;
};

struct Translation {
  uint64_t hpa;
  uint32_t prot;
  uint8_t memtype;
  int level;
};

Translation Lookup(const ept &e, uint64_t gpa) {
  Translation t;
  t.prot = 0xEE;
  t.memtype = 0xEE;
  t.level = -1;
  t.hpa = ept_lookup(&e, gpa, &t.prot, &t.memtype, &t.level);
  return t;
}

uint64_t Repeat(uint8_t type) { return 0x0101010101010101ULL * type; }

// PC-like MTRRs: WB by default, VGA hole UC, ROMs WP, MMIO at 3-4 GiB UC.
mtrr_state PcMtrrs() {
  mtrr_state s;
  std::memset(&s, 0, sizeof(s));
  s.cap = MTRRCAP_FIX | 8U;
  s.def_type = MTRR_DEF_TYPE_E | MTRR_DEF_TYPE_FE | WB;
  s.fixed[0] = Repeat(WB);
  s.fixed[1] = Repeat(WB);
  s.fixed[2] = Repeat(UC);
  for (int i = 3; i < 11; i++) s.fixed[i] = Repeat(WP);
  s.phys_addr_bits = 36;
  s.var[0].base = 3 * kGiB | UC;
  s.var[0].mask = (~(1 * kGiB - 1) & ((1ULL << 36) - 1)) | MTRR_PHYSMASK_VALID;
  s.var_count = 1;
  return s;
}

void AddVar(mtrr_state *s, uint64_t base, uint64_t size, uint8_t type) {
  s->var[s->var_count].base = base | type;
  s->var[s->var_count].mask = (~(size - 1) & ((1ULL << s->phys_addr_bits) - 1)) |
                              MTRR_PHYSMASK_VALID;
  s->var_count++;
}

// Walks the tables the way the CPU does (bits 2:0 == 0: not present; bit 7:
// leaf) and checks that every table pointer is a pool page. Returns the
// number of table pages reachable, PML4 included.
size_t CheckAndCountTables(const PagePool &pool, uint64_t pa, int level) {
  const uint64_t *t = pool.Table(pa);
  EXPECT_NE(t, nullptr) << "table pointer to 0x" << std::hex << pa;
  if (t == nullptr) return 0;
  size_t n = 1;
  for (int i = 0; i < 512; i++) {
    const uint64_t pte = t[i];
    if ((pte & 7) == 0) continue;
    if (level == 4) {
      EXPECT_EQ(pte & 0x80, 0U) << "PML4 entries cannot be leaves";
    }
    if (level == 1 || (pte & 0x80) != 0) continue;  // a leaf
    EXPECT_EQ(pte & 7, 7U) << "non-leaf entries grant everything";
    n += CheckAndCountTables(pool, pte & 0x000FFFFFFFFFF000ULL, level - 1);
  }
  return n;
}

class EptTest : public ::testing::Test {
 protected:
  void SetUp() override {
    xhv_fake::cpu().Reset();
    ASSERT_EQ(ept_init(&e_, pool_.ops()), EPT_OK);
  }

  size_t Tables() const { return CheckAndCountTables(pool_, e_.pml4_pa, 4); }

  PagePool pool_;
  ept e_;
};

// ---- init / EPTP ----

TEST_F(EptTest, EptpIsPml4WithWriteBackAndFourLevelWalk) {
  EXPECT_EQ(ept_eptp(&e_), PagePool::kPaBase | 0x1EU);
  EXPECT_EQ(ept_eptp(&e_) & 0xFFFU, 0x1EU);
  EXPECT_EQ(e_.pml4, pool_.Table(e_.pml4_pa));
}

TEST_F(EptTest, NewEptFromADirtyPoolMapsNothing) {
  EXPECT_EQ(pool_.allocated(), 1U);
  for (uint64_t gpa : std::vector<uint64_t>{0, 0x1000, 1 * kGiB, 4 * kGiB, 0xFFFFFFFFF000}) {
    Translation t = Lookup(e_, gpa);
    EXPECT_EQ(t.hpa, EPT_NOT_PRESENT);
    EXPECT_EQ(t.prot, 0U);
    EXPECT_EQ(t.level, 4);
  }
  EXPECT_EQ(Tables(), 1U);
}

TEST(EptInit, FailsWhenThereIsNoPage) {
  PagePool pool;
  pool.set_limit(0);
  ept e;
  EXPECT_EQ(ept_init(&e, pool.ops()), EPT_ERR_NOMEM);
}

TEST(EptInit, MisalignedPageFromThePoolPanics) {
  PagePool pool;
  pool.set_misaligned(true);
  ept e;
  EXPECT_DEATH(ept_init(&e, pool.ops()), "PANIC: assertion failed");
}

// ---- ept_map / ept_lookup ----

TEST_F(EptTest, FourKiBMappingTranslatesWithOffset) {
  ASSERT_EQ(ept_map(&e_, 0x5000, 0x123000, k4K, EPT_READ | EPT_WRITE, WB), EPT_OK);
  Translation t = Lookup(e_, 0x5ABC);
  EXPECT_EQ(t.hpa, 0x123ABCU);
  EXPECT_EQ(t.prot, EPT_READ | EPT_WRITE);
  EXPECT_EQ(t.memtype, WB);
  EXPECT_EQ(t.level, EPT_LEVEL_4K);
  EXPECT_EQ(Lookup(e_, 0x4FFF).hpa, EPT_NOT_PRESENT);
  EXPECT_EQ(Lookup(e_, 0x6000).hpa, EPT_NOT_PRESENT);
  EXPECT_EQ(Lookup(e_, 0x4FFF).level, EPT_LEVEL_4K);  // walk reached the PT
}

TEST_F(EptTest, NullOutputsAreAllowed) {
  ASSERT_EQ(ept_map(&e_, 0, 0x200000, k4K, EPT_RWX, UC), EPT_OK);
  EXPECT_EQ(ept_lookup(&e_, 0x10, nullptr, nullptr, nullptr), 0x200010U);
}

TEST_F(EptTest, AlignedRangeUsesTwoMiBLeaves) {
  ASSERT_EQ(ept_map(&e_, 4 * kMiB, 64 * kMiB, 8 * kMiB, EPT_RWX, WB), EPT_OK);
  for (uint64_t off = 0; off < 8 * kMiB; off += 512 * kKiB) {
    Translation t = Lookup(e_, 4 * kMiB + off + 0x123);
    EXPECT_EQ(t.hpa, 64 * kMiB + off + 0x123);
    EXPECT_EQ(t.level, EPT_LEVEL_2M);
  }
  EXPECT_EQ(Tables(), 3U);  // PML4, PDPT, PD: no page table at all
}

TEST_F(EptTest, UnalignedHostAddressForcesFourKiBLeaves) {
  ASSERT_EQ(ept_map(&e_, k2M, k2M + k4K, k2M, EPT_RWX, WB), EPT_OK);
  Translation t = Lookup(e_, k2M + 0x1000);
  EXPECT_EQ(t.hpa, k2M + 0x2000);
  EXPECT_EQ(t.level, EPT_LEVEL_4K);
}

TEST_F(EptTest, RangeEdgesGetFourKiBAndTheMiddleTwoMiB) {
  ASSERT_EQ(ept_map(&e_, k2M - k4K, k2M - k4K, k2M + 2 * k4K, EPT_RWX, WB), EPT_OK);
  EXPECT_EQ(Lookup(e_, k2M - k4K).level, EPT_LEVEL_4K);
  EXPECT_EQ(Lookup(e_, k2M).level, EPT_LEVEL_2M);
  EXPECT_EQ(Lookup(e_, 2 * k2M).level, EPT_LEVEL_4K);
  EXPECT_EQ(Lookup(e_, 2 * k2M).hpa, 2 * k2M);
  EXPECT_EQ(Lookup(e_, 2 * k2M + k4K).hpa, EPT_NOT_PRESENT);
  EXPECT_EQ(Lookup(e_, k2M - 2 * k4K).hpa, EPT_NOT_PRESENT);
}

TEST_F(EptTest, OneGiBLeavesOnlyWhenEnabled) {
  ASSERT_EQ(ept_map(&e_, 1 * kGiB, 1 * kGiB, 1 * kGiB, EPT_RWX, WB), EPT_OK);
  EXPECT_EQ(Lookup(e_, 1 * kGiB).level, EPT_LEVEL_2M);
  e_.max_leaf_level = EPT_LEVEL_1G;
  ASSERT_EQ(ept_map(&e_, 2 * kGiB, 2 * kGiB, 1 * kGiB, EPT_RWX, WB), EPT_OK);
  Translation t = Lookup(e_, 2 * kGiB + 0x12345678);
  EXPECT_EQ(t.level, EPT_LEVEL_1G);
  EXPECT_EQ(t.hpa, 2 * kGiB + 0x12345678);
}

TEST_F(EptTest, LargePagesCanBeTurnedOff) {
  e_.max_leaf_level = EPT_LEVEL_4K;
  ASSERT_EQ(ept_map(&e_, 0, 0, k2M, EPT_RWX, WB), EPT_OK);
  EXPECT_EQ(Lookup(e_, 0x100000).level, EPT_LEVEL_4K);
}

TEST_F(EptTest, RawEntriesFollowTheSdmFormat) {
  ASSERT_EQ(ept_map(&e_, k2M, 0x40000000ULL, k2M, EPT_READ | EPT_EXEC, WT), EPT_OK);
  ASSERT_EQ(ept_map(&e_, 0x3000, 0x9000, k4K, EPT_READ, UC), EPT_OK);
  const uint64_t *pml4 = static_cast<const uint64_t *>(e_.pml4);
  ASSERT_EQ(pml4[0] & 7, 7U);
  const uint64_t *pdpt = pool_.Table(pml4[0] & 0xFFFFFFFFFF000ULL);
  ASSERT_NE(pdpt, nullptr);
  const uint64_t *pd = pool_.Table(pdpt[0] & 0xFFFFFFFFFF000ULL);
  ASSERT_NE(pd, nullptr);
  const uint64_t big = pd[1];
  EXPECT_EQ(big & 0xFFFFFFFFFF000ULL, 0x40000000U);
  EXPECT_EQ(big & 0x80, 0x80U) << "large-page bit";
  EXPECT_EQ((big >> 3) & 7, WT);
  EXPECT_EQ(big & 7, EPT_READ | EPT_EXEC);
  EXPECT_EQ(big & 0x40, 0U) << "ignore-PAT stays clear: the guest's PAT still applies";
  const uint64_t *pt = pool_.Table(pd[0] & 0xFFFFFFFFFF000ULL);
  ASSERT_NE(pt, nullptr);
  EXPECT_EQ(pt[3] & 0xFFFFFFFFFF0FFULL, 0x9000U | (UC << 3) | EPT_READ);
}

TEST_F(EptTest, RemappingPartOfALargePageKeepsTheRest) {
  ASSERT_EQ(ept_map(&e_, 0, 0, 4 * kMiB, EPT_RWX, WB), EPT_OK);
  ASSERT_EQ(ept_map(&e_, 0x1000, 0x9000000, k4K, EPT_READ, UC), EPT_OK);
  Translation t = Lookup(e_, 0x1000);
  EXPECT_EQ(t.hpa, 0x9000000U);
  EXPECT_EQ(t.prot, EPT_READ);
  EXPECT_EQ(t.memtype, UC);
  for (uint64_t gpa : std::vector<uint64_t>{0x0, 0x2000, 0x1FF000}) {
    t = Lookup(e_, gpa);
    EXPECT_EQ(t.hpa, gpa);
    EXPECT_EQ(t.prot, EPT_RWX);
    EXPECT_EQ(t.memtype, WB);
    EXPECT_EQ(t.level, EPT_LEVEL_4K);
  }
  EXPECT_EQ(Lookup(e_, k2M).level, EPT_LEVEL_2M);  // the neighbouring 2 MiB page is untouched
}

TEST_F(EptTest, SplittingAOneGiBPageKeepsTwoMiBLeavesElsewhere) {
  e_.max_leaf_level = EPT_LEVEL_1G;
  ASSERT_EQ(ept_map(&e_, 0, 0x80000000ULL, 1 * kGiB, EPT_READ | EPT_WRITE, WP), EPT_OK);
  ASSERT_EQ(ept_set_prot(&e_, 5 * kMiB, k4K, 0), EPT_OK);
  EXPECT_EQ(Lookup(e_, 5 * kMiB).hpa, EPT_NOT_PRESENT);
  Translation t = Lookup(e_, 5 * kMiB + k4K);
  EXPECT_EQ(t.hpa, 0x80000000ULL + 5 * kMiB + k4K);
  EXPECT_EQ(t.level, EPT_LEVEL_4K);
  EXPECT_EQ(t.memtype, WP);
  EXPECT_EQ(t.prot, EPT_READ | EPT_WRITE);
  t = Lookup(e_, 700 * kMiB);
  EXPECT_EQ(t.hpa, 0x80000000ULL + 700 * kMiB);
  EXPECT_EQ(t.level, EPT_LEVEL_2M);
  EXPECT_EQ(t.memtype, WP);
}

TEST_F(EptTest, RemappingASplitRangeUpdatesEveryPageUnderTheTable) {
  ASSERT_EQ(ept_map(&e_, 0, 0, k2M, EPT_RWX, WB), EPT_OK);
  ASSERT_EQ(ept_set_prot(&e_, 0x3000, k4K, EPT_READ), EPT_OK);
  ASSERT_EQ(ept_map(&e_, 0, 64 * kMiB, k2M, EPT_READ, UC), EPT_OK);
  for (uint64_t gpa = 0; gpa < k2M; gpa += 0x7000) {
    Translation t = Lookup(e_, gpa);
    EXPECT_EQ(t.hpa, 64 * kMiB + gpa);
    EXPECT_EQ(t.prot, EPT_READ);
    EXPECT_EQ(t.memtype, UC);
  }
}

TEST_F(EptTest, InvalidArgumentsAreRejectedWithoutSideEffects) {
  EXPECT_EQ(ept_map(&e_, 0x800, 0, k4K, EPT_RWX, WB), EPT_ERR_INVALID);
  EXPECT_EQ(ept_map(&e_, 0, 0x800, k4K, EPT_RWX, WB), EPT_ERR_INVALID);
  EXPECT_EQ(ept_map(&e_, 0, 0, 0x800, EPT_RWX, WB), EPT_ERR_INVALID);
  EXPECT_EQ(ept_map(&e_, 0, 0, k4K, EPT_WRITE, WB), EPT_ERR_INVALID);
  EXPECT_EQ(ept_map(&e_, 0, 0, k4K, EPT_WRITE | EPT_EXEC, WB), EPT_ERR_INVALID);
  EXPECT_EQ(ept_map(&e_, 0, 0, k4K, 8, WB), EPT_ERR_INVALID);
  EXPECT_EQ(ept_map(&e_, 0, 0, k4K, EPT_RWX, 2), EPT_ERR_INVALID);
  EXPECT_EQ(ept_map(&e_, 0, 0, k4K, EPT_RWX, 7), EPT_ERR_INVALID);
  EXPECT_EQ(ept_map(&e_, EPT_GPA_LIMIT, 0, k4K, EPT_RWX, WB), EPT_ERR_INVALID);
  EXPECT_EQ(ept_map(&e_, EPT_GPA_LIMIT - k4K, 0, 2 * k4K, EPT_RWX, WB), EPT_ERR_INVALID);
  EXPECT_EQ(ept_map(&e_, 0, 1ULL << 52, k4K, EPT_RWX, WB), EPT_ERR_INVALID);
  EXPECT_EQ(ept_set_prot(&e_, 0x800, k4K, 0), EPT_ERR_INVALID);
  EXPECT_EQ(ept_set_prot(&e_, 0, k4K, EPT_WRITE), EPT_ERR_INVALID);
  EXPECT_EQ(pool_.allocated(), 1U);
}

TEST_F(EptTest, ExecuteOnlyAndLastGuestPageAreAccepted) {
  ASSERT_EQ(ept_map(&e_, EPT_GPA_LIMIT - k4K, 0x1000, k4K, EPT_EXEC, WB), EPT_OK);
  Translation t = Lookup(e_, EPT_GPA_LIMIT - 1);
  EXPECT_EQ(t.hpa, 0x1FFFU);
  EXPECT_EQ(t.prot, EPT_EXEC);
  EXPECT_EQ(Lookup(e_, EPT_GPA_LIMIT).hpa, EPT_NOT_PRESENT);
}

TEST_F(EptTest, MappingWithNoAccessKeepsTheSlotButIsNotPresent) {
  ASSERT_EQ(ept_map(&e_, 0x8000, 0x8000, k4K, 0, WB), EPT_OK);
  Translation t = Lookup(e_, 0x8000);
  EXPECT_EQ(t.hpa, EPT_NOT_PRESENT);
  EXPECT_EQ(t.prot, 0U);
  EXPECT_EQ(t.memtype, WB);
  ASSERT_EQ(ept_set_prot(&e_, 0x8000, k4K, EPT_READ), EPT_OK);
  EXPECT_EQ(Lookup(e_, 0x8000).hpa, 0x8000U);
}

// ---- ept_set_prot ----

TEST_F(EptTest, HidingAnUnalignedRangeIsExactAndSplitsOnlyTheEdges) {
  ASSERT_EQ(ept_map(&e_, 0, 0, 64 * kMiB, EPT_RWX, WB), EPT_OK);
  const uint64_t lo = 10 * kMiB + 3 * k4K, hi = 20 * kMiB + 5 * k4K;
  ASSERT_EQ(ept_set_prot(&e_, lo, hi - lo, 0), EPT_OK);
  for (uint64_t gpa = 8 * kMiB; gpa < 24 * kMiB; gpa += k4K) {
    Translation t = Lookup(e_, gpa);
    if (gpa >= lo && gpa < hi) {
      ASSERT_EQ(t.hpa, EPT_NOT_PRESENT) << std::hex << gpa;
      ASSERT_EQ(t.prot, 0U);
    } else {
      ASSERT_EQ(t.hpa, gpa) << std::hex << gpa;
      ASSERT_EQ(t.prot, EPT_RWX);
      ASSERT_EQ(t.memtype, WB);
    }
  }
  EXPECT_EQ(Lookup(e_, lo - k4K).level, EPT_LEVEL_4K);
  EXPECT_EQ(Lookup(e_, hi).level, EPT_LEVEL_4K);
  EXPECT_EQ(Lookup(e_, 12 * kMiB).level, EPT_LEVEL_2M);  // hidden as a whole 2 MiB leaf
  EXPECT_EQ(Lookup(e_, 8 * kMiB).level, EPT_LEVEL_2M);
  EXPECT_EQ(Lookup(e_, 22 * kMiB).level, EPT_LEVEL_2M);
  EXPECT_EQ(Tables(), 3U + 2U);  // one page table per unaligned edge
}

TEST_F(EptTest, HiddenPagesComeBackWithTheirAddressAndType) {
  ASSERT_EQ(ept_map(&e_, 0, 32 * kMiB, 4 * kMiB, EPT_RWX, WT), EPT_OK);
  ASSERT_EQ(ept_set_prot(&e_, k4K, 3 * kMiB, 0), EPT_OK);
  ASSERT_EQ(ept_set_prot(&e_, 0, 4 * kMiB, EPT_READ | EPT_EXEC), EPT_OK);
  for (uint64_t gpa = 0; gpa < 4 * kMiB; gpa += 0x11000) {
    Translation t = Lookup(e_, gpa);
    EXPECT_EQ(t.hpa, 32 * kMiB + gpa);
    EXPECT_EQ(t.prot, EPT_READ | EPT_EXEC);
    EXPECT_EQ(t.memtype, WT);
  }
}

TEST_F(EptTest, SettingTheSameProtectionDoesNotSplit) {
  ASSERT_EQ(ept_map(&e_, 0, 0, 4 * kMiB, EPT_RWX, WB), EPT_OK);
  const size_t before = pool_.allocated();
  ASSERT_EQ(ept_set_prot(&e_, 0x5000, 0x3000, EPT_RWX), EPT_OK);
  EXPECT_EQ(pool_.allocated(), before);
  EXPECT_EQ(Lookup(e_, 0x5000).level, EPT_LEVEL_2M);
}

TEST_F(EptTest, AlignedProtectionChangeKeepsLargeLeaves) {
  ASSERT_EQ(ept_map(&e_, 0, 0, 8 * kMiB, EPT_RWX, WB), EPT_OK);
  ASSERT_EQ(ept_set_prot(&e_, k2M, 2 * k2M, EPT_READ), EPT_OK);
  EXPECT_EQ(Lookup(e_, k2M).prot, EPT_READ);
  EXPECT_EQ(Lookup(e_, 3 * k2M - 1).prot, EPT_READ);
  EXPECT_EQ(Lookup(e_, 3 * k2M).prot, EPT_RWX);
  EXPECT_EQ(Lookup(e_, k2M - 1).prot, EPT_RWX);
  EXPECT_EQ(Lookup(e_, k2M).level, EPT_LEVEL_2M);
  EXPECT_EQ(Tables(), 3U);
}

TEST_F(EptTest, UnmappedPartsStayUnmapped) {
  ASSERT_EQ(ept_map(&e_, 1 * kGiB, 1 * kGiB, k4K, EPT_READ, WB), EPT_OK);
  const size_t before = pool_.allocated();
  ASSERT_EQ(ept_set_prot(&e_, 0, 2 * kGiB, EPT_RWX), EPT_OK);
  EXPECT_EQ(pool_.allocated(), before);
  EXPECT_EQ(Lookup(e_, 1 * kGiB).prot, EPT_RWX);
  EXPECT_EQ(Lookup(e_, 1 * kGiB + k4K).hpa, EPT_NOT_PRESENT);
  EXPECT_EQ(Lookup(e_, 0).hpa, EPT_NOT_PRESENT);
  EXPECT_EQ(Lookup(e_, 0).prot, 0U);
}

// ---- allocation failure ----

TEST_F(EptTest, OutOfPagesWhileMappingLeavesNothingHalfBuilt) {
  pool_.set_limit(pool_.allocated() + 1);  // the PDPT, not the PD
  EXPECT_EQ(ept_map(&e_, 0x1000, 0x1000, k4K, EPT_RWX, WB), EPT_ERR_NOMEM);
  EXPECT_EQ(Lookup(e_, 0x1000).hpa, EPT_NOT_PRESENT);
  EXPECT_EQ(Tables(), 2U);
  pool_.set_limit(SIZE_MAX);
  ASSERT_EQ(ept_map(&e_, 0x1000, 0x1000, k4K, EPT_RWX, WB), EPT_OK);
  EXPECT_EQ(Lookup(e_, 0x1000).hpa, 0x1000U);
  EXPECT_EQ(Tables(), 4U);  // the empty PDPT was reused
}

TEST_F(EptTest, OutOfPagesWhileSplittingKeepsEveryTranslationValid) {
  ASSERT_EQ(ept_map(&e_, 0, 0, 4 * kMiB, EPT_RWX, WB), EPT_OK);
  pool_.set_limit(pool_.allocated() + 1);  // enough to split the first 2 MiB page only
  EXPECT_EQ(ept_set_prot(&e_, 1 * kMiB, k2M, EPT_READ), EPT_ERR_NOMEM);
  for (uint64_t gpa = 0; gpa < 4 * kMiB; gpa += k4K) {
    Translation t = Lookup(e_, gpa);
    ASSERT_EQ(t.hpa, gpa) << std::hex << gpa;
    ASSERT_EQ(t.memtype, WB);
    // Done before the failure: [1 MiB, 2 MiB). Not reached: the second 2 MiB page.
    ASSERT_EQ(t.prot, gpa >= 1 * kMiB && gpa < k2M ? EPT_READ : EPT_RWX) << std::hex << gpa;
  }
  EXPECT_EQ(Lookup(e_, k2M).level, EPT_LEVEL_2M);
  EXPECT_EQ(Tables(), 4U);
  pool_.set_limit(SIZE_MAX);
  ASSERT_EQ(ept_set_prot(&e_, 1 * kMiB, k2M, EPT_READ), EPT_OK);
  EXPECT_EQ(Lookup(e_, k2M + 1 * kMiB - 1).prot, EPT_READ);
  EXPECT_EQ(Lookup(e_, k2M + 1 * kMiB).prot, EPT_RWX);
}

TEST_F(EptTest, OutOfPagesDuringTheIdentityMapReportsIt) {
  mtrr_state m = PcMtrrs();
  pool_.set_limit(5);
  EXPECT_EQ(ept_identity_map(&e_, 4 * kGiB, &m), EPT_ERR_NOMEM);
  EXPECT_EQ(Tables(), 5U);
  // What was mapped is right; the rest is absent, not garbage.
  for (uint64_t gpa = 0; gpa < 4 * kGiB; gpa += 16 * kMiB + k4K) {
    Translation t = Lookup(e_, gpa);
    if (t.hpa != EPT_NOT_PRESENT) {
      EXPECT_EQ(t.hpa, gpa);
      EXPECT_EQ(t.memtype, mtrr_type_of(&m, gpa));
    }
  }
}

// ---- ept_identity_map ----

TEST_F(EptTest, IdentityMapMatchesTheMtrrTypeEverywhere) {
  mtrr_state m = PcMtrrs();
  AddVar(&m, 0x80000000ULL, 256 * kMiB, WT);
  AddVar(&m, 64 * kMiB + k4K, k4K, UC);
  ASSERT_EQ(ept_identity_map(&e_, 5 * kGiB, &m), EPT_OK);
  std::vector<uint64_t> probes = {0x0, 0x9FFFF, 0xA0000, 0xBFFFF, 0xC0000, 0xC7FFF, 0xC8000,
                                  0xEFFFF, 0xFFFFF, 0x100000, 0x1FFFFF, 0x200000,
                                  64 * kMiB, 64 * kMiB + k4K, 64 * kMiB + 2 * k4K,
                                  0x7FFFFFFFULL, 0x80000000ULL, 0x8FFFFFFFULL, 0x90000000ULL,
                                  3 * kGiB - 1, 3 * kGiB, 4 * kGiB - 1, 4 * kGiB,
                                  5 * kGiB - 1};
  for (uint64_t gpa = 0; gpa < 5 * kGiB; gpa += 7 * kMiB + 0x3000) probes.push_back(gpa);
  for (uint64_t gpa = 0; gpa < 2 * kMiB; gpa += k4K) probes.push_back(gpa);
  for (uint64_t gpa : probes) {
    Translation t = Lookup(e_, gpa);
    ASSERT_EQ(t.hpa, gpa) << std::hex << gpa;
    ASSERT_EQ(t.prot, EPT_RWX) << std::hex << gpa;
    ASSERT_EQ(t.memtype, mtrr_type_of(&m, gpa)) << std::hex << gpa;
  }
  EXPECT_EQ(Lookup(e_, 0xA0000).memtype, UC);
  EXPECT_EQ(Lookup(e_, 0xF0000).memtype, WP);
  EXPECT_EQ(Lookup(e_, 0x88000000ULL).memtype, WT);
  EXPECT_EQ(Lookup(e_, 0xE8000000ULL).memtype, UC);
  EXPECT_EQ(Lookup(e_, 5 * kGiB).hpa, EPT_NOT_PRESENT);
}

TEST_F(EptTest, IdentityMapUsesLargePagesOnlyWhereTheTypeIsUniform) {
  mtrr_state m = PcMtrrs();
  AddVar(&m, 64 * kMiB + k4K, k4K, UC);  // type changes inside [64 MiB, 66 MiB)
  ASSERT_EQ(ept_identity_map(&e_, 4 * kGiB, &m), EPT_OK);
  EXPECT_EQ(Lookup(e_, 0).level, EPT_LEVEL_4K);  // fixed MTRRs below 1 MiB
  EXPECT_EQ(Lookup(e_, 1 * kMiB).level, EPT_LEVEL_4K);
  EXPECT_EQ(Lookup(e_, k2M).level, EPT_LEVEL_2M);
  EXPECT_EQ(Lookup(e_, 64 * kMiB).level, EPT_LEVEL_4K);
  EXPECT_EQ(Lookup(e_, 64 * kMiB + k4K).memtype, UC);
  EXPECT_EQ(Lookup(e_, 66 * kMiB - k4K).level, EPT_LEVEL_4K);
  EXPECT_EQ(Lookup(e_, 66 * kMiB).level, EPT_LEVEL_2M);
  EXPECT_EQ(Lookup(e_, 3 * kGiB - k2M).level, EPT_LEVEL_2M);
  EXPECT_EQ(Lookup(e_, 3 * kGiB).level, EPT_LEVEL_2M);
}

TEST_F(EptTest, IdentityMapUsesOneGiBPagesWhenAllowed) {
  mtrr_state m = PcMtrrs();
  e_.max_leaf_level = EPT_LEVEL_1G;
  ASSERT_EQ(ept_identity_map(&e_, 8 * kGiB, &m), EPT_OK);
  EXPECT_EQ(Lookup(e_, 0).level, EPT_LEVEL_4K);
  EXPECT_EQ(Lookup(e_, 512 * kMiB).level, EPT_LEVEL_2M);  // the first GiB holds the fixed range
  Translation t = Lookup(e_, 3 * kGiB + 5);
  EXPECT_EQ(t.level, EPT_LEVEL_1G);
  EXPECT_EQ(t.memtype, UC);
  EXPECT_EQ(Lookup(e_, 7 * kGiB).level, EPT_LEVEL_1G);
  EXPECT_EQ(Tables(), 1U + 1U + 1U + 1U);  // PML4, PDPT, one PD, one PT
}

TEST_F(EptTest, IdentityMapTopIsRoundedToAPage) {
  mtrr_state m = PcMtrrs();
  ASSERT_EQ(ept_identity_map(&e_, 4 * kGiB + 2 * k4K + 1, &m), EPT_OK);
  EXPECT_EQ(Lookup(e_, 4 * kGiB + 2 * k4K).hpa, 4 * kGiB + 2 * k4K);
  EXPECT_EQ(Lookup(e_, 4 * kGiB + 2 * k4K).level, EPT_LEVEL_4K);
  EXPECT_EQ(Lookup(e_, 4 * kGiB + 3 * k4K).hpa, EPT_NOT_PRESENT);
}

TEST_F(EptTest, IdentityMapTopRoundedUpCanCompleteALargePage) {
  mtrr_state m = PcMtrrs();
  m.def_type = 0;  // all UC: uniform everywhere
  ASSERT_EQ(ept_identity_map(&e_, 2 * k2M - 100, &m), EPT_OK);
  EXPECT_EQ(Lookup(e_, 2 * k2M - 1).level, EPT_LEVEL_2M);
  EXPECT_EQ(Tables(), 3U);
}

TEST_F(EptTest, IdentityMapBeyondMaxPhysAddrIsRejected) {
  mtrr_state m = PcMtrrs();  // 36 address bits: 64 GiB
  EXPECT_EQ(ept_identity_map(&e_, 64 * kGiB + k4K, &m), EPT_ERR_INVALID);
  EXPECT_EQ(pool_.allocated(), 1U);
}

TEST_F(EptTest, IdentityMapWithMtrrsOffIsUncacheable) {
  mtrr_state m = PcMtrrs();
  m.def_type = 0;
  ASSERT_EQ(ept_identity_map(&e_, 1 * kGiB, &m), EPT_OK);
  EXPECT_EQ(Lookup(e_, 0).memtype, UC);
  EXPECT_EQ(Lookup(e_, 0).level, EPT_LEVEL_2M);
  EXPECT_EQ(Lookup(e_, 512 * kMiB).memtype, UC);
}

// The reference hypervisor spends 2054 pages per CPU on 4 KiB-only tables for 4 GiB.
TEST_F(EptTest, FourGiBIdentityMapWithAHiddenRangeNeedsAHandfulOfPages) {
  mtrr_state m = PcMtrrs();
  ASSERT_EQ(ept_identity_map(&e_, 4 * kGiB, &m), EPT_OK);
  const uint64_t hv_base = 0x1F000000ULL + 0x3000, hv_size = 16 * kMiB;
  ASSERT_EQ(ept_set_prot(&e_, hv_base, hv_size, 0), EPT_OK);
  // PML4 + PDPT + 4 PDs + the PT under the fixed MTRRs + 2 PTs for the unaligned edges.
  EXPECT_EQ(pool_.allocated(), 9U);
  EXPECT_LE(pool_.allocated(), 16U);
  EXPECT_EQ(Tables(), pool_.allocated());  // nothing allocated was left unlinked
  EXPECT_EQ(Lookup(e_, hv_base - 1).hpa, hv_base - 1);
  EXPECT_EQ(Lookup(e_, hv_base).hpa, EPT_NOT_PRESENT);
  EXPECT_EQ(Lookup(e_, hv_base + hv_size - 1).hpa, EPT_NOT_PRESENT);
  EXPECT_EQ(Lookup(e_, hv_base + hv_size).hpa, hv_base + hv_size);
}

TEST_F(EptTest, LookupAboveTheGuestPhysicalLimitIsNotPresent) {
  ASSERT_EQ(ept_map(&e_, 0, 0, k2M, EPT_RWX, WB), EPT_OK);
  EXPECT_EQ(Lookup(e_, EPT_GPA_LIMIT).hpa, EPT_NOT_PRESENT);
  EXPECT_EQ(Lookup(e_, UINT64_MAX).hpa, EPT_NOT_PRESENT);
}

}  // namespace
