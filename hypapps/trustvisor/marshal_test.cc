// SPDX-License-Identifier: Apache-2.0
// PAL call marshalling: cdecl and SysV arguments, PARAM area, copy-back, scrubbing, errors.
#include "hypapps/trustvisor/marshal.h"

#include <cstdint>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "testing/fakes/fake_guest_mem.h"
#include "xhv/gpt.h"

namespace {

using xhv_fake::kPage;
using xhv_fake::PhysMem;
using xhv_fake::VirtMem;

constexpr uint64_t kCallerStackPage = 0x7FFE0000;
constexpr uint64_t kCallerRsp = 0x7FFE0F00;  // arguments above it stay in the page
constexpr uint64_t kCallerData = 0x00600000;
constexpr uint64_t kReturnGva = 0x00401234;
constexpr uint64_t kPalStack = 0x10000000;
constexpr uint64_t kPalParam = 0x10002000;
constexpr uint64_t kParamArea = kPalParam + MARSHAL_AREA_OFFSET;

// One PAL call: caller and PAL address spaces, the PAL's geometry (one
// STACK page, one PARAM page), and the caller's registers at the call.
class Call {
 public:
  explicit Call(bool g64) : g64_(g64) {
    caller_.Map(kCallerStackPage, kPage);
    pal_.Map(kPalStack, kPage);
    pal_.Map(kPalParam, kPage);
    params_ = tv_pal_params{};
    target_.g64 = g64;
    target_.stack_top = kPalStack + kPage - MARSHAL_STACK_GAP;
    target_.param_area = kParamArea;
    target_.param_area_bytes = kPage - MARSHAL_AREA_OFFSET;
    target_.params = &params_;
    regs_ = marshal_regs{};
    regs_.rsp = kCallerRsp;
    regs_.rax = 0xAAAA;
    regs_.r10 = 0x1010;
    regs_.r11 = 0x1111;
    caller_.SetWord(kCallerRsp, word(), kReturnGva);
  }

  uint32_t word() const { return g64_ ? 8 : 4; }

  void AddParam(uint32_t type, uint64_t size) {
    params_.params[params_.num_params].type = type;
    params_.params[params_.num_params].size = size;
    params_.num_params++;
  }

  // Argument i as the caller passes it: SysV registers, else its stack.
  void SetArg(uint32_t i, uint64_t v) {
    if (g64_ && i < 6) {
      *Reg(i) = v;
    } else {
      caller_.SetWord(kCallerRsp + word() + word() * StackSlot(i), word(), v);
    }
  }

  // Argument i as the PAL receives it, after marshal_enter.
  uint64_t PalArg(uint32_t i) {
    if (g64_ && i < 6) return *Reg(i);
    return pal_.Word(regs_.rsp + word() + word() * StackSlot(i), word());
  }

  // A caller buffer of `words` words, word j holding base + j.
  uint64_t CallerBuffer(uint64_t gva, uint64_t words, uint64_t base) {
    caller_.Map(gva, words * word() + 1);
    for (uint64_t j = 0; j < words; j++) caller_.SetWord(gva + j * word(), word(), base + j);
    return gva;
  }

  marshal_status Enter() {
    return marshal_enter(&target_, caller_.mem(), pal_.mem(), &regs_, &frame_);
  }
  marshal_status Leave() { return marshal_leave(&frame_, g64_, caller_.mem(), pal_.mem(), &regs_); }

  uint64_t AreaU64(uint64_t offset) { return pal_.Word(kParamArea + offset, 8); }

  bool g64_;
  VirtMem caller_;
  VirtMem pal_;
  tv_pal_params params_;
  marshal_pal target_;
  marshal_regs regs_;
  marshal_frame frame_{};

 private:
  uint32_t StackSlot(uint32_t i) const { return g64_ ? i - 6 : i; }
  uint64_t *Reg(uint32_t i) {
    uint64_t *const r[6] = {&regs_.rdi, &regs_.rsi, &regs_.rdx, &regs_.rcx, &regs_.r8, &regs_.r9};
    return r[i];
  }
};

bool SameRegs(const marshal_regs &a, const marshal_regs &b) {
  return a.rsp == b.rsp && a.rax == b.rax && a.rcx == b.rcx && a.rdx == b.rdx && a.rsi == b.rsi &&
         a.rdi == b.rdi && a.r8 == b.r8 && a.r9 == b.r9 && a.r10 == b.r10 && a.r11 == b.r11;
}

class BothWidths : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override { c_ = std::make_unique<Call>(GetParam()); }
  std::unique_ptr<Call> c_;
};

