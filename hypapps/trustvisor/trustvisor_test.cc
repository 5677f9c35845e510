// SPDX-License-Identifier: Apache-2.0
// TrustVisor's glue on the fakes: registration, PAL entry and exit, revocation and the views,
// driven through the core's real exit dispatch as a hostile guest would drive them.
#include <cstring>
#include <string>

#include "gtest/gtest.h"
#include "hypapps/trustvisor/registry.h"
#include "hypapps/trustvisor/tv_abi.h"
#include "testing/fakes/fake_cpu.h"
#include "testing/fakes/fake_hv.h"
#include "testing/fakes/fake_machine.h"
#include "testing/fakes/fake_vmcs.h"
#include "xhv/cpu_ops.h"
#include "xhv/ept.h"
#include "xhv/gpt.h"
#include "xhv/guest.h"
#include "xhv/guest_mem.h"
#include "xhv/hypapp.h"
#include "xhv/quiesce.h"
#include "xhv/vmcs.h"
#include "xhv/vmx.h"
#include "xhv/vmx_caps.h"

namespace {

using xhv_fake::cpu;
using xhv_fake::hv;
using xhv_fake::vmcs;

constexpr uint64_t kRam = 32ULL << 20;
constexpr uint64_t kHidden = 30ULL << 20;
constexpr uint64_t kPage = 0x1000;

// The calling process: user pages at these gvas, backed by these gpas.
constexpr uint64_t kCodeGva = 0x400000, kCodeGpa = 0x600000;
constexpr uint64_t kDataGva = 0x401000, kDataGpa = 0x601000;
constexpr uint64_t kStackGva = 0x402000, kStackGpa = 0x602000;
constexpr uint64_t kParamGva = 0x403000, kParamGpa = 0x603000;
constexpr uint64_t kSharedGva = 0x404000, kSharedGpa = 0x604000;
constexpr uint64_t kCallerGva = 0x500000, kCallerGpa = 0x700000;  // its stack and its records
constexpr uint64_t kDeviceGva = 0x405000, kDeviceGpa = 0xFEC00000;  // an I/O APIC page
constexpr uint64_t kEntry = kCodeGva + 0x10;
constexpr uint64_t kReturn = 0x401234;  // where the caller's CALL came from
constexpr uint64_t kCallerRsp = kCallerGva + 0x800;
constexpr uint64_t kSections = kCallerGva + 0x100, kParams = kCallerGva + 0x200;
constexpr uint64_t kArgBuf = kCallerGva + 0x300;

constexpr uint32_t kUserCodeAr = 0xA0FB;    // 64-bit code, DPL 3
constexpr uint32_t kUserDataAr = 0xC0F3;    // DPL 3
constexpr uint32_t kKernelCodeAr = 0xA09B;  // 64-bit code, DPL 0
constexpr uint32_t kKernelDataAr = 0xC093;
constexpr uint64_t kCallerDr7 = 0x403;      // L0 G0: a breakpoint the OS armed
constexpr uint64_t kCallerDebugctl = 0x3;   // LBR and BTF

class TrustVisorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cpu().Reset();
    vmcs().Reset();
    hv().Clear();
    xhv_fake::GuestMemory(kRam, kHidden, 1ULL << 20, 24ULL << 20);
    hv().cpu0.is_bsp = true;
    hv().cpu1.index = 1;  // a second CPU for TrustVisor; quiesce (cpu_count 1) parks no one
    xhv_hypapp.init(&hv().cpu0);
    BuildProcess();
    CallerState();
    std::memset(&regs, 0, sizeof(regs));
  }

  // 4-level page tables of the calling process, in guest RAM.
  void BuildProcess() {
    next_table = 0x100000;
    io = guest_mem_io(nullptr);
    source.alloc = [](void *ctx, uint64_t *gpa) {
      uint64_t *next = static_cast<uint64_t *>(ctx);
      *gpa = *next;
      *next += kPage;
      return true;
    };
    source.ctx = &next_table;
    ASSERT_EQ(gpt_new_root(GPT_MODE_LONG4, &source, &root), GPT_OK);
    g.mode = GPT_MODE_LONG4;
    g.cr3 = root;
    g.pse = false;
    g.nxe = false;
    g.wp = true;
    g.maxphyaddr = 0;
    g.mem = &io;
    const uint32_t rw = GPT_MAP_USER | GPT_MAP_WRITE;
    for (auto m : {std::pair<uint64_t, uint64_t>{kCodeGva, kCodeGpa}, {kDataGva, kDataGpa},
                   {kStackGva, kStackGpa}, {kParamGva, kParamGpa}, {kSharedGva, kSharedGpa},
                   {kCallerGva, kCallerGpa}, {kDeviceGva, kDeviceGpa}}) {
      ASSERT_EQ(gpt_map_page(&g, &source, m.first, m.second, rw), GPT_OK);
    }
  }

  // A 64-bit process at CPL 3 under a 64-bit kernel, in the middle of `call entry`.
  void CallerState() {
    vmcs().Set(VMCS_GUEST_CR0, 0x80000031);
    vmcs().Set(VMCS_GUEST_CR4, 0x20);
    vmcs().Set(VMCS_GUEST_CR3, root);
    vmcs().Set(VMCS_GUEST_IA32_EFER, 0x500);
    vmcs().Set(VMCS_VM_ENTRY_CONTROLS, VMX_ENTRY_CTL_IA32E_MODE_GUEST);
    vmcs().Set(VMCS_GUEST_CS_SELECTOR, 0x33);
    vmcs().Set(VMCS_GUEST_CS_ACCESS_RIGHTS, kUserCodeAr);
    vmcs().Set(VMCS_GUEST_SS_SELECTOR, 0x2B);
    vmcs().Set(VMCS_GUEST_SS_ACCESS_RIGHTS, kUserDataAr);
    vmcs().Set(VMCS_GUEST_FS_BASE, 0x7F0000001000ULL);
    vmcs().Set(VMCS_GUEST_RFLAGS, 0x246);
    vmcs().Set(VMCS_GUEST_DR7, kCallerDr7);
    vmcs().Set(VMCS_GUEST_IA32_DEBUGCTL, kCallerDebugctl);
    vmcs().Set(VMCS_EPT_POINTER, guest_regular_eptp());
    vmcs().Set(VMCS_EXCEPTION_BITMAP, 0);
  }

  void Exit(uint32_t reason, uint32_t len = 3, uint64_t qualification = 0) {
    vmcs().Set(VMCS_VM_EXIT_REASON, reason);
    vmcs().Set(VMCS_VM_EXIT_INSTRUCTION_LEN, len);
    vmcs().Set(VMCS_EXIT_QUALIFICATION, qualification);
    vmexit_dispatch(&regs);
  }

  void PutVirt(uint64_t gva, const void *p, uint32_t n) {
    ASSERT_EQ(gpt_write_virt(&g, gva, p, n, GPT_ACC_USER), GPT_OK);
  }

  // TV_HC_REG of a PAL with CODE, DATA, STACK, PARAM (and optionally more) pages;
  // my_pal(a, *b): one integer and one pointer of one word.
  uintptr_t Register(uint32_t extra_type = 0, uint64_t extra_gva = 0) {
    tv_pal_sections s{};
    s.num_sections = 4;
    s.sections[0] = {TV_PAL_SECTION_CODE, 1, kCodeGva};
    s.sections[1] = {TV_PAL_SECTION_DATA, 1, kDataGva};
    s.sections[2] = {TV_PAL_SECTION_STACK, 1, kStackGva};
    s.sections[3] = {TV_PAL_SECTION_PARAM, 1, kParamGva};
    if (extra_type) {
      s.sections[s.num_sections++] = {extra_type, 1, extra_gva};
    }
    tv_pal_params p{};
    p.num_params = 2;
    p.params[0] = {TV_PAL_ARG_INTEGER, 0, 0};
    p.params[1] = {TV_PAL_ARG_POINTER, 0, 1};
    PutVirt(kSections, &s, sizeof(s));
    PutVirt(kParams, &p, sizeof(p));
    regs.ax = TV_HC_REG;
    regs.cx = kSections;
    regs.si = kParams;
    regs.di = kEntry;
    vmcs().Set(VMCS_GUEST_RIP, 0x401000);
    Exit(EXIT_VMCALL);
    return regs.ax;
  }

  // The caller's `call entry`: the return address on its stack, the fetch exits.
  void Call(uint64_t ret = kReturn) {
    uint64_t b = 41;
    PutVirt(kCallerRsp, &ret, sizeof(ret));
    PutVirt(kArgBuf, &b, sizeof(b));
    std::memset(&regs, 0, sizeof(regs));
    regs.di = 7;        // a
    regs.si = kArgBuf;  // b
    regs.bx = 0xB0B0;   // callee-saved: the caller's, and the caller's again after
    regs.bp = 0xB1B1;
    regs.r12 = 0xC12;
    regs.r15 = 0xC15;
    vmcs().Set(VMCS_GUEST_RIP, kEntry);
    vmcs().Set(VMCS_GUEST_RSP, kCallerRsp);
    vmcs().Set(VMCS_GUEST_PHYSICAL_ADDRESS, kCodeGpa + 0x10);
    Exit(EXIT_EPT_VIOLATION, 0, /*fetch*/ 4);
  }

  bool InPal() const { return vmcs().Get(VMCS_EPT_POINTER) != guest_regular_eptp(); }

  // The PAL's registers, as a PAL that computed secrets would leave them.
  void PalDirtiesEverything() {
    regs.bx = regs.bp = regs.r12 = regs.r13 = regs.r14 = regs.r15 = 0x5EC7E7;
    regs.cx = regs.dx = regs.r8 = regs.r9 = regs.r10 = regs.r11 = 0x5EC7E7;
    regs.ax = 0x5EC7E7;
  }

  // SYSCALL inside the PAL: the CPU loads the kernel's CS/SS and RIP = LSTAR, whose
  // fetch faults in the PAL's page tables: a #PF exception exit at CPL 0.
  void PalDoesSyscall() {
    PalDirtiesEverything();
    vmcs().Set(VMCS_GUEST_CS_SELECTOR, 0x10);
    vmcs().Set(VMCS_GUEST_CS_ACCESS_RIGHTS, kKernelCodeAr);
    vmcs().Set(VMCS_GUEST_SS_SELECTOR, 0x18);
    vmcs().Set(VMCS_GUEST_SS_ACCESS_RIGHTS, kKernelDataAr);
    vmcs().Set(VMCS_GUEST_RIP, 0xFFFFFFFF81000000ULL);
    vmcs().Set(VMCS_VM_EXIT_INTR_INFO, 0x80000B0EU);
    vmcs().Set(VMCS_VM_EXIT_INTR_ERROR_CODE, 0x10);
    Exit(EXIT_EXCEPTION_OR_NMI, 0, 0xFFFFFFFF81000000ULL);
  }

  // Sentinel return: `ret` to 0x4, which the PAL's EPT does not map.
  void PalReturns(uint64_t result) {
    regs.ax = result;
    vmcs().Set(VMCS_GUEST_RIP, 4);
    vmcs().Set(VMCS_GUEST_PHYSICAL_ADDRESS, 4);
    Exit(EXIT_EPT_VIOLATION, 0, /*fetch*/ 4);
  }

  // The regular view's translation of gpa: host page and rights.
  uint64_t Regular(uint64_t gpa, uint32_t *prot) {
    return ept_lookup(guest_ept(), gpa, prot, nullptr, nullptr);
  }

  // The view of the EPT at eptp (the PAL's), read through the fake RAM.
  uint64_t View(uint64_t eptp, uint64_t gpa, uint32_t *prot) {
    static ept_pages pages{nullptr, [](void *, uint64_t pa) { return cpu_phys_ptr(pa, kPage); },
                           nullptr};
    ept e{};
    e.pml4_pa = eptp & ~0xFFFULL;
    e.pml4 = cpu_phys_ptr(e.pml4_pa, kPage);
    e.pages = &pages;
    e.max_leaf_level = EPT_LEVEL_4K;
    return ept_lookup(&e, gpa, prot, nullptr, nullptr);
  }

  void ExpectCallerContextBack() {
    EXPECT_FALSE(InPal());
    EXPECT_EQ(vmcs().Get(VMCS_GUEST_CR3), root);
    EXPECT_EQ(vmcs().Get(VMCS_GUEST_CS_SELECTOR), 0x33U);
    EXPECT_EQ(vmcs().Get(VMCS_GUEST_CS_ACCESS_RIGHTS), kUserCodeAr) << "CPL 3, not the kernel's";
    EXPECT_EQ(vmcs().Get(VMCS_GUEST_SS_SELECTOR), 0x2BU);
    EXPECT_EQ((vmcs().Get(VMCS_GUEST_SS_ACCESS_RIGHTS) >> 5) & 3U, 3U);
    EXPECT_EQ(vmcs().Get(VMCS_GUEST_RFLAGS), 0x246U);
    EXPECT_EQ(vmcs().Get(VMCS_GUEST_CR0), 0x80000031U) << "FPU back on";
    EXPECT_EQ(vmcs().Get(VMCS_GUEST_DR7), kCallerDr7);
    EXPECT_EQ(vmcs().Get(VMCS_GUEST_IA32_DEBUGCTL), kCallerDebugctl);
    EXPECT_EQ(vmcs().Get(VMCS_GUEST_FS_BASE), 0x7F0000001000ULL);
    EXPECT_EQ(vmcs().Get(VMCS_GUEST_RIP), kReturn);
    EXPECT_EQ(vmcs().Get(VMCS_GUEST_RSP), kCallerRsp + 8);
    EXPECT_EQ(regs.bx, 0xB0B0U);
    EXPECT_EQ(regs.bp, 0xB1B1U);
    EXPECT_EQ(regs.r12, 0xC12U);
    EXPECT_EQ(regs.r13, 0U);
    EXPECT_EQ(regs.r15, 0xC15U);
    for (uword_t r : {regs.cx, regs.dx, regs.si, regs.di, regs.r8, regs.r9, regs.r10, regs.r11}) {
      EXPECT_EQ(r, 0U) << "caller-saved registers are scrubbed";
    }
    EXPECT_EQ(vmcs().Get(VMCS_EXCEPTION_BITMAP), 0U);
  }

  uint64_t next_table = 0;
  uint64_t root = 0;
  mem_io io{};
  gpt_page_source source{};
  gpt_ctx g{};
  struct cpu_regs regs {};
};

