// SPDX-License-Identifier: Apache-2.0
// Exit dispatch on a fake VMCS: what each common exit does to the guest, and
// how much VMCS traffic it costs.
#include "xhv/vmx.h"

#include <cstring>
#include <string>

#include "gtest/gtest.h"
#include "testing/fakes/fake_cpu.h"
#include "testing/fakes/fake_hv.h"
#include "testing/fakes/fake_vmcs.h"
#include "xhv/guest_nmi.h"
#include "xhv/vmcs.h"
#include "xhv/vmx_caps.h"

namespace {

using xhv_fake::cpu;
using xhv_fake::hv;
using xhv_fake::vmcs;

constexpr uint64_t kRip = 0x1000;
// Budget for the exits a booting Linux guest takes most often.
constexpr unsigned kMaxReads = 10;
constexpr unsigned kMaxWrites = 6;

class VmexitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cpu().Reset();
    vmcs().Reset();
    hv().Clear();
    std::memset(&regs, 0, sizeof(regs));
    vmcs().Set(VMCS_GUEST_RIP, kRip);
    vmcs().Set(VMCS_PROC_BASED_CONTROLS, VMX_PROC_USE_MSR_BITMAPS);
  }

  // Runs one exit of `reason` whose instruction is `len` bytes long.
  void Exit(uint32_t reason, uint32_t len = 3, uint64_t qualification = 0) {
    vmcs().Set(VMCS_VM_EXIT_REASON, reason);
    vmcs().Set(VMCS_VM_EXIT_INSTRUCTION_LEN, len);
    vmcs().Set(VMCS_EXIT_QUALIFICATION, qualification);
    vmcs().ResetCounters();
    vmexit_dispatch(&regs);
  }

  uint64_t Rip() const { return vmcs().Get(VMCS_GUEST_RIP); }

  struct cpu_regs regs;
};

TEST_F(VmexitTest, CpuidHidesVmxAndX2apicAndAnnouncesAHypervisor) {
  cpu().cpuid[{1, 0}] = {0x206A7, 0, (1U << 5) | (1U << 21) | (1U << 0), 0};
  regs.ax = 1;
  Exit(EXIT_CPUID, 2);
  EXPECT_EQ(regs.cx & (1U << 5), 0U);
  EXPECT_EQ(regs.cx & (1U << 21), 0U);
  EXPECT_NE(regs.cx & (1U << 31), 0U);
  EXPECT_NE(regs.cx & 1U, 0U) << "unrelated feature bits pass through";
  EXPECT_EQ(Rip(), kRip + 2);
  EXPECT_LE(vmcs().reads, kMaxReads);
  EXPECT_LE(vmcs().writes, kMaxWrites);
}

TEST_F(VmexitTest, CpuidHypervisorLeafCarriesTheSignature) {
  regs.ax = 0x40000000U;
  Exit(EXIT_CPUID, 2);
  char sig[13] = {};
  uint32_t words[3] = {static_cast<uint32_t>(regs.bx), static_cast<uint32_t>(regs.cx),
                       static_cast<uint32_t>(regs.dx)};
  std::memcpy(sig, words, 12);
  EXPECT_STREQ(sig, "XhvXhvXhvXhv");
  EXPECT_EQ(regs.ax, 0x40000001U);
}

TEST_F(VmexitTest, UnknownHypercallReturnsAnErrorAndSkipsTheVmcall) {
  regs.ax = 0x1234;
  Exit(EXIT_VMCALL, 3);
  EXPECT_EQ(regs.ax, static_cast<uword_t>(-1));
  EXPECT_EQ(Rip(), kRip + 3);
  EXPECT_LE(vmcs().reads, kMaxReads);
  EXPECT_LE(vmcs().writes, kMaxWrites);
}