INSTANTIATE_TEST_SUITE_P(Widths, BothWidths, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool> &info) {
                           return std::string(info.param ? "SysV64" : "Cdecl32");
                         });

// ---- integers ----

TEST_P(BothWidths, TenIntegersReachThePalWhereItsAbiLooksForThem) {
  for (uint32_t i = 0; i < 10; i++) {
    c_->AddParam(TV_PAL_ARG_INTEGER, 0);
    c_->SetArg(i, 0x1000 + i);
  }
  ASSERT_EQ(c_->Enter(), MARSHAL_OK);
  for (uint32_t i = 0; i < 10; i++) EXPECT_EQ(c_->PalArg(i), 0x1000U + i) << "arg " << i;
  EXPECT_EQ(c_->pal_.Word(c_->regs_.rsp, c_->word()), MARSHAL_RETURN_SENTINEL);
  EXPECT_EQ(c_->frame_.saved_rsp, kCallerRsp);
  EXPECT_EQ(c_->frame_.return_gva, kReturnGva);
  EXPECT_EQ(c_->frame_.num_copies, 0U);
}

TEST_P(BothWidths, PalStackIsAlignedAsAfterACall) {
  for (uint32_t n = 0; n <= 10; n++) {
    Call c(GetParam());
    for (uint32_t i = 0; i < n; i++) c.AddParam(TV_PAL_ARG_INTEGER, 0);
    ASSERT_EQ(c.Enter(), MARSHAL_OK) << n;
    EXPECT_EQ((c.regs_.rsp + c.word()) % 16, 0U) << n << " args";
    EXPECT_LE(c.regs_.rsp, c.target_.stack_top - c.word());
    EXPECT_GE(c.regs_.rsp, kPalStack);
  }
}

TEST_P(BothWidths, ParamAreaHoldsCountThenTypeSizeValueRecords) {
  c_->AddParam(TV_PAL_ARG_INTEGER, 4);  // an INTEGER's size is ignored
  c_->AddParam(TV_PAL_ARG_POINTER, 3);
  c_->SetArg(0, 77);
  c_->SetArg(1, c_->CallerBuffer(kCallerData, 3, 500));
  ASSERT_EQ(c_->Enter(), MARSHAL_OK);
  const uint64_t w = c_->word();
  EXPECT_EQ(c_->AreaU64(0), 2U);
  EXPECT_EQ(c_->AreaU64(8), TV_PAL_ARG_INTEGER);
  EXPECT_EQ(c_->AreaU64(16), 0U);
  EXPECT_EQ(c_->AreaU64(24), 77U);
  EXPECT_EQ(c_->AreaU64(32), TV_PAL_ARG_POINTER);
  EXPECT_EQ(c_->AreaU64(40), 3 * w);
  EXPECT_EQ(c_->AreaU64(48), kCallerData) << "the caller's pointer, for reference";
  const uint64_t payload = kParamArea + 56;
  EXPECT_EQ(c_->PalArg(0), 77U);
  EXPECT_EQ(c_->PalArg(1), payload);
  for (uint64_t j = 0; j < 3; j++) EXPECT_EQ(c_->pal_.Word(payload + j * w, w), 500 + j);
  EXPECT_EQ(marshal_area_bytes(&c_->params_, GetParam()), 56 + ((3 * w + 7) & ~7ULL));
}

// ---- pointers and copy-back ----

TEST_P(BothWidths, PointerPayloadIsCopiedBackToTheCallersBuffer) {
  // my_pal(a, *b): the PAL increments *b.
  c_->AddParam(TV_PAL_ARG_INTEGER, 4);
  c_->AddParam(TV_PAL_ARG_POINTER, 1);
  c_->SetArg(0, 5);
  c_->SetArg(1, c_->CallerBuffer(kCallerData, 1, 41));
  ASSERT_EQ(c_->Enter(), MARSHAL_OK);
  const uint64_t b = c_->PalArg(1);
  c_->pal_.SetWord(b, c_->word(), c_->pal_.Word(b, c_->word()) + 1);
  c_->regs_.rax = 46;  // the PAL's return value
  ASSERT_EQ(c_->Leave(), MARSHAL_OK);
  EXPECT_EQ(c_->caller_.Word(kCallerData, c_->word()), 42U);
  EXPECT_EQ(c_->regs_.rax, 46U);
  EXPECT_EQ(c_->regs_.rsp, kCallerRsp + c_->word()) << "the return address is popped";
}

