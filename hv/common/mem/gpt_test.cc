// SPDX-License-Identifier: Apache-2.0
// Guest page tables: walks of hand-built tables and of tables gpt builds, in every paging mode.
#include "xhv/gpt.h"

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <set>
#include <string>

#include "gtest/gtest.h"
#include "testing/fakes/fake_guest_mem.h"

namespace {

using xhv_fake::PhysMem;

constexpr uint64_t k4K = 0x1000;
constexpr uint64_t k2M = 0x200000;
constexpr uint64_t k4M = 0x400000;
constexpr uint64_t k1G = 0x40000000;
// Guest RAM holding the tables, away from 0 so a gva/gpa mix-up shows.
constexpr uint64_t kRamBase = 0x40000000;
constexpr uint64_t kRamSize = 0x400000;

constexpr uint64_t P = 1, RW = 2, US = 4, PWT = 8, PCD = 0x10, PS = 0x80;
constexpr uint64_t XD = 1ULL << 63;

constexpr uint64_t kGva = 0x12345000;  // valid in every mode
constexpr uint64_t kGpa = 0x00ABC000;

int TopLevel(gpt_mode m) { return m == GPT_MODE_32 ? 2 : m == GPT_MODE_PAE ? 3 : 4; }
uint32_t EntryBytes(gpt_mode m) { return m == GPT_MODE_32 ? 4 : 8; }

uint64_t IndexOf(gpt_mode m, uint64_t gva, int level) {
  if (m == GPT_MODE_32) return (gva >> (level == 2 ? 22 : 12)) & 0x3FF;
  if (m == GPT_MODE_PAE && level == 3) return (gva >> 30) & 3;
  return (gva >> (12 + 9 * (level - 1))) & 0x1FF;
}

// The test's own reading of the entry formats, independent of gpt.c: a
// chain of tables from root, upper entries granting everything.
class HandTables {
 public:
  HandTables(PhysMem *phys, gpt_mode mode, uint64_t root) : phys_(phys), mode_(mode), root_(root) {}

  // Where the level-`level` entry for gva lives; adds missing tables when create.
  uint64_t EntryGpa(uint64_t gva, int level, bool create = true) {
    uint64_t table = root_;
    for (int l = TopLevel(mode_);; l--) {
      const uint64_t at = table + IndexOf(mode_, gva, l) * EntryBytes(mode_);
      if (l == level) return at;
      uint64_t e = Read(at);
      if ((e & P) == 0) {
        if (!create) return 0;
        e = phys_->AllocPage() | ((mode_ == GPT_MODE_PAE && l == 3) ? P : (P | RW | US));
        Write(at, e);
      }
      table = mode_ == GPT_MODE_32 ? e & 0xFFFFF000ULL : e & 0x000FFFFFFFFFF000ULL;
    }
  }
  void Set(uint64_t gva, int level, uint64_t value) { Write(EntryGpa(gva, level), value); }
  uint64_t Get(uint64_t gva, int level) {
    const uint64_t at = EntryGpa(gva, level, false);
    return at == 0 ? 0 : Read(at);
  }

 private:
  uint64_t Read(uint64_t at) {
    return mode_ == GPT_MODE_32 ? phys_->Read32(at) : phys_->Read64(at);
  }
  void Write(uint64_t at, uint64_t v) {
    if (mode_ == GPT_MODE_32) {
      phys_->Write32(at, static_cast<uint32_t>(v));
    } else {
      phys_->Write64(at, v);
    }
  }