TEST_F(TrustVisorTest, ARegisteredPalIsCalledAndReturnsItsResult) {
  ASSERT_EQ(Register(), TV_OK);
  Call();
  ASSERT_TRUE(InPal());
  EXPECT_EQ(vmcs().Get(VMCS_GUEST_RIP), kEntry);
  EXPECT_NE(vmcs().Get(VMCS_GUEST_CR3), root) << "the PAL's own page tables";
  PalReturns(48);
  EXPECT_EQ(regs.ax, 48U);
  ExpectCallerContextBack();
}

TEST_F(TrustVisorTest, ThePalRunsSealedFpuOffNoBreakpointsNoBranchRecords) {
  ASSERT_EQ(Register(), TV_OK);
  Call();
  ASSERT_TRUE(InPal());
  EXPECT_EQ(vmcs().Get(VMCS_GUEST_CR0) & 0xCU, 0xCU) << "CR0.TS and CR0.EM";
  EXPECT_EQ(vmcs().Get(VMCS_GUEST_DR7), 0x400U);
  EXPECT_EQ(vmcs().Get(VMCS_GUEST_IA32_DEBUGCTL), 0U);
  EXPECT_EQ(vmcs().Get(VMCS_GUEST_PENDING_DBG_EXCEPTIONS), 0U);
  EXPECT_EQ(vmcs().Get(VMCS_GUEST_RFLAGS), 0x2U) << "no IF, no TF, IOPL 0, DF 0";
  EXPECT_EQ(vmcs().Get(VMCS_EXCEPTION_BITMAP), 0xFFFFFFFFU);
}