TEST_P(BothWidths, TenPointersEachGetTheirOwnCopy) {
  for (uint32_t i = 0; i < 10; i++) {
    c_->AddParam(TV_PAL_ARG_POINTER, 1);
    c_->SetArg(i, c_->CallerBuffer(kCallerData + 0x100 * i, 1, 10 * i));
  }
  ASSERT_EQ(c_->Enter(), MARSHAL_OK);
  ASSERT_EQ(c_->frame_.num_copies, 10U);
  std::set<uint64_t> seen;
  for (uint32_t i = 0; i < 10; i++) {
    const uint64_t p = c_->PalArg(i);
    EXPECT_TRUE(seen.insert(p).second);
    EXPECT_GE(p, kParamArea);
    EXPECT_LT(p, kPalParam + kPage);
    EXPECT_EQ(p % 8, 0U);
    EXPECT_EQ(c_->pal_.Word(p, c_->word()), 10U * i);
    c_->pal_.SetWord(p, c_->word(), 10U * i + 1);
  }
  ASSERT_EQ(c_->Leave(), MARSHAL_OK);
  for (uint32_t i = 0; i < 10; i++) {
    EXPECT_EQ(c_->caller_.Word(kCallerData + 0x100 * i, c_->word()), 10U * i + 1);
  }
}

TEST_P(BothWidths, FivePointersOfZeroToNinetyNineWordsRoundTrip) {
  // pal_5_ptr(size0, ptr0, ..., size4, ptr4) with seeded random lengths.
  std::mt19937 rng(7);
  int calls = 0;
  for (int iter = 0; iter < 60; iter++) {
    Call c(GetParam());
    const uint64_t w = c.word();
    uint64_t len[5];
    for (int k = 0; k < 5; k++) len[k] = iter == 0 ? 0 : iter == 1 ? 99 : rng() % 100;
    for (int k = 0; k < 5; k++) {
      c.AddParam(TV_PAL_ARG_INTEGER, 0);
      c.AddParam(TV_PAL_ARG_POINTER, len[k]);
      c.SetArg(2 * k, len[k]);
      c.SetArg(2 * k + 1, c.CallerBuffer(kCallerData + 0x1000 * k, len[k], 1000 * k));
    }
    const uint64_t need = marshal_area_bytes(&c.params_, GetParam());
    if (need > c.target_.param_area_bytes) {
      EXPECT_EQ(c.Enter(), MARSHAL_ERR_AREA_OVERFLOW);
      continue;
    }
    ASSERT_EQ(c.Enter(), MARSHAL_OK) << "iteration " << iter;
    calls++;
    for (int k = 0; k < 5; k++) {
      EXPECT_EQ(c.PalArg(2 * k), len[k]);
      const uint64_t p = c.PalArg(2 * k + 1);
      for (uint64_t j = 0; j < len[k]; j++) {
        ASSERT_EQ(c.pal_.Word(p + j * w, w), 1000 * k + j);
        c.pal_.SetWord(p + j * w, w, 0x31415926 + j);
      }
    }
    ASSERT_EQ(c.Leave(), MARSHAL_OK);
    for (int k = 0; k < 5; k++) {
      for (uint64_t j = 0; j < len[k]; j++) {
        ASSERT_EQ(c.caller_.Word(kCallerData + 0x1000 * k + j * w, w), 0x31415926 + j);
      }
      // One word past the buffer is the caller's and stays untouched.
      EXPECT_EQ(c.caller_.Word(kCallerData + 0x1000 * k + len[k] * w, w), 0U);
    }
  }
  EXPECT_GT(calls, 50);
}

TEST_P(BothWidths, CopyBackUsesTheHypervisorsRecordNotThePalsParamArea) {
  c_->AddParam(TV_PAL_ARG_POINTER, 1);
  c_->SetArg(0, c_->CallerBuffer(kCallerData, 1, 1));
  c_->CallerBuffer(kCallerData + 0x800, 1, 2);  // a caller buffer the PAL was not given
  ASSERT_EQ(c_->Enter(), MARSHAL_OK);
  c_->pal_.SetWord(kParamArea + 24, 8, kCallerData + 0x800);  // rewrite the value field
  c_->pal_.SetWord(kParamArea + 16, 8, 4096);                 // and the size
  c_->pal_.SetWord(c_->PalArg(0), c_->word(), 9);
  ASSERT_EQ(c_->Leave(), MARSHAL_OK);
  EXPECT_EQ(c_->caller_.Word(kCallerData, c_->word()), 9U);
  EXPECT_EQ(c_->caller_.Word(kCallerData + 0x800, c_->word()), 2U);
}