TEST_F(VmexitTest, Cr0WriteSetsShadowAndKeepsOwnedBits) {
  vmcs().Set(VMCS_CR0_GUEST_HOST_MASK, 1U << 5);  // NE
  vmcs().Set(VMCS_GUEST_CR0, 0x80000011U);        // PG PE ET (+ NE forced)
  regs.ax = 0x80000031U;                           // the guest sets NE itself
  Exit(EXIT_CR_ACCESS, 3, /*cr0, mov to, rax*/ 0);
  EXPECT_EQ(vmcs().Get(VMCS_CR0_READ_SHADOW), 0x80000031U);
  EXPECT_EQ(vmcs().Get(VMCS_GUEST_CR0), 0x80000031U);
  EXPECT_EQ(Rip(), kRip + 3);
  EXPECT_LE(vmcs().reads, kMaxReads);
  EXPECT_LE(vmcs().writes, kMaxWrites);
}

TEST_F(VmexitTest, Cr0WriteThatTogglesPagingIsRetriedNatively) {
  vmcs().Set(VMCS_CR0_GUEST_HOST_MASK, 1U << 5);
  vmcs().Set(VMCS_GUEST_CR0, 0x30U);  // PE off, NE on
  regs.cx = 0x80000031U | 1U;         // PG + PE in one write
  Exit(EXIT_CR_ACCESS, 3, /*cr0, mov to, rcx*/ 1U << 8);
  EXPECT_EQ(vmcs().Get(VMCS_GUEST_CR0) & 0x80000001U, 0U) << "PG/PE left to the retry";
  EXPECT_EQ(vmcs().Get(VMCS_CR0_READ_SHADOW), 0x80000031U | 1U);
  EXPECT_EQ(Rip(), kRip) << "the MOV runs again";
}

TEST_F(VmexitTest, Cr4WriteOfVmxeInjectsGeneralProtection) {
  vmcs().Set(VMCS_CR4_GUEST_HOST_MASK, 1U << 13);
  regs.ax = 1U << 13;
  Exit(EXIT_CR_ACCESS, 3, /*cr4, mov to, rax*/ 4);
  EXPECT_EQ(vmcs().Get(VMCS_VM_ENTRY_INTR_INFO), 0x80000B0DU);
  EXPECT_EQ(Rip(), kRip);
}

TEST_F(VmexitTest, VmxCapabilityMsrReadInjectsGeneralProtection) {
  regs.cx = 0x480;
  Exit(EXIT_RDMSR, 2);
  EXPECT_EQ(vmcs().Get(VMCS_VM_ENTRY_INTR_INFO), 0x80000B0DU);
  EXPECT_EQ(Rip(), kRip);
}

TEST_F(VmexitTest, MsrExitInjectsGeneralProtectionWithoutSkipping) {
  regs.cx = 0x4B564D00U;
  Exit(EXIT_RDMSR, 2);
  EXPECT_EQ(vmcs().Get(VMCS_VM_ENTRY_INTR_INFO), 0x80000B0DU);
  EXPECT_EQ(Rip(), kRip);
  EXPECT_LE(vmcs().reads, kMaxReads);
  EXPECT_LE(vmcs().writes, kMaxWrites);
}

TEST_F(VmexitTest, GuestVmxInstructionsAreInvalidOpcodes) {
  Exit(EXIT_VMXON, 4);
  EXPECT_EQ(vmcs().Get(VMCS_VM_ENTRY_INTR_INFO), 0x80000306U);
}

TEST_F(VmexitTest, CpuidHidesMonitorMwaitAndTheirUseIsAnInvalidOpcode) {
  cpu().cpuid[{1, 0}] = {0x206A7, 0, (1U << 3) | 1U, 0};
  regs.ax = 1;
  Exit(EXIT_CPUID, 2);
  EXPECT_EQ(regs.cx & (1U << 3), 0U);
  for (uint32_t reason : {EXIT_MWAIT, EXIT_MONITOR}) {
    vmcs().Set(VMCS_VM_ENTRY_INTR_INFO, 0);
    vmcs().Set(VMCS_GUEST_RIP, kRip);
    Exit(reason, 3);
    EXPECT_EQ(vmcs().Get(VMCS_VM_ENTRY_INTR_INFO), 0x80000306U) << "reason " << reason;
    EXPECT_EQ(Rip(), kRip) << "a fault does not advance RIP";
  }
}