  PhysMem *phys_;
  gpt_mode mode_;
  uint64_t root_;
};

std::string Hex(uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

bool AllocFromPhys(void *ctx, uint64_t *gpa) {
  const uint64_t pa = static_cast<PhysMem *>(ctx)->AllocPage();
  if (pa == 0) return false;
  *gpa = pa;
  return true;
}

// One guest address space: RAM, a root from gpt_new_root, NXE, WP and PSE on.
class Guest {
 public:
  explicit Guest(gpt_mode mode) : phys_(kRamBase, kRamSize) {
    src_.alloc = &AllocFromPhys;
    src_.ctx = &phys_;
    ctx_ = gpt_ctx{};
    ctx_.mode = mode;
    ctx_.pse = true;
    ctx_.nxe = true;
    ctx_.wp = true;
    ctx_.mem = phys_.mem();
    if (mode != GPT_MODE_NONE) {
      uint64_t root = 0;
      EXPECT_EQ(gpt_new_root(mode, &src_, &root), GPT_OK);
      ctx_.cr3 = root;
    }
  }

  HandTables Hand() { return HandTables(&phys_, ctx_.mode, gpt_cr3_base(ctx_.mode, ctx_.cr3)); }
  gpt_status Map(uint64_t gva, uint64_t gpa, uint32_t flags) {
    return gpt_map_page(&ctx_, &src_, gva, gpa, flags);
  }
  gpt_status Walk(uint64_t gva, uint32_t access, uint64_t *gpa = nullptr,
                  gpt_leaf *leaf = nullptr) {
    return gpt_walk(&ctx_, gva, access, gpa, leaf);
  }
  // The gpa for gva, or the status name when the walk fails.
  std::string Translate(uint64_t gva, uint32_t access = 0) {
    uint64_t gpa = 0;
    const gpt_status st = Walk(gva, access, &gpa);
    if (st != GPT_OK) return gpt_status_name(st);
    return Hex(gpa);
  }

  PhysMem phys_;
  gpt_page_source src_;
  gpt_ctx ctx_;
};

// ---- every paging mode ----

class GptEveryMode : public ::testing::TestWithParam<gpt_mode> {
 protected:
  void SetUp() override { g_ = std::make_unique<Guest>(GetParam()); }
  gpt_mode mode() const { return GetParam(); }
  std::unique_ptr<Guest> g_;
};

INSTANTIATE_TEST_SUITE_P(Modes, GptEveryMode,
                         ::testing::Values(GPT_MODE_32, GPT_MODE_PAE, GPT_MODE_LONG4),
                         [](const ::testing::TestParamInfo<gpt_mode> &info) {
                           return info.param == GPT_MODE_32    ? std::string("Mode32")
                                  : info.param == GPT_MODE_PAE ? std::string("Pae")
                                                               : std::string("Long4");
                         });

TEST_P(GptEveryMode, BuiltMappingTranslatesWithThePageOffset) {
  ASSERT_EQ(g_->Map(kGva, kGpa, GPT_MAP_WRITE | GPT_MAP_USER), GPT_OK);
  gpt_leaf leaf;
  uint64_t gpa = 0;
  ASSERT_EQ(g_->Walk(kGva + 0x678, GPT_ACC_USER | GPT_ACC_WRITE | GPT_ACC_EXEC, &gpa, &leaf),
            GPT_OK);
  EXPECT_EQ(gpa, kGpa + 0x678);
  EXPECT_EQ(leaf.level, 1);
  EXPECT_EQ(leaf.page_size, k4K);
  EXPECT_EQ(leaf.page_gpa, kGpa);
  EXPECT_TRUE(leaf.user);
  EXPECT_TRUE(leaf.writable);
  EXPECT_TRUE(leaf.executable);
  EXPECT_EQ(g_->Translate(kGva - k4K), "GPT_ERR_NOT_PRESENT");
  EXPECT_EQ(g_->Translate(kGva + k4K), "GPT_ERR_NOT_PRESENT");
}

TEST_P(GptEveryMode, BuiltEntriesHaveTheHardwareFormat) {
  ASSERT_EQ(g_->Map(kGva, kGpa, GPT_MAP_USER), GPT_OK);
  HandTables hand = g_->Hand();
  EXPECT_EQ(hand.Get(kGva, 1), kGpa | P | US);
  for (int level = TopLevel(mode()); level > 1; level--) {
    const uint64_t e = hand.Get(kGva, level);
    const uint64_t want = (mode() == GPT_MODE_PAE && level == 3) ? P : (P | RW | US);
    EXPECT_EQ(e & 0xFFF, want) << "level " << level;
  }
}

TEST_P(GptEveryMode, HandBuiltTablesWalk) {
  HandTables hand = g_->Hand();
  hand.Set(kGva, 1, kGpa | P | RW | US);
  EXPECT_EQ(g_->Translate(kGva + 0xABC, GPT_ACC_USER | GPT_ACC_WRITE), Hex(kGpa + 0xABC));
}

TEST_P(GptEveryMode, WalkStopsAtTheFirstMissingLevel) {
  gpt_leaf leaf;
  EXPECT_EQ(g_->Walk(kGva, 0, nullptr, &leaf), GPT_ERR_NOT_PRESENT);
  EXPECT_EQ(leaf.level, TopLevel(mode()));
  EXPECT_EQ(leaf.entry_gpa,
            g_->ctx_.cr3 + IndexOf(mode(), kGva, TopLevel(mode())) * EntryBytes(mode()));
  ASSERT_EQ(g_->Map(kGva, kGpa, 0), GPT_OK);
  EXPECT_EQ(g_->Walk(kGva + k4K, 0, nullptr, &leaf), GPT_ERR_NOT_PRESENT);
  EXPECT_EQ(leaf.level, 1);
  EXPECT_EQ(leaf.entry, 0U);
}

TEST_P(GptEveryMode, UserAccessNeedsUserAtEveryLevel) {
  HandTables hand = g_->Hand();
  hand.Set(kGva, 1, kGpa | P | RW | US);
  const uint64_t pde = hand.Get(kGva, 2);
  hand.Set(kGva, 2, pde & ~US);
  gpt_leaf leaf;
  EXPECT_EQ(g_->Walk(kGva, GPT_ACC_USER, nullptr, &leaf), GPT_ERR_PROT_USER);
  EXPECT_FALSE(leaf.user);
  EXPECT_EQ(leaf.page_gpa, kGpa) << "a protection error still reports the leaf";
  EXPECT_EQ(g_->Translate(kGva, GPT_ACC_WRITE), Hex(kGpa)) << "supervisor may";
}

TEST_P(GptEveryMode, WriteNeedsReadWriteAtEveryLevelAndWpGovernsSupervisor) {
  HandTables hand = g_->Hand();
  hand.Set(kGva, 1, kGpa | P | RW | US);
  hand.Set(kGva, 2, hand.Get(kGva, 2) & ~RW);
  EXPECT_EQ(g_->Translate(kGva, GPT_ACC_USER | GPT_ACC_WRITE), "GPT_ERR_PROT_WRITE");
  EXPECT_EQ(g_->Translate(kGva, GPT_ACC_USER), Hex(kGpa));
  EXPECT_EQ(g_->Translate(kGva, GPT_ACC_WRITE), "GPT_ERR_PROT_WRITE");
  g_->ctx_.wp = false;
  EXPECT_EQ(g_->Translate(kGva, GPT_ACC_WRITE), Hex(kGpa));
  EXPECT_EQ(g_->Translate(kGva, GPT_ACC_USER | GPT_ACC_WRITE), "GPT_ERR_PROT_WRITE")
      << "CR0.WP does not matter at CPL 3";
}

TEST_P(GptEveryMode, UserCheckComesBeforeWriteCheck) {
  ASSERT_EQ(g_->Map(kGva, kGpa, 0), GPT_OK);
  EXPECT_EQ(g_->Translate(kGva, GPT_ACC_USER | GPT_ACC_WRITE), "GPT_ERR_PROT_USER");
}

TEST_P(GptEveryMode, UnmapRemovesOnlyThatPage) {
  ASSERT_EQ(g_->Map(kGva, kGpa, GPT_MAP_USER), GPT_OK);
  ASSERT_EQ(g_->Map(kGva + k4K, kGpa + 0x5000, GPT_MAP_USER), GPT_OK);
  uint64_t old = 0;
  EXPECT_EQ(gpt_unmap_page(&g_->ctx_, kGva, &old), GPT_OK);
  EXPECT_EQ(old, kGpa);
  EXPECT_EQ(g_->Translate(kGva), "GPT_ERR_NOT_PRESENT");
  EXPECT_EQ(g_->Translate(kGva + k4K), Hex(kGpa + 0x5000));
  EXPECT_EQ(gpt_unmap_page(&g_->ctx_, kGva, nullptr), GPT_ERR_NOT_PRESENT);
  EXPECT_EQ(gpt_unmap_page(&g_->ctx_, 0x7000000, nullptr), GPT_ERR_NOT_PRESENT);
  EXPECT_EQ(gpt_unmap_page(&g_->ctx_, kGva + 1, nullptr), GPT_ERR_INVALID);
  EXPECT_EQ(g_->Map(kGva, kGpa + 0x9000, 0), GPT_OK) << "the slot can be reused";
}

TEST_P(GptEveryMode, MappingTwiceIsRefusedAndKeepsTheFirst) {
  ASSERT_EQ(g_->Map(kGva, kGpa, 0), GPT_OK);
  EXPECT_EQ(g_->Map(kGva, kGpa + k4K, 0), GPT_ERR_MAPPED);
  EXPECT_EQ(g_->Translate(kGva), Hex(kGpa));
}

TEST_P(GptEveryMode, PageSourceRunningDryIsReported) {
  g_->phys_.set_page_limit(g_->phys_.pages_allocated());
  EXPECT_EQ(g_->Map(kGva, kGpa, 0), GPT_ERR_NO_PAGE);
  EXPECT_EQ(g_->Translate(kGva), "GPT_ERR_NOT_PRESENT");
}

TEST_P(GptEveryMode, UnreadableTablesAreAMemoryError) {
  ASSERT_EQ(g_->Map(kGva, kGpa, 0), GPT_OK);
  g_->phys_.set_broken(true);
  EXPECT_EQ(g_->Translate(kGva), "GPT_ERR_MEM_READ");
  EXPECT_EQ(g_->Map(kGva + k4K, kGpa, 0), GPT_ERR_MEM_READ);
  g_->phys_.set_broken(false);
  g_->ctx_.cr3 = 0x1000;  // no RAM there
  gpt_leaf leaf;
  EXPECT_EQ(g_->Walk(kGva, 0, nullptr, &leaf), GPT_ERR_MEM_READ);
  EXPECT_EQ(leaf.level, TopLevel(mode()));
}

TEST_P(GptEveryMode, BuilderRejectsBadArguments) {
  EXPECT_EQ(g_->Map(kGva + 8, kGpa, 0), GPT_ERR_INVALID);
  EXPECT_EQ(g_->Map(kGva, kGpa + 8, 0), GPT_ERR_INVALID);
  EXPECT_EQ(g_->Map(kGva, kGpa, 0x40), GPT_ERR_INVALID) << "dirty is not a map flag";
  EXPECT_EQ(g_->phys_.pages_allocated(), 1U) << "nothing built for a rejected call";
}

TEST_P(GptEveryMode, LeafEntryGpaIsWhereThePteLives) {
  ASSERT_EQ(g_->Map(kGva, kGpa, GPT_MAP_WRITE), GPT_OK);
  gpt_leaf leaf;
  ASSERT_EQ(g_->Walk(kGva, 0, nullptr, &leaf), GPT_OK);
  EXPECT_EQ(leaf.entry, kGpa | P | RW);
  if (mode() == GPT_MODE_32) {
    g_->phys_.Write32(leaf.entry_gpa, static_cast<uint32_t>(kGpa | P));
  } else {
    g_->phys_.Write64(leaf.entry_gpa, kGpa | P);
  }
  EXPECT_EQ(g_->Translate(kGva, GPT_ACC_WRITE), "GPT_ERR_PROT_WRITE");
}

TEST_P(GptEveryMode, MapFlagsOfALeafReproduceItsUserAndCacheBits) {
  const uint32_t flags = GPT_MAP_USER | GPT_MAP_PWT | GPT_MAP_PCD | GPT_MAP_PAT;
  ASSERT_EQ(g_->Map(kGva, kGpa, flags | GPT_MAP_WRITE | GPT_MAP_GLOBAL), GPT_OK);
  gpt_leaf leaf;
  ASSERT_EQ(g_->Walk(kGva, 0, nullptr, &leaf), GPT_OK);
  EXPECT_EQ(gpt_leaf_map_flags(&leaf), flags);
}

TEST_P(GptEveryMode, CopiesFollowPagesToScatteredFrames) {
  const uint64_t a = kRamBase + 0x3000, b = kRamBase + 0x1000;  // second page below the first
  ASSERT_EQ(g_->Map(kGva, a, GPT_MAP_WRITE | GPT_MAP_USER), GPT_OK);
  ASSERT_EQ(g_->Map(kGva + k4K, b, GPT_MAP_WRITE | GPT_MAP_USER), GPT_OK);
  uint8_t out[32], in[32];
  for (int i = 0; i < 32; i++) out[i] = static_cast<uint8_t>(i + 1);
  ASSERT_EQ(gpt_write_virt(&g_->ctx_, kGva + k4K - 16, out, 32, GPT_ACC_USER), GPT_OK);
  EXPECT_EQ(g_->phys_.Ptr(a + k4K - 16, 1)[0], 1);
  EXPECT_EQ(g_->phys_.Ptr(b, 1)[0], 17);
  ASSERT_EQ(gpt_read_virt(&g_->ctx_, kGva + k4K - 16, in, 32, GPT_ACC_USER), GPT_OK);
  EXPECT_EQ(std::memcmp(in, out, 32), 0);
  EXPECT_EQ(gpt_read_virt(&g_->ctx_, kGva + 2 * k4K - 16, in, 32, 0), GPT_ERR_NOT_PRESENT);
}

TEST_P(GptEveryMode, VirtualAccessorChecksTheGivenRights) {
  ASSERT_EQ(g_->Map(kGva, kRamBase, GPT_MAP_USER), GPT_OK);  // read-only
  gpt_virt user{&g_->ctx_, GPT_ACC_USER};
  const mem_io m = gpt_virt_mem(&user);
  uint32_t v = 0x11223344;
  EXPECT_FALSE(m.write(m.ctx, kGva, &v, sizeof(v)));
  g_->phys_.Write32(kRamBase + 8, 0xCAFEF00D);
  EXPECT_TRUE(m.read(m.ctx, kGva + 8, &v, sizeof(v)));
  EXPECT_EQ(v, 0xCAFEF00DU);
  EXPECT_FALSE(m.read(m.ctx, kGva + k4K, &v, sizeof(v)));
}

// ---- paging off ----

TEST(GptPagingOff, EveryAddressBelowFourGiBIsItself) {
  Guest g(GPT_MODE_NONE);
  gpt_leaf leaf;
  uint64_t gpa = 0;
  ASSERT_EQ(g.Walk(0xFEDCBA98, GPT_ACC_USER | GPT_ACC_WRITE | GPT_ACC_EXEC, &gpa, &leaf), GPT_OK);
  EXPECT_EQ(gpa, 0xFEDCBA98U);
  EXPECT_EQ(leaf.level, 0);
  EXPECT_EQ(g.Translate(0x100000000ULL), "GPT_ERR_BAD_GVA");
  EXPECT_EQ(g.Map(0x1000, 0x1000, 0), GPT_ERR_INVALID);
  uint64_t root = 0;
  EXPECT_EQ(gpt_new_root(GPT_MODE_NONE, &g.src_, &root), GPT_ERR_INVALID);
}

// ---- 32-bit paging ----

TEST(Gpt32, FourMiBPageNeedsPse) {
  Guest g(GPT_MODE_32);
  HandTables hand = g.Hand();
  hand.Set(kGva, 2, 0x00C00000 | P | RW | US | PS);
  gpt_leaf leaf;
  uint64_t gpa = 0;
  ASSERT_EQ(g.Walk(kGva + 0x678, GPT_ACC_USER, &gpa, &leaf), GPT_OK);
  EXPECT_EQ(gpa, 0x00C00000 + ((kGva + 0x678) & (k4M - 1)));
  EXPECT_EQ(leaf.level, 2);
  EXPECT_EQ(leaf.page_size, k4M);
  EXPECT_EQ(g.Map(kGva, kGpa, 0), GPT_ERR_LARGE_PAGE);
  EXPECT_EQ(gpt_unmap_page(&g.ctx_, kGva, nullptr), GPT_ERR_LARGE_PAGE);

  // Without CR4.PSE bit 7 is ignored: the entry names a page table.
  const uint64_t pt = g.phys_.AllocPage();
  hand.Set(kGva, 2, pt | P | RW | US | PS);
  g.phys_.Write32(pt + IndexOf(GPT_MODE_32, kGva, 1) * 4, static_cast<uint32_t>(kGpa | P));
  g.ctx_.pse = false;
  EXPECT_EQ(g.Translate(kGva + 4), Hex(kGpa + 4));
}

TEST(Gpt32, Pse36PutsAddressBitsAboveFourGiBInBits20To13) {
  Guest g(GPT_MODE_32);
  g.ctx_.maxphyaddr = 40;
  HandTables hand = g.Hand();
  hand.Set(kGva, 2, 0x00400000 | (0xABULL << 13) | P | PS);
  EXPECT_EQ(g.Translate(kGva), Hex(0xAB00400000ULL + (kGva & (k4M - 1))));

  g.ctx_.maxphyaddr = 36;  // only bits 16:13 carry address bits now
  EXPECT_EQ(g.Translate(kGva), "GPT_ERR_RESERVED");
  hand.Set(kGva, 2, 0x00400000 | (0xBULL << 13) | P | PS);
  EXPECT_EQ(g.Translate(kGva), Hex(0xB00400000ULL + (kGva & (k4M - 1))));
  hand.Set(kGva, 2, 0x00400000 | (1ULL << 21) | P | PS);
  EXPECT_EQ(g.Translate(kGva), "GPT_ERR_RESERVED") << "bit 21 is always reserved";
}

TEST(Gpt32, Cr3FlagBitsAreIgnored) {
  Guest g(GPT_MODE_32);
  ASSERT_EQ(g.Map(kGva, kGpa, 0), GPT_OK);
  g.ctx_.cr3 |= PWT | PCD;
  EXPECT_EQ(g.Translate(kGva), Hex(kGpa));
}

TEST(Gpt32, NoExecuteDoesNotExistAndNothingReachesFourGiB) {
  Guest g(GPT_MODE_32);
  EXPECT_EQ(g.Map(kGva, kGpa, GPT_MAP_NOEXEC), GPT_ERR_INVALID);
  EXPECT_EQ(g.Map(kGva, 0x100000000ULL, 0), GPT_ERR_INVALID);
  EXPECT_EQ(g.Map(0x100000000ULL, kGpa, 0), GPT_ERR_BAD_GVA);
  EXPECT_EQ(g.Translate(0x100000000ULL), "GPT_ERR_BAD_GVA");
  ASSERT_EQ(g.Map(kGva, kGpa, 0), GPT_OK);
  EXPECT_EQ(g.Translate(kGva, GPT_ACC_EXEC), Hex(kGpa));
}

TEST(Gpt32, TablePagesAboveFourGiBAreRefused) {
  struct HighSource {
    static bool Alloc(void *, uint64_t *gpa) {
      *gpa = 0x100000000ULL;
      return true;
    }
  };
  const gpt_page_source high{&HighSource::Alloc, nullptr};
  uint64_t root = 0;
  EXPECT_EQ(gpt_new_root(GPT_MODE_32, &high, &root), GPT_ERR_INVALID);
  EXPECT_EQ(gpt_new_root(GPT_MODE_PAE, &high, &root), GPT_ERR_INVALID);
  EXPECT_EQ(gpt_new_root(GPT_MODE_LONG4, &high, &root), GPT_OK);
  Guest g(GPT_MODE_32);
  EXPECT_EQ(gpt_map_page(&g.ctx_, &high, kGva, kGpa, 0), GPT_ERR_INVALID);
}

// ---- PAE paging ----

TEST(GptPae, TwoMiBPage) {
  Guest g(GPT_MODE_PAE);
  HandTables hand = g.Hand();
  hand.Set(kGva, 2, 0x7600000 | P | RW | US | PS);
  gpt_leaf leaf;
  uint64_t gpa = 0;
  ASSERT_EQ(g.Walk(kGva + 0x10, GPT_ACC_USER | GPT_ACC_WRITE, &gpa, &leaf), GPT_OK);
  EXPECT_EQ(gpa, 0x7600000 + ((kGva + 0x10) & (k2M - 1)));
  EXPECT_EQ(leaf.page_size, k2M);
  EXPECT_EQ(g.Map(kGva, kGpa, 0), GPT_ERR_LARGE_PAGE);
}

TEST(GptPae, PdptIsFoundAtA32ByteAlignedCr3) {
  Guest g(GPT_MODE_PAE);
  const uint64_t page = g.phys_.AllocPage();
  const uint64_t pdpt = page + 0x60;
  const uint64_t pd = g.phys_.AllocPage(), pt = g.phys_.AllocPage();
  g.phys_.Write64(pdpt + 8 * IndexOf(GPT_MODE_PAE, kGva, 3), pd | P);
  g.phys_.Write64(pd + 8 * IndexOf(GPT_MODE_PAE, kGva, 2), pt | P | RW | US);
  g.phys_.Write64(pt + 8 * IndexOf(GPT_MODE_PAE, kGva, 1), kGpa | P | RW | US);
  g.ctx_.cr3 = pdpt | PWT | PCD;  // bits 4:0 are not address
  EXPECT_EQ(g.Translate(kGva), Hex(kGpa));
  EXPECT_EQ(gpt_cr3_base(GPT_MODE_PAE, pdpt | 0x1F), pdpt);
}

TEST(GptPae, PdpteCarriesNoRightsAndRejectsTheirBits) {
  Guest g(GPT_MODE_PAE);
  ASSERT_EQ(g.Map(kGva, kGpa, GPT_MAP_USER | GPT_MAP_WRITE), GPT_OK);
  HandTables hand = g.Hand();
  const uint64_t pdpte = hand.Get(kGva, 3);
  EXPECT_EQ(pdpte & 0xFFF, P);
  hand.Set(kGva, 3, pdpte | RW);
  gpt_leaf leaf;
  EXPECT_EQ(g.Walk(kGva, 0, nullptr, &leaf), GPT_ERR_RESERVED);
  EXPECT_EQ(leaf.level, 3);
  hand.Set(kGva, 3, pdpte | XD);
  EXPECT_EQ(g.Translate(kGva), "GPT_ERR_RESERVED") << "even with EFER.NXE";
}

TEST(GptPae, ExecuteDisableNeedsNxeAndBits62To52AreReserved) {
  Guest g(GPT_MODE_PAE);
  ASSERT_EQ(g.Map(kGva, kGpa, GPT_MAP_NOEXEC), GPT_OK);
  EXPECT_EQ(g.Translate(kGva), Hex(kGpa));
  EXPECT_EQ(g.Translate(kGva, GPT_ACC_EXEC), "GPT_ERR_PROT_NX");
  g.ctx_.nxe = false;
  EXPECT_EQ(g.Translate(kGva), "GPT_ERR_RESERVED");
  EXPECT_EQ(g.Map(kGva + k4K, kGpa, GPT_MAP_NOEXEC), GPT_ERR_INVALID);
  g.ctx_.nxe = true;
  HandTables hand = g.Hand();
  hand.Set(kGva, 1, kGpa | P | (1ULL << 52));
  EXPECT_EQ(g.Translate(kGva), "GPT_ERR_RESERVED");
}

TEST(GptPae, AddressBitsAboveMaxPhyAddrAreReserved) {
  Guest g(GPT_MODE_PAE);
  g.ctx_.maxphyaddr = 36;
  HandTables hand = g.Hand();
  hand.Set(kGva, 1, (1ULL << 35) | P);
  EXPECT_EQ(g.Translate(kGva), Hex(1ULL << 35));
  hand.Set(kGva, 1, (1ULL << 36) | P);
  EXPECT_EQ(g.Translate(kGva), "GPT_ERR_RESERVED");
  hand.Set(kGva, 2, 0x200000 | (1ULL << 13) | P | PS);
  EXPECT_EQ(g.Translate(kGva), "GPT_ERR_RESERVED") << "bits 20:13 of a 2 MiB leaf";
}

// ---- 4-level paging ----

TEST(GptLong4, TwoMiBAndOneGiBPages) {
  Guest g(GPT_MODE_LONG4);
  HandTables hand = g.Hand();
  const uint64_t base_1g = 0x7FC00000000ULL, off_1g = 0x3F000123ULL;
  hand.Set(kGva, 2, 0x1400000 | P | RW | US | PS);
  hand.Set(base_1g, 3, 3 * k1G | P | PS | (1ULL << 12));  // bit 12 is PAT
  gpt_leaf leaf;
  uint64_t gpa = 0;
  ASSERT_EQ(g.Walk(kGva + 0x2345, GPT_ACC_USER, &gpa, &leaf), GPT_OK);
  EXPECT_EQ(gpa, 0x1400000 + ((kGva + 0x2345) & (k2M - 1)));
  EXPECT_EQ(leaf.level, 2);
  ASSERT_EQ(g.Walk(base_1g + off_1g, 0, &gpa, &leaf), GPT_OK);
  EXPECT_EQ(gpa, 3 * k1G + off_1g);
  EXPECT_EQ(leaf.level, 3);
  EXPECT_EQ(leaf.page_size, k1G);
  EXPECT_EQ(leaf.page_gpa, 3 * k1G) << "the PAT bit is not address";
  EXPECT_EQ(gpt_leaf_map_flags(&leaf), GPT_MAP_PAT);
  EXPECT_EQ(gpt_unmap_page(&g.ctx_, base_1g, nullptr), GPT_ERR_LARGE_PAGE);
}

TEST(GptLong4, LargeLeafLowAddressBitsAndPml4PsAreReserved) {
  Guest g(GPT_MODE_LONG4);
  HandTables hand = g.Hand();
  hand.Set(kGva, 2, 0x1400000 | (1ULL << 13) | P | PS);
  EXPECT_EQ(g.Translate(kGva), "GPT_ERR_RESERVED");
  hand.Set(kGva, 3, k1G | (1ULL << 21) | P | PS);
  EXPECT_EQ(g.Translate(kGva), "GPT_ERR_RESERVED");
  hand.Set(kGva, 4, hand.Get(kGva, 4) | PS);
  gpt_leaf leaf;
  EXPECT_EQ(g.Walk(kGva, 0, nullptr, &leaf), GPT_ERR_RESERVED);
  EXPECT_EQ(leaf.level, 4);
}

TEST(GptLong4, Bits62To52AreIgnoredButAddressAboveMaxPhyAddrIsReserved) {
  Guest g(GPT_MODE_LONG4);
  HandTables hand = g.Hand();
  hand.Set(kGva, 1, kGpa | P | (0x7FFULL << 52));
  EXPECT_EQ(g.Translate(kGva), Hex(kGpa));
  g.ctx_.maxphyaddr = 39;
  hand.Set(kGva, 1, (1ULL << 38) | P);
  EXPECT_EQ(g.Translate(kGva), Hex(1ULL << 38));
  hand.Set(kGva, 1, (1ULL << 39) | P);
  EXPECT_EQ(g.Translate(kGva), "GPT_ERR_RESERVED");
  EXPECT_EQ(g.Map(kGva + k4K, 1ULL << 39, 0), GPT_ERR_INVALID);
}

TEST(GptLong4, OnlyCanonicalAddressesTranslate) {
  Guest g(GPT_MODE_LONG4);
  EXPECT_EQ(g.Translate(0x0000800000000000ULL), "GPT_ERR_BAD_GVA");
  EXPECT_EQ(g.Translate(0xFFFF7FFFFFFFF000ULL), "GPT_ERR_BAD_GVA");
  EXPECT_EQ(g.Map(0x0000800000000000ULL, kGpa, 0), GPT_ERR_BAD_GVA);
  ASSERT_EQ(g.Map(0xFFFF800000001000ULL, kGpa, 0), GPT_OK);
  EXPECT_EQ(g.Translate(0xFFFF800000001004ULL), Hex(kGpa + 4));
  ASSERT_EQ(g.Map(0x00007FFFFFFFF000ULL, kGpa + k4K, GPT_MAP_USER), GPT_OK);
  EXPECT_EQ(g.Translate(0x00007FFFFFFFF008ULL, GPT_ACC_USER), Hex(kGpa + k4K + 8));
}

TEST(GptLong4, PcidAndNoFlushBitsInCr3AreIgnored) {
  Guest g(GPT_MODE_LONG4);
  ASSERT_EQ(g.Map(kGva, kGpa, 0), GPT_OK);
  const uint64_t root = g.ctx_.cr3;
  g.ctx_.cr3 = root | 0xABC | (1ULL << 63);
  EXPECT_EQ(g.Translate(kGva), Hex(kGpa));
  EXPECT_EQ(gpt_cr3_base(GPT_MODE_LONG4, g.ctx_.cr3), root);
  EXPECT_EQ(g.Map(kGva + k4K, kGpa + k4K, 0), GPT_OK) << "the builder masks it too";
  EXPECT_EQ(g.Translate(kGva + k4K), Hex(kGpa + k4K));
}

TEST(GptLong4, CompatibilityModeProcessLivesBelowFourGiB) {
  Guest g(GPT_MODE_LONG4);
  ASSERT_EQ(g.Map(0xFFFFE000, kGpa, GPT_MAP_USER | GPT_MAP_WRITE), GPT_OK);
  EXPECT_EQ(g.Translate(0xFFFFEFFC, GPT_ACC_USER | GPT_ACC_WRITE), Hex(kGpa + 0xFFC));
}

TEST(GptLong4, ExecuteDisableAtAnyLevelForbidsFetch) {
  Guest g(GPT_MODE_LONG4);
  ASSERT_EQ(g.Map(kGva, kGpa, GPT_MAP_USER), GPT_OK);
  EXPECT_EQ(g.Translate(kGva, GPT_ACC_USER | GPT_ACC_EXEC), Hex(kGpa));
  HandTables hand = g.Hand();
  hand.Set(kGva, 3, hand.Get(kGva, 3) | XD);
  gpt_leaf leaf;
  EXPECT_EQ(g.Walk(kGva, GPT_ACC_USER | GPT_ACC_EXEC, nullptr, &leaf), GPT_ERR_PROT_NX);
  EXPECT_FALSE(leaf.executable);
  EXPECT_EQ(g.Translate(kGva, GPT_ACC_USER), Hex(kGpa));
  g.ctx_.nxe = false;
  EXPECT_EQ(g.Translate(kGva), "GPT_ERR_RESERVED");
}

TEST(GptLong4, CopyMayNotWrapPastTheTopOfTheAddressSpace) {
  Guest g(GPT_MODE_LONG4);
  ASSERT_EQ(g.Map(0xFFFFFFFFFFFFF000ULL, kRamBase, GPT_MAP_WRITE), GPT_OK);
  ASSERT_EQ(g.Map(0, kRamBase + k4K, GPT_MAP_WRITE), GPT_OK);
  uint8_t buf[16] = {};
  EXPECT_EQ(gpt_read_virt(&g.ctx_, 0xFFFFFFFFFFFFFFF8ULL, buf, 8, 0), GPT_OK);
  EXPECT_EQ(gpt_read_virt(&g.ctx_, 0xFFFFFFFFFFFFFFF8ULL, buf, 16, 0), GPT_ERR_BAD_GVA);
}

// ---- CR3 and names ----

TEST(GptCr3, PalCr3KeepsTheLowFlagsAndTakesTheNewRoot) {
  EXPECT_EQ(gpt_cr3_with_base(GPT_MODE_LONG4, 0x8000000012345ABCULL, 0x777000), 0x777ABCU);
  EXPECT_EQ(gpt_cr3_with_base(GPT_MODE_32, 0x12345018, 0x777000), 0x777018U);
  EXPECT_EQ(gpt_cr3_with_base(GPT_MODE_PAE, 0x12345FF8, 0x777020), 0x777038U);
  EXPECT_EQ(gpt_cr3_base(GPT_MODE_32, 0x12345FFF), 0x12345000U);
}

TEST(GptNames, EveryStatusHasItsOwnName) {
  std::set<std::string> seen;
  for (int s = GPT_OK; s <= GPT_ERR_LARGE_PAGE; s++) {
    const std::string name = gpt_status_name(static_cast<gpt_status>(s));
    EXPECT_EQ(name.rfind("GPT_", 0), 0U) << name;
    EXPECT_NE(name, "GPT_ERR_?");
    EXPECT_TRUE(seen.insert(name).second) << name;
  }
  EXPECT_STREQ(gpt_status_name(static_cast<gpt_status>(99)), "GPT_ERR_?");
}

}  // namespace