TEST_F(TrustVisorTest, SyscallInAPalEndsItAndTheCallerResumesAtItsOwnPrivilege) {
  ASSERT_EQ(Register(), TV_OK);
  Call();
  ASSERT_TRUE(InPal());
  PalDoesSyscall();
  EXPECT_EQ(regs.ax, TV_ERR_PAL_FAULT);
  ExpectCallerContextBack();
}

TEST_F(TrustVisorTest, APalFaultHandsTheCallerNoneOfThePalsRegisters) {
  ASSERT_EQ(Register(), TV_OK);
  Call();
  PalDirtiesEverything();
  vmcs().Set(VMCS_GUEST_RIP, kEntry + 4);
  vmcs().Set(VMCS_VM_EXIT_INTR_INFO, 0x80000307U);  // #NM: an SSE instruction, FPU off
  Exit(EXIT_EXCEPTION_OR_NMI, 0);
  EXPECT_EQ(regs.ax, TV_ERR_PAL_FAULT);
  ExpectCallerContextBack();
}

TEST_F(TrustVisorTest, APalsSoftwareInterruptIsNotDeliveredToTheCaller) {
  ASSERT_EQ(Register(), TV_OK);
  Call();
  // INT 0x80: its IDT read faults in the PAL's page tables, during delivery.
  vmcs().Set(VMCS_IDT_VECTORING_INFO, 0x80000480U);
  vmcs().Set(VMCS_VM_EXIT_INTR_INFO, 0x80000B0EU);
  Exit(EXIT_EXCEPTION_OR_NMI, 2);
  EXPECT_EQ(regs.ax, TV_ERR_PAL_FAULT);
  EXPECT_EQ(vmcs().Get(VMCS_VM_ENTRY_INTR_INFO), 0U) << "the INT was the PAL's";
  ExpectCallerContextBack();
}