TEST_F(VmexitTest, XsetbvWithReservedBitsInjectsGeneralProtection) {
  cpu().cpuid[{0xD, 0}] = {0x7, 0, 0, 0};
  regs.ax = 0x1 | 0x4;  // AVX without SSE
  Exit(EXIT_XSETBV, 3);
  EXPECT_EQ(vmcs().Get(VMCS_VM_ENTRY_INTR_INFO), 0x80000B0DU);
}

TEST_F(VmexitTest, GuestReadOfHypervisorMemoryGetsABlankPage) {
  hv().hidden_base = 0x200000;
  hv().hidden_size = 0x100000;
  vmcs().Set(VMCS_GUEST_PHYSICAL_ADDRESS, 0x200004);
  Exit(EXIT_EPT_VIOLATION, 0, /*read*/ 1);
  ASSERT_EQ(hv().blank_pages.size(), 1U);
  EXPECT_EQ(hv().blank_pages[0], 0x200004U);
  EXPECT_EQ(Rip(), kRip);
  EXPECT_NE(hv().log.find("hypervisor memory at 0x200004"), std::string::npos);
}

TEST_F(VmexitTest, PowerOffWritePrintsExitCountsAndReachesTheHardware) {
  hv().cpu0.exit_count[EXIT_CPUID] = 41;
  regs.ax = 0x2001;  // SLP_EN | SLP_TYP 0
  Exit(EXIT_IO, 2, (0xB004ULL << 16) | 1U /*2 bytes, out*/);
  EXPECT_NE(hv().log.find("vmx-exits: cpu=0 reason=10 name=\"CPUID\" count=41"),
            std::string::npos)
      << hv().log;
  ASSERT_EQ(cpu().port_writes.size(), 1U);
  EXPECT_EQ(cpu().port_writes[0].port, 0xB004);
  EXPECT_EQ(cpu().port_writes[0].value, 0x2001U);
  EXPECT_EQ(Rip(), kRip + 2);
}

TEST_F(VmexitTest, InterceptedPortReadReturnsTheHardwareValue) {
  cpu().port_reads[0xB004] = {0x1234};
  regs.ax = 0xFFFF0000U;
  Exit(EXIT_IO, 2, (0xB004ULL << 16) | 8U | 1U /*2 bytes, in*/);
  EXPECT_EQ(regs.ax, 0xFFFF1234U);
}

constexpr uint32_t kNmiInfo = 0x80000202U;  // valid, type NMI, vector 2

TEST_F(VmexitTest, GuestNmiExitIsOwedAndArmsTheNmiWindow) {
  int unblocks = 0;
  cpu().nmi_unblock_hook = [&] { unblocks++; };
  vmcs().Set(VMCS_VM_EXIT_INTR_INFO, kNmiInfo);
  Exit(EXIT_EXCEPTION_OR_NMI, 0);
  EXPECT_EQ(hv().cpu0.guest_nmi_owed, 1U);
  EXPECT_EQ(unblocks, 1) << "the exit left host NMIs blocked";
  EXPECT_NE(vmcs().Get(VMCS_PROC_BASED_CONTROLS) & VMX_PROC_NMI_WINDOW_EXITING, 0U);
  EXPECT_EQ(vmcs().Get(VMCS_VM_ENTRY_INTR_INFO), 0U) << "not injected before the window";
  EXPECT_EQ(Rip(), kRip);
  EXPECT_LE(vmcs().reads, kMaxReads);
  EXPECT_LE(vmcs().writes, kMaxWrites);
}

TEST_F(VmexitTest, NmiWindowInjectsOneOwedNmiAndStopsWhenNoneIsLeft) {
  hv().cpu0.guest_nmi_owed = 2;
  vmcs().Set(VMCS_PROC_BASED_CONTROLS, VMX_PROC_NMI_WINDOW_EXITING);
  Exit(EXIT_NMI_WINDOW, 0);
  EXPECT_EQ(vmcs().Get(VMCS_VM_ENTRY_INTR_INFO), kNmiInfo);
  EXPECT_EQ(hv().cpu0.guest_nmi_owed, 1U);
  EXPECT_NE(vmcs().Get(VMCS_PROC_BASED_CONTROLS) & VMX_PROC_NMI_WINDOW_EXITING, 0U)
      << "one more is owed: the next window delivers it";
  vmcs().Set(VMCS_VM_ENTRY_INTR_INFO, 0);
  Exit(EXIT_NMI_WINDOW, 0);
  EXPECT_EQ(vmcs().Get(VMCS_VM_ENTRY_INTR_INFO), kNmiInfo);
  EXPECT_EQ(hv().cpu0.guest_nmi_owed, 0U);
  EXPECT_EQ(vmcs().Get(VMCS_PROC_BASED_CONTROLS) & VMX_PROC_NMI_WINDOW_EXITING, 0U);
}