TEST(MarshalSysV, SeventhArgumentPointerGoesOnThePalStack) {
  Call c(true);
  for (uint32_t i = 0; i < 6; i++) {
    c.AddParam(TV_PAL_ARG_INTEGER, 0);
    c.SetArg(i, i);
  }
  c.AddParam(TV_PAL_ARG_POINTER, 2);
  c.SetArg(6, c.CallerBuffer(kCallerData, 2, 70));
  ASSERT_EQ(c.Enter(), MARSHAL_OK);
  const uint64_t p = c.pal_.Word(c.regs_.rsp + 8, 8);
  EXPECT_EQ(p, kParamArea + 8 + 6 * 24 + 24);
  EXPECT_EQ(c.pal_.Word(p + 8, 8), 71U);
  EXPECT_EQ(c.regs_.rdi, 0U);
  EXPECT_EQ(c.regs_.r9, 5U);
  EXPECT_EQ((c.regs_.rsp + 8) % 16, 0U);
}

TEST(MarshalCdecl32, StackAddressesWrapNoFurtherThanFourGiB) {
  Call c(false);
  c.regs_.rsp = 0xFFFFFFFFULL << 32 | kCallerRsp;  // stale upper half
  c.AddParam(TV_PAL_ARG_INTEGER, 0);
  c.SetArg(0, 0xBEEF);
  ASSERT_EQ(c.Enter(), MARSHAL_OK) << "only ESP counts";
  EXPECT_EQ(c.PalArg(0), 0xBEEFU);
  EXPECT_EQ(c.regs_.rsp >> 32, 0U);
}

// ---- errors ----

TEST_P(BothWidths, FivePointersOfNinetyNineWordsOverflowOnlyTheSixtyFourBitArea) {
  for (int k = 0; k < 5; k++) {
    c_->AddParam(TV_PAL_ARG_INTEGER, 0);
    c_->AddParam(TV_PAL_ARG_POINTER, 99);
  }
  const uint64_t w = c_->word();
  EXPECT_EQ(marshal_area_bytes(&c_->params_, GetParam()), 8 + 10 * 24 + 5 * ((99 * w + 7) & ~7ULL));
  const marshal_regs before = c_->regs_;
  if (GetParam()) {
    EXPECT_EQ(c_->Enter(), MARSHAL_ERR_AREA_OVERFLOW);
    EXPECT_TRUE(SameRegs(c_->regs_, before));
  } else {
    for (int k = 0; k < 5; k++)
      c_->SetArg(2 * k + 1, c_->CallerBuffer(kCallerData + 0x1000 * k, 99, 0));
    EXPECT_EQ(c_->Enter(), MARSHAL_OK);
  }
}

TEST_P(BothWidths, UnreadableCallerMemoryIsAnErrorAndTheCallerKeepsItsRegisters) {
  c_->AddParam(TV_PAL_ARG_POINTER, 4);
  c_->SetArg(0, 0xDEAD0000);  // unmapped
  const marshal_regs before = c_->regs_;
  EXPECT_EQ(c_->Enter(), MARSHAL_ERR_CALLER_READ);
  EXPECT_TRUE(SameRegs(c_->regs_, before));

  Call c(GetParam());
  c.regs_.rsp = 0x5000;  // no stack there
  EXPECT_EQ(c.Enter(), MARSHAL_ERR_RETURN_ADDR);
  EXPECT_EQ(c.regs_.rsp, 0x5000U);
}

TEST_P(BothWidths, StackArgumentBeyondTheCallersStackIsAnError) {
  Call c(GetParam());
  c.regs_.rsp = kCallerStackPage + kPage - c.word();  // return address in the last word
  c.caller_.SetWord(c.regs_.rsp, c.word(), kReturnGva);
  for (uint32_t i = 0; i < 7; i++) c.AddParam(TV_PAL_ARG_INTEGER, 0);
  EXPECT_EQ(c.Enter(), MARSHAL_ERR_ARG_READ);
}