TEST_F(TrustVisorTest, APalTouchingMemoryOutsideItsSectionsIsEnded) {
  ASSERT_EQ(Register(), TV_OK);
  Call();
  PalDirtiesEverything();
  vmcs().Set(VMCS_GUEST_PHYSICAL_ADDRESS, kCallerGpa);  // the caller's own page: not the PAL's
  Exit(EXIT_EPT_VIOLATION, 0, /*read*/ 1);
  EXPECT_EQ(regs.ax, TV_ERR_PAL_FAULT);
  ExpectCallerContextBack();
}

// Hypervisor memory and the local APIC have answers of the core's, made
// in the regular EPT; a PAL runs in its own, so they are TrustVisor's to
// judge there: the PAL is ended (the core's answer would leave it exiting
// on the same access for ever).
TEST_F(TrustVisorTest, APalTouchingHypervisorMemoryIsEndedNotAnsweredInTheRegularView) {
  ASSERT_EQ(Register(), TV_OK);
  Call();
  vmcs().Set(VMCS_GUEST_PHYSICAL_ADDRESS, kHidden + 0x40);
  Exit(EXIT_EPT_VIOLATION, 0, /*read*/ 1);
  EXPECT_EQ(regs.ax, TV_ERR_PAL_FAULT);
  EXPECT_FALSE(InPal());
}