TEST_F(VmexitTest, AtMostTwoNmisAreOwedAsTheHardwareKeepsOnePending) {
  for (int i = 0; i < 3; i++) {
    guest_nmi_note(&hv().cpu0);
  }
  EXPECT_EQ(hv().cpu0.guest_nmi_owed, 2U);
  EXPECT_EQ(hv().cpu0.guest_nmis, 2U);
  EXPECT_EQ(hv().cpu0.guest_nmis_merged, 1U);
}

TEST_F(VmexitTest, HostNmiOutsideAnExitHandlerArmsTheWindowItself) {
  hv().cpu0.launched = true;
  xhv_nmi_host(&hv().cpu0);
  EXPECT_EQ(hv().cpu0.guest_nmi_owed, 1U);
  EXPECT_NE(vmcs().Get(VMCS_PROC_BASED_CONTROLS) & VMX_PROC_NMI_WINDOW_EXITING, 0U);
}

TEST_F(VmexitTest, HostNmiInsideAnExitHandlerLeavesTheVmcsToTheHandler) {
  hv().cpu0.launched = true;
  hv().cpu0.in_exit = 1;
  vmcs().ResetCounters();
  xhv_nmi_host(&hv().cpu0);
  EXPECT_EQ(hv().cpu0.guest_nmi_owed, 1U);
  EXPECT_EQ(vmcs().reads + vmcs().writes, 0U);
}

TEST_F(VmexitTest, HostNmiBeforeTheGuestStartsIsDropped) {
  xhv_nmi_host(&hv().cpu0);
  EXPECT_EQ(hv().cpu0.guest_nmi_owed, 0U);
  EXPECT_EQ(hv().cpu0.guest_nmis_merged, 1U);
}

TEST_F(VmexitTest, EveryHandledReasonHasAName) {
  for (uint32_t r = 0; r < EXIT_REASON_COUNT; r++) {
    if (vmexit_table[r].handler != nullptr) {
      ASSERT_NE(vmexit_table[r].name, nullptr) << "reason " << r;
    }
  }
}

TEST_F(VmexitTest, ExitsALinuxGuestCausesAllHaveHandlers) {
  for (uint32_t r : {EXIT_EXCEPTION_OR_NMI, EXIT_TRIPLE_FAULT, EXIT_NMI_WINDOW, EXIT_CPUID,
                     EXIT_INVD, EXIT_VMCALL, EXIT_CR_ACCESS, EXIT_IO, EXIT_RDMSR, EXIT_WRMSR,
                     EXIT_EPT_VIOLATION, EXIT_XSETBV, EXIT_MWAIT, EXIT_MONITOR}) {
    EXPECT_NE(vmexit_table[r].handler, nullptr) << "reason " << r;
  }
}

using VmexitDeathTest = VmexitTest;

TEST_F(VmexitDeathTest, UnexpectedExitDumpsStateAndHalts) {
  EXPECT_DEATH(Exit(EXIT_EXTERNAL_INTERRUPT), "halted for good");
}

TEST_F(VmexitDeathTest, ExitReasonBeyondTheTableDumpsStateAndHalts) {
  EXPECT_DEATH(Exit(EXIT_REASON_COUNT + 3), "halted for good");
}

TEST_F(VmexitDeathTest, FailedVmEntryDumpsStateAndHalts) {
  EXPECT_DEATH(Exit((1U << 31) | EXIT_ENTRY_FAIL_GUEST_STATE), "halted for good");
}

}  // namespace