TEST_P(BothWidths, UnwritablePalMemoryIsAnError) {
  c_->AddParam(TV_PAL_ARG_INTEGER, 0);
  c_->pal_.Map(kPalParam, kPage, false);
  EXPECT_EQ(c_->Enter(), MARSHAL_ERR_PAL_WRITE);
  Call c(GetParam());
  c.pal_.Unmap(kPalStack);
  EXPECT_EQ(c.Enter(), MARSHAL_ERR_PAL_WRITE);
}

TEST_P(BothWidths, NoParamSectionMeansNoParameters) {
  c_->target_.param_area = 0;
  c_->target_.param_area_bytes = 0;
  c_->pal_.Unmap(kPalParam);
  ASSERT_EQ(c_->Enter(), MARSHAL_OK) << "a call without parameters needs no PARAM area";
  Call c(GetParam());
  c.target_.param_area = 0;
  c.target_.param_area_bytes = 0;
  c.AddParam(TV_PAL_ARG_INTEGER, 0);
  EXPECT_EQ(c.Enter(), MARSHAL_ERR_NO_PARAM_AREA);
}

TEST_P(BothWidths, MalformedParameterListsAreRefused) {
  c_->params_.num_params = TV_MAX_PARAMS + 1;
  EXPECT_EQ(c_->Enter(), MARSHAL_ERR_BAD_PARAMS);
  EXPECT_EQ(marshal_area_bytes(&c_->params_, GetParam()), UINT64_MAX);
  c_->params_.num_params = 0;
  c_->AddParam(3, 0);
  EXPECT_EQ(c_->Enter(), MARSHAL_ERR_BAD_PARAMS);
  c_->params_.num_params = 0;
  c_->AddParam(TV_PAL_ARG_POINTER, UINT64_MAX / 2);
  EXPECT_EQ(marshal_area_bytes(&c_->params_, GetParam()), UINT64_MAX);
  EXPECT_EQ(c_->Enter(), MARSHAL_ERR_AREA_OVERFLOW);
}

TEST(MarshalCdecl32, PalAboveFourGiBCannotBeHandedToA32BitCaller) {
  Call c(false);
  c.target_.stack_top = 0x100001000ULL;
  EXPECT_EQ(c.Enter(), MARSHAL_ERR_BAD_LAYOUT);
  Call d(false);
  d.target_.param_area = 0xFFFFF010ULL;
  d.target_.param_area_bytes = 0x1000;
  EXPECT_EQ(d.Enter(), MARSHAL_ERR_BAD_LAYOUT);
}

TEST_P(BothWidths, FailedCopyBackStillReturnsToTheCallerAndTriesEveryBuffer) {
  c_->AddParam(TV_PAL_ARG_POINTER, 1);
  c_->AddParam(TV_PAL_ARG_POINTER, 1);
  c_->SetArg(0, c_->CallerBuffer(kCallerData, 1, 1));
  c_->SetArg(1, c_->CallerBuffer(kCallerData + 0x3000, 1, 2));
  ASSERT_EQ(c_->Enter(), MARSHAL_OK);
  c_->pal_.SetWord(c_->PalArg(1), c_->word(), 20);
  c_->caller_.Unmap(kCallerData);  // the caller unmapped its first buffer meanwhile
  c_->regs_.rcx = 0x5EC7E7;
  EXPECT_EQ(c_->Leave(), MARSHAL_ERR_CALLER_WRITE);
  EXPECT_EQ(c_->caller_.Word(kCallerData + 0x3000, c_->word()), 20U);
  EXPECT_EQ(c_->regs_.rcx, 0U);
  EXPECT_EQ(c_->regs_.rsp, kCallerRsp + c_->word());
}

// ---- scrubbing ----