TEST_F(TrustVisorTest, ACallFromKernelModeIsGeneralProtectionAndRunsNoPal) {
  ASSERT_EQ(Register(), TV_OK);
  vmcs().Set(VMCS_GUEST_SS_ACCESS_RIGHTS, kKernelDataAr);
  vmcs().Set(VMCS_GUEST_CS_ACCESS_RIGHTS, kKernelCodeAr);
  Call();
  EXPECT_FALSE(InPal());
  EXPECT_EQ(vmcs().Get(VMCS_VM_ENTRY_INTR_INFO), 0x80000B0DU);
}

TEST_F(TrustVisorTest, LentPagesReadAsAReadOnlyZeroPageOfTrustVisorsOwn) {
  ASSERT_EQ(Register(), TV_OK);
  uint32_t prot = 0;
  uint64_t backing = Regular(kDataGpa, &prot);
  EXPECT_NE(backing, kDataGpa);
  EXPECT_EQ(prot, EPT_READ);
  EXPECT_EQ(Regular(kStackGpa, &prot), backing) << "one zero page for every lent page...";
  EXPECT_EQ(prot, EPT_READ);
  // ...and not the one hidden memory reads as.
  vmcs().Set(VMCS_GUEST_PHYSICAL_ADDRESS, kHidden);
  Exit(EXIT_EPT_VIOLATION, 0, /*read*/ 1);
  EXPECT_NE(Regular(kHidden, &prot), backing);
  std::vector<uint8_t> zero(kPage, 0);
  EXPECT_EQ(std::memcmp(cpu_phys_ptr(backing, kPage), zero.data(), kPage), 0);
}

TEST_F(TrustVisorTest, SharedCodeStaysReadableAndExecutableButNotWritable) {
  ASSERT_EQ(Register(TV_PAL_SECTION_SHARED_CODE, kSharedGva), TV_OK);
  uint32_t prot = 0;
  EXPECT_EQ(Regular(kSharedGpa, &prot), kSharedGpa);
  EXPECT_EQ(prot, EPT_READ | EPT_EXEC);
}

TEST_F(TrustVisorTest, APageThatIsNotGuestRamCannotBeLent) {
  EXPECT_EQ(Register(TV_PAL_SECTION_DATA, kDeviceGva), TV_ERR_NOT_RAM);
  uint32_t prot = 0;
  EXPECT_EQ(Regular(kCodeGpa, &prot), kCodeGpa) << "a refused registration lends nothing";
  EXPECT_EQ(prot, EPT_RWX);
}

TEST_F(TrustVisorTest, UnregisteringScrubsTheWritablePagesAndGivesThemBack) {
  ASSERT_EQ(Register(), TV_OK);
  std::memset(cpu_phys_ptr(kDataGpa, kPage), 0x5E, kPage);  // the PAL's secret
  regs.ax = TV_HC_UNREG;
  regs.cx = kEntry;
  Exit(EXIT_VMCALL);
  ASSERT_EQ(regs.ax, TV_OK);
  uint32_t prot = 0;
  EXPECT_EQ(Regular(kDataGpa, &prot), kDataGpa);
  EXPECT_EQ(prot, EPT_RWX);
  EXPECT_EQ(*static_cast<uint8_t *>(cpu_phys_ptr(kDataGpa + 100, 1)), 0U);
}

// Item 2: the guest takes a page back (CPU 0) while the PAL runs (CPU 1).
TEST_F(TrustVisorTest, APageTakenBackWhileThePalRunsLeavesThePalAtOnce) {
  ASSERT_EQ(Register(), TV_OK);
  hv().current = &hv().cpu1;
  Call();
  ASSERT_TRUE(InPal());
  uint64_t pal_eptp = vmcs().Get(VMCS_EPT_POINTER);
  std::memset(cpu_phys_ptr(kDataGpa, kPage), 0x5E, kPage);  // the PAL at work

  // CPU 0, the regular guest: a write to the lent DATA page.
  hv().current = &hv().cpu0;
  uint64_t saved_rip = vmcs().Get(VMCS_GUEST_RIP);
  vmcs().Set(VMCS_GUEST_PHYSICAL_ADDRESS, kDataGpa + 8);
  Exit(EXIT_EPT_VIOLATION, 0, /*write*/ 2);
  uint32_t prot = 0;
  EXPECT_EQ(Regular(kDataGpa, &prot), kDataGpa) << "the guest has its page back";
  EXPECT_EQ(prot, EPT_RWX);
  EXPECT_EQ(*static_cast<uint8_t *>(cpu_phys_ptr(kDataGpa + 8, 1)), 0U) << "scrubbed first";
  for (uint64_t gpa : {kCodeGpa, kDataGpa, kStackGpa, kParamGpa}) {
    EXPECT_EQ(View(pal_eptp, gpa, &prot), EPT_NOT_PRESENT)
        << std::hex << gpa << ": still reachable by the PAL";
  }

  // CPU 1 again: the PAL's next fetch finds nothing, and the caller gets an error.
  hv().current = &hv().cpu1;
  vmcs().Set(VMCS_EPT_POINTER, pal_eptp);
  vmcs().Set(VMCS_GUEST_RIP, saved_rip);
  vmcs().Set(VMCS_GUEST_PHYSICAL_ADDRESS, kCodeGpa + 0x14);
  Exit(EXIT_EPT_VIOLATION, 0, /*fetch*/ 4);
  EXPECT_EQ(regs.ax, TV_ERR_REVOKED);
  EXPECT_FALSE(InPal());
  // And the PAL is gone: nothing is left to unregister.
  hv().current = &hv().cpu0;
  regs.ax = TV_HC_UNREG;
  regs.cx = kEntry;
  Exit(EXIT_VMCALL);
  EXPECT_EQ(regs.ax, TV_ERR_TABLE | REG_ERR_NOT_FOUND);
}