TEST(MarshalScrub, SixtyFourBitClearsEveryCallerSavedArgumentRegister) {
  marshal_regs r{0x1000, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  marshal_scrub_regs(&r, true);
  const marshal_regs want{0x1000, 1, 0, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_TRUE(SameRegs(r, want));
}

TEST(MarshalScrub, ThirtyTwoBitClearsEcxAndEdxOnly) {
  marshal_regs r{0x1000, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  marshal_scrub_regs(&r, false);
  const marshal_regs want{0x1000, 1, 0, 0, 4, 5, 6, 7, 8, 9};
  EXPECT_TRUE(SameRegs(r, want));
}

// ---- through real page tables ----

// The glue's wiring: caller and PAL address spaces as gpt walks over one
// guest-physical memory, the PAL's tables mapping only the lent pages.
TEST(MarshalThroughPageTables, CallerAndPalSeeTheSameLentFrames) {
  PhysMem phys(0x40000000, 0x100000);
  const gpt_page_source src{[](void *ctx, uint64_t *gpa) {
                              *gpa = static_cast<PhysMem *>(ctx)->AllocPage();
                              return *gpa != 0;
                            },
                            &phys};
  gpt_ctx reg{}, pal{};
  reg.mode = pal.mode = GPT_MODE_LONG4;
  reg.nxe = pal.nxe = true;
  reg.mem = pal.mem = phys.mem();
  ASSERT_EQ(gpt_new_root(GPT_MODE_LONG4, &src, &reg.cr3), GPT_OK);
  ASSERT_EQ(gpt_new_root(GPT_MODE_LONG4, &src, &pal.cr3), GPT_OK);
  const uint64_t stack_frame = 0x40001000, param_frame = 0x40002000, caller_stack = 0x40003000,
                 caller_buf = 0x40004000;
  const uint32_t rw_user = GPT_MAP_WRITE | GPT_MAP_USER;
  ASSERT_EQ(gpt_map_page(&reg, &src, kPalStack, stack_frame, rw_user), GPT_OK);
  ASSERT_EQ(gpt_map_page(&reg, &src, kPalParam, param_frame, rw_user), GPT_OK);
  ASSERT_EQ(gpt_map_page(&reg, &src, kCallerStackPage, caller_stack, rw_user), GPT_OK);
  ASSERT_EQ(gpt_map_page(&reg, &src, kCallerData, caller_buf, rw_user), GPT_OK);
  ASSERT_EQ(gpt_map_page(&pal, &src, kPalStack, stack_frame, rw_user), GPT_OK);
  ASSERT_EQ(gpt_map_page(&pal, &src, kPalParam, param_frame, rw_user), GPT_OK);

  gpt_virt reg_v{&reg, GPT_ACC_USER}, pal_v{&pal, GPT_ACC_USER};
  const mem_io caller = gpt_virt_mem(&reg_v), pal_mem = gpt_virt_mem(&pal_v);
  phys.Write64(caller_stack + (kCallerRsp - kCallerStackPage), kReturnGva);
  phys.Write64(caller_buf, 41);

  tv_pal_params params{};
  params.num_params = 2;
  params.params[0] = {TV_PAL_ARG_INTEGER, 0, 4};
  params.params[1] = {TV_PAL_ARG_POINTER, 0, 1};
  const marshal_pal target{true, kPalStack + kPage - MARSHAL_STACK_GAP, kParamArea,
                           kPage - MARSHAL_AREA_OFFSET, &params};
  marshal_regs regs{};
  regs.rsp = kCallerRsp;
  regs.rdi = 5;
  regs.rsi = kCallerData;
  marshal_frame frame{};
  ASSERT_EQ(marshal_enter(&target, &caller, &pal_mem, &regs, &frame), MARSHAL_OK);
  EXPECT_EQ(frame.return_gva, kReturnGva);
  const uint64_t payload_gpa = param_frame + (regs.rsi - kPalParam);
  EXPECT_EQ(phys.Read64(payload_gpa), 41U);
  EXPECT_EQ(phys.Read64(stack_frame + (regs.rsp - kPalStack)), MARSHAL_RETURN_SENTINEL);
  phys.Write64(payload_gpa, 42);
  ASSERT_EQ(marshal_leave(&frame, true, &caller, &pal_mem, &regs), MARSHAL_OK);
  EXPECT_EQ(phys.Read64(caller_buf), 42U);
}

TEST(MarshalNames, EveryStatusHasItsOwnName) {
  std::set<std::string> seen;
  for (int s = MARSHAL_OK; s <= MARSHAL_ERR_PAL_WRITE; s++) {
    const std::string name = marshal_status_name(static_cast<marshal_status>(s));
    EXPECT_EQ(name.rfind("MARSHAL_", 0), 0U) << name;
    EXPECT_NE(name, "MARSHAL_ERR_?");
    EXPECT_TRUE(seen.insert(name).second) << name;
  }
  EXPECT_STREQ(marshal_status_name(static_cast<marshal_status>(-1)), "MARSHAL_ERR_?");
}

}  // namespace