// A revoked PAL that faults is destroyed on the way out (its pages and
// tables go back to the pool): that changes shared state, so the other CPUs
// are stopped for it as for every other exit of a PAL.
TEST_F(TrustVisorTest, ARevokedPalThatFaultsIsDestroyedWithTheOtherCpusStopped) {
  ASSERT_EQ(Register(), TV_OK);
  hv().current = &hv().cpu1;
  Call();
  ASSERT_TRUE(InPal());
  hv().current = &hv().cpu0;
  vmcs().Set(VMCS_GUEST_PHYSICAL_ADDRESS, kDataGpa + 8);
  Exit(EXIT_EPT_VIOLATION, 0, /*write*/ 2);  // the guest takes a page back

  hv().current = &hv().cpu1;
  uint64_t rounds = quiesce_rounds();
  vmcs().Set(VMCS_VM_EXIT_INTR_INFO, 0x80000307U);  // #NM: an SSE instruction, FPU off
  Exit(EXIT_EXCEPTION_OR_NMI, 0);
  EXPECT_EQ(regs.ax, TV_ERR_REVOKED);
  EXPECT_FALSE(InPal());
  EXPECT_EQ(quiesce_rounds(), rounds + 1) << "the PAL was destroyed with the other CPUs running";
  hv().current = &hv().cpu0;
  regs.ax = TV_HC_UNREG;
  regs.cx = kEntry;
  Exit(EXIT_VMCALL);
  EXPECT_EQ(regs.ax, TV_ERR_TABLE | REG_ERR_NOT_FOUND) << "destroyed";
}

TEST_F(TrustVisorTest, APageTakenBackFromAnIdlePalRevokesItWhole) {
  ASSERT_EQ(Register(), TV_OK);
  vmcs().Set(VMCS_GUEST_PHYSICAL_ADDRESS, kStackGpa);
  Exit(EXIT_EPT_VIOLATION, 0, /*write*/ 2);
  uint32_t prot = 0;
  for (uint64_t gpa : {kCodeGpa, kDataGpa, kStackGpa, kParamGpa}) {
    EXPECT_EQ(Regular(gpa, &prot), gpa);
    EXPECT_EQ(prot, EPT_RWX);
  }
}

// The review's finding 1: a return address VM entry would refuse.
TEST_F(TrustVisorTest, ANonCanonicalReturnAddressIsGeneralProtectionNotAFailedEntry) {
  ASSERT_EQ(Register(), TV_OK);
  Call(0x8000000000000000ULL);
  EXPECT_FALSE(InPal()) << "refused before the PAL runs";
  EXPECT_EQ(vmcs().Get(VMCS_VM_ENTRY_INTR_INFO), 0x80000B0DU) << "#GP, as RET there would";
  EXPECT_EQ(vmcs().Get(VMCS_GUEST_RIP), kEntry) << "never the bad address";
  EXPECT_EQ(vmcs().Get(VMCS_GUEST_RSP), kCallerRsp);
  Call(0x00007FFFFFFFF000ULL);  // the top of user space: canonical, and entered
  EXPECT_TRUE(InPal());
}

TEST_F(TrustVisorTest, AVirtual8086CallerIsGeneralProtectionAndRunsNoPal) {
  ASSERT_EQ(Register(), TV_OK);
  vmcs().Set(VMCS_GUEST_RFLAGS, 0x20246);  // VM
  Call();
  EXPECT_FALSE(InPal());
  EXPECT_EQ(vmcs().Get(VMCS_VM_ENTRY_INTR_INFO), 0x80000B0DU);
}

TEST_F(TrustVisorTest, ACallInAnotherPagingModeThanTheRegistrationsRunsNoPal) {
  ASSERT_EQ(Register(), TV_OK);
  vmcs().Set(VMCS_GUEST_CR4, 0x20 | (1ULL << 12));  // LA57: 5-level tables the PAL's are not
  Call();
  EXPECT_FALSE(InPal());
  EXPECT_EQ(vmcs().Get(VMCS_VM_ENTRY_INTR_INFO), 0x80000B0DU);
}

TEST_F(TrustVisorTest, StiBlockingOfTheCallersLastInstructionIsNotCarriedIntoThePal) {
  ASSERT_EQ(Register(), TV_OK);
  vmcs().Set(VMCS_GUEST_INTERRUPTIBILITY_INFO, 1U);  // blocking by STI
  Call();
  ASSERT_TRUE(InPal());
  EXPECT_EQ(vmcs().Get(VMCS_GUEST_INTERRUPTIBILITY_INFO) & 3U, 0U)
      << "IF is clear in the PAL: STI blocking with it would fail VM entry";
  vmcs().Set(VMCS_GUEST_INTERRUPTIBILITY_INFO, 2U);  // the PAL's last instruction a MOV SS
  PalReturns(0);
  EXPECT_EQ(vmcs().Get(VMCS_GUEST_INTERRUPTIBILITY_INFO) & 3U, 0U);
}

TEST_F(TrustVisorTest, OsFeaturesThatReachIntoAPalAreOffInside) {
  ASSERT_EQ(Register(), TV_OK);
  const uint64_t pke = 1ULL << 22, cet = 1ULL << 23, uintr = 1ULL << 25, pce = 1ULL << 8;
  vmcs().Set(VMCS_GUEST_CR4, 0x20 | pke | cet | uintr | pce);
  Call();
  ASSERT_TRUE(InPal());
  EXPECT_EQ(vmcs().Get(VMCS_GUEST_CR4) & (pke | cet | uintr | pce), 0U);
  PalReturns(0);
  EXPECT_EQ(vmcs().Get(VMCS_GUEST_CR4), 0x20 | pke | cet | uintr | pce) << "the caller's back";
}

// The review's finding 8: a PAL running on a parked CPU when the guest ends.
TEST_F(TrustVisorTest, AtTheGuestsEndEvenARunningPalIsScrubbed) {
  ASSERT_EQ(Register(), TV_OK);
  hv().current = &hv().cpu1;
  Call();
  ASSERT_TRUE(InPal());
  uint64_t pal_eptp = vmcs().Get(VMCS_EPT_POINTER);
  std::memset(cpu_phys_ptr(kDataGpa, kPage), 0x5E, kPage);  // the PAL's secret
  PalDirtiesEverything();
  struct cpu_regs pal_frame = regs;
  hv().cpu1.exit_regs = &pal_frame;  // where CPU 1, parked, keeps the PAL's registers
  hv().cpu_count = 2;
  hv().current = &hv().cpu0;
  xhv_hypapp.shutdown(&hv().cpu0);
  EXPECT_EQ(*static_cast<uint8_t *>(cpu_phys_ptr(kDataGpa, 1)), 0U) << "RAM outlives a reset";
  EXPECT_EQ(pal_frame.ax, 0U) << "and the PAL's registers with it";
  EXPECT_EQ(pal_frame.r12, 0U);
  uint32_t prot = 0;
  EXPECT_EQ(View(pal_eptp, kDataGpa, &prot), EPT_NOT_PRESENT);
  EXPECT_EQ(Regular(kDataGpa, &prot), kDataGpa);
  EXPECT_NE(hv().log.find("1 PALs scrubbed"), std::string::npos) << hv().log;
}

TEST_F(TrustVisorTest, AnInitWhileAPalRunsAbandonsTheCallAndLeavesNothingOfThePal) {
  ASSERT_EQ(Register(), TV_OK);
  hv().park_sipi_vector = 0x9A;
  Call();
  ASSERT_TRUE(InPal());
  PalDirtiesEverything();
  Exit(EXIT_INIT, 0);
  EXPECT_FALSE(InPal()) << "the regular EPT is back";
  EXPECT_EQ(vmcs().Get(VMCS_EXCEPTION_BITMAP), 0U) << "the caller's exception bitmap";
  EXPECT_EQ(regs.ax, 0U) << "the INIT state, none of the PAL's registers";
  EXPECT_EQ(regs.bx, 0U);
  EXPECT_NE(hv().log.find("its call is abandoned"), std::string::npos) << hv().log;
  // The PAL is still registered and free: the next call enters it.
  CallerState();
  Call();
  EXPECT_TRUE(InPal());
}

TEST_F(TrustVisorTest, HypercallsFromInsideAPalAreRefused) {
  ASSERT_EQ(Register(), TV_OK);
  Call();
  regs.ax = TV_HC_REG;
  Exit(EXIT_VMCALL);
  EXPECT_EQ(regs.ax, TV_ERR_IN_PAL);
}

}  // namespace
