// SPDX-License-Identifier: Apache-2.0
// Exit dispatch on a fake VMCS: what each common exit does to the guest, and
// how much VMCS traffic it costs.
#include "xhv/vmx.h"

#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "testing/fakes/fake_cpu.h"
#include "testing/fakes/fake_hv.h"
#include "testing/fakes/fake_machine.h"
#include "testing/fakes/fake_vmcs.h"
#include "xhv/guest.h"
#include "xhv/guest_bios.h"
#include "xhv/guest_ept.h"
#include "xhv/guest_io.h"
#include "xhv/guest_mem.h"
#include "xhv/guest_nmi.h"
#include "xhv/heap.h"
#include "xhv/vmcs.h"
#include "xhv/vmx_caps.h"

namespace {

using xhv_fake::cpu;
using xhv_fake::hv;
using xhv_fake::vmcs;

constexpr uint64_t kRip = 0x1000;
constexpr uint64_t kRam = 16ULL << 20;
constexpr uint64_t kHidden = 8ULL << 20;  // the hypervisor's range inside the guest's RAM
constexpr uint64_t kHiddenSize = 1ULL << 20;
// Budget for the exits a booting Linux guest takes most often.
constexpr unsigned kMaxReads = 10;
constexpr unsigned kMaxWrites = 6;

class VmexitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cpu().Reset();
    vmcs().Reset();
    hv().Clear();
    xhv_fake::GuestMemory(kRam, kHidden, kHiddenSize);
    const struct acpi_s5 none = {0, 0, 0, 0};
    guest_io_watch_sleep(&none);
    std::memset(&regs, 0, sizeof(regs));
    vmcs().Set(VMCS_GUEST_RIP, kRip);
    vmcs().Set(VMCS_PROC_BASED_CONTROLS, VMX_PROC_USE_MSR_BITMAPS);
    vmcs().Set(VMCS_GUEST_CR0, 0x80000031U);  // protected mode, paging
    hv().caps.cr4_fixed1 = 0x627FFU;         // Sandy Bridge in Bochs
  }

  // The machine's PM1a control block at 0xB004, S5 as SLP_TYP 0 (Bochs' DSDT).
  void WatchPm1() {
    const struct acpi_s5 s5 = {0xB004, 0, 0, 0};
    guest_io_watch_sleep(&s5);
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

TEST_F(VmexitTest, CpuidSaysWhereTheHypervisorsImageSits) {
  struct mtrr_state mtrr;
  std::memset(&mtrr, 0, sizeof(mtrr));
  mtrr.def_type = MTRR_DEF_TYPE_E | MTRR_TYPE_WB;
  guest_ept_init(1ULL << 32, &mtrr, 0, 0, 0x13FE00000ULL, 0x7C000);
  regs.ax = 0x40000001U;
  Exit(EXIT_CPUID, 2);
  EXPECT_EQ(regs.ax, 0x3FE00000U);
  EXPECT_EQ(regs.bx, 0x1U);
  EXPECT_EQ(regs.cx, 0x7C000U);
  EXPECT_EQ(regs.dx, 0U);
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
  vmcs().Set(VMCS_GUEST_CR4, 1U << 18);  // OSXSAVE
  regs.ax = 0x1 | 0x4;  // AVX without SSE
  Exit(EXIT_XSETBV, 3);
  EXPECT_EQ(vmcs().Get(VMCS_VM_ENTRY_INTR_INFO), 0x80000B0DU);
}

TEST_F(VmexitTest, GuestReadOfHypervisorMemoryGetsAReadOnlyZeroPage) {
  vmcs().Set(VMCS_GUEST_PHYSICAL_ADDRESS, kHidden + 4);
  Exit(EXIT_EPT_VIOLATION, 0, /*read*/ 1);
  uint32_t prot = 0;
  uint64_t hpa = ept_lookup(guest_ept(), kHidden, &prot, nullptr, nullptr);
  EXPECT_NE(hpa, kHidden) << "never the hypervisor's own page";
  EXPECT_NE(hpa, EPT_NOT_PRESENT);
  EXPECT_EQ(prot, EPT_READ) << "read-only: no write ever lands in it";
  EXPECT_EQ(Rip(), kRip);
  EXPECT_EQ(vmcs().Get(VMCS_VM_ENTRY_INTR_INFO), 0U) << "the read just runs again";
  EXPECT_NE(hv().log.find("hypervisor memory at 0x800004"), std::string::npos) << hv().log;
}

TEST_F(VmexitTest, PowerOffWritePrintsExitCountsAndReachesTheHardware) {
  WatchPm1();
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
  EXPECT_EQ(vmcs().writes, 0U) << "the handler owns the VMCS";
  EXPECT_LE(vmcs().reads, 2U) << "the guest's NMI blocking, read only";
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


// ---- guest-physical accesses: one checked accessor (items 1 and 10) ----

constexpr uint64_t kLent = 0x300000;  // a page a hypapp lent: its zero page, read-only

void LendPage(uint64_t gpa) {
  uint64_t zero;
  heap_alloc_pages(1, 1, &zero);
  guest_ept_map_page(gpa, zero, EPT_READ, MTRR_TYPE_WB);
}

TEST_F(VmexitTest, AccessorRefusesHiddenLentAndNonRamFrames) {
  LendPage(kLent);
  uint8_t buf[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  EXPECT_TRUE(guest_mem_write(nullptr, 0x5000, buf, sizeof(buf)));
  EXPECT_FALSE(guest_mem_write(nullptr, kHidden, buf, sizeof(buf))) << "hypervisor memory";
  EXPECT_FALSE(guest_mem_read(nullptr, kHidden + kHiddenSize - 4, buf, 8)) << "crossing into it";
  EXPECT_FALSE(guest_mem_write(nullptr, kLent + 8, buf, sizeof(buf))) << "a lent page";
  EXPECT_FALSE(guest_mem_read(nullptr, kRam + 0x1000, buf, sizeof(buf))) << "beyond RAM (MMIO)";
  EXPECT_FALSE(guest_mem_read(nullptr, 0xFEE00000ULL, buf, 4)) << "the local APIC";
  EXPECT_FALSE(guest_mem_write(nullptr, kRam - 4, buf, sizeof(buf))) << "RAM's last bytes and past";
  uint8_t back[8] = {};
  EXPECT_TRUE(guest_mem_read(nullptr, 0x5000, back, sizeof(back)));
  EXPECT_EQ(std::memcmp(buf, back, sizeof(buf)), 0);
}

// Above the i386 image's 4 GiB (here: [4 MiB, 8 MiB) of the fake) there is
// no identity map: each page of an access is mapped, copied and unmapped in
// turn through the CPU's one temporary mapping.
TEST_F(VmexitTest, GuestMemoryBeyondTheIdentityMapIsReachedOnePageAtATime) {
  cpu().high_start = 0x400000;
  cpu().high_end = 0x800000;
  std::vector<uint8_t> data(0x2010);
  for (size_t i = 0; i < data.size(); i++) {
    data[i] = static_cast<uint8_t>(i * 7 + 1);
  }
  constexpr uint64_t kGpa = 0x400FF0;  // three pages: 0x10 bytes, then two whole ones
  ASSERT_TRUE(guest_mem_write(nullptr, kGpa, data.data(), static_cast<uint32_t>(data.size())));
  EXPECT_FALSE(cpu().window_mapped) << "every mapping ended";
  EXPECT_EQ(std::memcmp(&cpu().phys[kGpa], data.data(), data.size()), 0) << "in RAM, not a copy";
  int maps = cpu().window_maps;
  EXPECT_EQ(maps, 3) << "one mapping per page copied";
  std::vector<uint8_t> back(data.size());
  ASSERT_TRUE(guest_mem_read(nullptr, kGpa, back.data(), static_cast<uint32_t>(back.size())));
  EXPECT_EQ(back, data);
  ASSERT_TRUE(guest_mem_fill(nullptr, kGpa + 0x10, 0, 0x1000));
  EXPECT_EQ(cpu().phys[kGpa + 0x10], 0U);
  EXPECT_EQ(cpu().phys[kGpa + 0x100F], 0U);
  EXPECT_EQ(cpu().phys[kGpa + 0x1010], data[0x1010]) << "the fill stops at its end";

  uint8_t across[16] = {9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9};
  EXPECT_TRUE(guest_mem_write(nullptr, 0x3FFFF8, across, sizeof(across)))
      << "from the identity map into the window";
  EXPECT_EQ(cpu().phys[0x3FFFF8], 9U);
  EXPECT_EQ(cpu().phys[0x400007], 9U);

  LendPage(0x500000);
  maps = cpu().window_maps;
  std::memset(&cpu().phys[0x501000], 0x5A, 16);
  EXPECT_FALSE(guest_mem_write(nullptr, 0x500FF8, across, sizeof(across))) << "half on a lent page";
  EXPECT_EQ(cpu().phys[0x501000], 0x5AU) << "all or nothing";
  EXPECT_EQ(cpu().window_maps, maps) << "a refused page is never mapped";
  EXPECT_FALSE(cpu().window_mapped);
}

// The real-mode INT 15h E820 call through the hook stub, with the segment
// bases the guest left cached (unreal mode): ES:DI is where it wants its entry.
class E820HookTest : public VmexitTest {
 protected:
  void SetUp() override {
    VmexitTest::SetUp();
    map.count = 2;
    map.entry[0] = {0, 0x9F000, E820_TYPE_USABLE};
    map.entry[1] = {0x100000, 0x700000, E820_TYPE_USABLE};
    guest_bios_install_e820(&map);
    vmcs().Set(VMCS_GUEST_CR0, 0x30U);  // PE = 0
    vmcs().Set(VMCS_GUEST_CS_BASE, 0x400);
    vmcs().Set(VMCS_GUEST_RIP, 0xAC);
    vmcs().Set(VMCS_GUEST_SS_BASE, 0x7000);
    vmcs().Set(VMCS_GUEST_RSP, 0xFF0);
    uint16_t frame[3] = {0x1234, 0, 0x0203};  // IP, CS, FLAGS the INT pushed
    ASSERT_TRUE(guest_mem_write(nullptr, 0x7FF0, frame, sizeof(frame)));
    regs.ax = 0xE820;
    regs.dx = 0x534D4150;
    regs.bx = 0;
    regs.cx = 20;
    regs.di = 0;
  }
  uint16_t Flags() {
    uint16_t f = 0;
    EXPECT_TRUE(guest_mem_read(nullptr, 0x7FF4, &f, sizeof(f)));
    return f;
  }
  struct e820_map map {};
};

TEST_F(E820HookTest, AnEntryGoesToTheCallersBufferInGuestRam) {
  vmcs().Set(VMCS_GUEST_ES_BASE, 0x6000);
  Exit(EXIT_VMCALL, 3);
  uint64_t entry[2] = {};
  ASSERT_TRUE(guest_mem_read(nullptr, 0x6000, entry, sizeof(entry)));
  EXPECT_EQ(entry[1], 0x9F000U);
  EXPECT_EQ(regs.ax, 0x534D4150U);
  EXPECT_EQ(regs.bx, 1U);
  EXPECT_EQ(Flags() & 1U, 0U);
}

TEST_F(E820HookTest, UnrealModeBufferInHypervisorMemoryIsRefused) {
  // The hypervisor's own bytes there, as the hook would have overwritten them.
  std::memset(&cpu().phys[kHidden], 0xA5, 64);
  vmcs().Set(VMCS_GUEST_ES_BASE, kHidden);  // a 32-bit base cached from protected mode
  Exit(EXIT_VMCALL, 3);
  for (int i = 0; i < 64; i++) {
    ASSERT_EQ(cpu().phys[kHidden + i], 0xA5) << "byte " << i << " of hypervisor memory written";
  }
  EXPECT_EQ(Flags() & 1U, 1U) << "the call fails as a BIOS fails one: CF";
  EXPECT_EQ((regs.ax >> 8) & 0xFFU, 0x86U);
  EXPECT_EQ(Rip(), 0xACU + 3) << "the IRET after the VMCALL returns to the caller";
}

TEST_F(E820HookTest, BufferOnALentPageIsRefused) {
  LendPage(kLent);
  vmcs().Set(VMCS_GUEST_ES_BASE, kLent);
  Exit(EXIT_VMCALL, 3);
  EXPECT_EQ(Flags() & 1U, 1U);
}

TEST_F(E820HookTest, IretFrameInHypervisorMemoryGetsGeneralProtection) {
  vmcs().Set(VMCS_GUEST_ES_BASE, 0x6000);
  vmcs().Set(VMCS_GUEST_SS_BASE, kHidden);
  std::memset(&cpu().phys[kHidden], 0xA5, 0x10000);
  Exit(EXIT_VMCALL, 3);
  EXPECT_EQ(cpu().phys[kHidden + 0xFF4], 0xA5);
  EXPECT_EQ(vmcs().Get(VMCS_VM_ENTRY_INTR_INFO), 0x8000030DU) << "#GP, no error code in real mode";
}

// ---- the hypervisor's UART is its own (item 5) ----

TEST_F(VmexitTest, GuestWritesToTheHypervisorsUartAreDroppedAndCounted) {
  uint32_t before = guest_io_uart_writes_dropped();
  regs.ax = 'X';
  Exit(EXIT_IO, 1, (0x3F8ULL << 16) | 0U /*1 byte, out*/);
  EXPECT_TRUE(cpu().port_writes.empty()) << "nothing reaches COM1";
  EXPECT_EQ(guest_io_uart_writes_dropped(), before + 1);
  EXPECT_EQ(Rip(), kRip + 1);
  regs.ax = 0;
  Exit(EXIT_IO, 1, (0x3FDULL << 16) | 8U /*1 byte, in*/);
  EXPECT_EQ(regs.ax & 0xFFU, 0xFFU) << "no UART there for the guest";
}

TEST_F(VmexitTest, GuestRepOutsbToTheUartIsDroppedOneElementPerExit) {
  vmcs().Set(VMCS_GUEST_CR0, 0x31U);  // protected mode, no paging: linear = physical
  vmcs().Set(VMCS_VM_EXIT_INSTRUCTION_INFO, 1U << 7);  // 32-bit addresses
  vmcs().Set(VMCS_GUEST_LINEAR_ADDRESS, 0x5000);
  regs.si = 0x5000;
  regs.cx = 3;
  uint32_t before = guest_io_uart_writes_dropped();
  Exit(EXIT_IO, 2, (0x3F8ULL << 16) | 0x10U | 0x20U /*1 byte, out, string, rep*/);
  EXPECT_TRUE(cpu().port_writes.empty());
  EXPECT_EQ(guest_io_uart_writes_dropped(), before + 1);
  EXPECT_EQ(regs.si, 0x5001U);
  EXPECT_EQ(regs.cx, 2U);
  EXPECT_EQ(Rip(), kRip) << "more to do: the OUTS runs (and exits) again";
}

// ---- guest-triggerable halts become architectural faults (item 6) ----

TEST_F(VmexitTest, MovToCr0FromRspIsEmulated) {
  vmcs().Set(VMCS_CR0_GUEST_HOST_MASK, 1U << 5);
  vmcs().Set(VMCS_GUEST_CR0, 0x80000031U);
  vmcs().Set(VMCS_GUEST_RSP, 0x80000011U);  // the guest clears NE, from RSP
  Exit(EXIT_CR_ACCESS, 3, /*cr0, mov to, rsp*/ 4U << 8);
  EXPECT_EQ(vmcs().Get(VMCS_CR0_READ_SHADOW), 0x80000011U);
  EXPECT_EQ(Rip(), kRip + 3);
}

TEST_F(VmexitTest, MovToCr4FromRspWithVmxeIsGeneralProtection) {
  vmcs().Set(VMCS_CR4_GUEST_HOST_MASK, 1U << 13);
  vmcs().Set(VMCS_GUEST_RSP, 1U << 13);
  Exit(EXIT_CR_ACCESS, 3, /*cr4, mov to, rsp*/ (4U << 8) | 4U);
  EXPECT_EQ(vmcs().Get(VMCS_VM_ENTRY_INTR_INFO), 0x80000B0DU);
}

TEST_F(VmexitTest, Cr0HighBitsAreGeneralProtectionNotAVmcsValue) {
  vmcs().Set(VMCS_CR0_GUEST_HOST_MASK, 1U << 5);
  vmcs().Set(VMCS_GUEST_CR0, 0x80000031U);
  regs.ax = (1ULL << 32) | 0x80000011U;
  Exit(EXIT_CR_ACCESS, 3, 0);
  EXPECT_EQ(vmcs().Get(VMCS_VM_ENTRY_INTR_INFO), 0x80000B0DU);
  EXPECT_EQ(vmcs().Get(VMCS_GUEST_CR0), 0x80000031U) << "unchanged";
  EXPECT_EQ(Rip(), kRip);
}

TEST_F(VmexitTest, Cr4ReservedBitsAreGeneralProtection) {
  vmcs().Set(VMCS_CR4_GUEST_HOST_MASK, 1U << 13);
  regs.ax = (1U << 13) | (1U << 23);  // a bit CR4_FIXED1 does not allow
  Exit(EXIT_CR_ACCESS, 3, 4);
  EXPECT_EQ(vmcs().Get(VMCS_VM_ENTRY_INTR_INFO), 0x80000B0DU);
  EXPECT_EQ(vmcs().Get(VMCS_GUEST_CR4), 0U);
}

TEST_F(VmexitTest, XsetbvBreakingTheAvx512GroupRuleIsGeneralProtection) {
  cpu().cpuid[{0xD, 0}] = {0xE7, 0, 0, 0};  // x87 SSE AVX + the three AVX-512 components
  vmcs().Set(VMCS_GUEST_CR4, 1U << 18);
  regs.ax = 0x7 | 0x20;  // opmask without ZMM_Hi256 and Hi16_ZMM
  Exit(EXIT_XSETBV, 3);
  EXPECT_EQ(vmcs().Get(VMCS_VM_ENTRY_INTR_INFO), 0x80000B0DU);
  EXPECT_EQ(Rip(), kRip);
}

TEST_F(VmexitTest, XsetbvBreakingTheAmxPairRuleIsGeneralProtection) {
  cpu().cpuid[{0xD, 0}] = {0x60007, 0, 0, 0};
  vmcs().Set(VMCS_GUEST_CR4, 1U << 18);
  regs.ax = 0x7 | (1U << 17);  // TILECFG without TILEDATA
  Exit(EXIT_XSETBV, 3);
  EXPECT_EQ(vmcs().Get(VMCS_VM_ENTRY_INTR_INFO), 0x80000B0DU);
}

TEST_F(VmexitTest, FetchFromHypervisorMemoryIsGeneralProtection) {
  vmcs().Set(VMCS_GUEST_PHYSICAL_ADDRESS, kHidden);
  Exit(EXIT_EPT_VIOLATION, 0, /*fetch*/ 4);
  EXPECT_EQ(vmcs().Get(VMCS_VM_ENTRY_INTR_INFO), 0x80000B0DU);
  EXPECT_EQ(ept_lookup(guest_ept(), kHidden, nullptr, nullptr, nullptr), EPT_NOT_PRESENT);
}

TEST_F(VmexitTest, WriteToHypervisorMemoryIsGeneralProtectionAndLandsNowhere) {
  vmcs().Set(VMCS_GUEST_PHYSICAL_ADDRESS, kHidden);
  Exit(EXIT_EPT_VIOLATION, 0, /*read*/ 1);  // now the zero page is there, read-only
  vmcs().Set(VMCS_VM_ENTRY_INTR_INFO, 0);
  Exit(EXIT_EPT_VIOLATION, 0, /*write*/ 2);
  EXPECT_EQ(vmcs().Get(VMCS_VM_ENTRY_INTR_INFO), 0x80000B0DU);
  uint32_t prot = 0;
  ept_lookup(guest_ept(), kHidden, &prot, nullptr, nullptr);
  EXPECT_EQ(prot, EPT_READ);
}

TEST_F(VmexitTest, AccessBeyondTheGuestsMemoryIsGeneralProtection) {
  vmcs().Set(VMCS_GUEST_PHYSICAL_ADDRESS, 1ULL << 40);
  Exit(EXIT_EPT_VIOLATION, 0, /*write*/ 2);
  EXPECT_EQ(vmcs().Get(VMCS_VM_ENTRY_INTR_INFO), 0x80000B0DU);
}

TEST_F(VmexitTest, ApicBaseWritesThatMoveDisableOrX2apicAreGeneralProtection) {
  cpu().msrs[0x1B] = 0xFEE00900ULL;
  for (uint64_t value : {0xFEE00D00ULL /*x2APIC*/, 0xFED00900ULL /*moved*/,
                         0xFEE00100ULL /*disabled*/}) {
    vmcs().Set(VMCS_VM_ENTRY_INTR_INFO, 0);
    regs.cx = 0x1B;
    regs.ax = static_cast<uint32_t>(value);
    regs.dx = 0;
    Exit(EXIT_WRMSR, 2);
    EXPECT_EQ(vmcs().Get(VMCS_VM_ENTRY_INTR_INFO), 0x80000B0DU) << std::hex << value;
    EXPECT_EQ(cpu().msrs[0x1B], 0xFEE00900ULL);
  }
  regs.ax = 0xFEE00900U;  // the same value: harmless, and done
  vmcs().Set(VMCS_VM_ENTRY_INTR_INFO, 0);
  Exit(EXIT_WRMSR, 2);
  EXPECT_EQ(vmcs().Get(VMCS_VM_ENTRY_INTR_INFO), 0U);
  EXPECT_EQ(Rip(), kRip + 2);
}

TEST_F(VmexitTest, MtrrWritesAreDroppedSoHostMemoryTypesStay) {
  cpu().msrs[0x2FF] = 0xC06;
  regs.cx = 0x2FF;
  regs.ax = 0x000;  // MTRRs off, default UC: what the hypervisor's accesses would get
  Exit(EXIT_WRMSR, 2);
  EXPECT_EQ(cpu().msrs[0x2FF], 0xC06U);
  EXPECT_EQ(vmcs().Get(VMCS_VM_ENTRY_INTR_INFO), 0U);
  EXPECT_EQ(Rip(), kRip + 2);
}

TEST_F(VmexitTest, GetsecIsAnInvalidOpcode) {
  Exit(EXIT_GETSEC, 3);
  EXPECT_EQ(vmcs().Get(VMCS_VM_ENTRY_INTR_INFO), 0x80000306U);
}

TEST_F(VmexitTest, CpuidHidesSmxAndIntelPt) {
  cpu().cpuid[{1, 0}] = {0x206A7, 0, 1U << 6, 0};
  cpu().cpuid[{7, 0}] = {0, 1U << 25, 0, 0};
  regs.ax = 1;
  Exit(EXIT_CPUID, 2);
  EXPECT_EQ(regs.cx & (1U << 6), 0U);
  regs.ax = 7;
  regs.cx = 0;
  Exit(EXIT_CPUID, 2);
  EXPECT_EQ(regs.bx & (1U << 25), 0U);
}

// ---- events cut short by an exit are delivered again (item 8) ----

TEST_F(VmexitTest, InterruptWhoseDeliveryHitHiddenMemoryIsDeliveredAgain) {
  vmcs().Set(VMCS_GUEST_PHYSICAL_ADDRESS, kHidden);
  vmcs().Set(VMCS_IDT_VECTORING_INFO, 0x80000030U);  // external interrupt 0x30
  Exit(EXIT_EPT_VIOLATION, 0, /*read*/ 1);
  EXPECT_EQ(vmcs().Get(VMCS_VM_ENTRY_INTR_INFO), 0x80000030U);
}

TEST_F(VmexitTest, SoftwareInterruptIsRedeliveredWithItsInstructionLength) {
  vmcs().Set(VMCS_GUEST_PHYSICAL_ADDRESS, kHidden);
  vmcs().Set(VMCS_IDT_VECTORING_INFO, 0x80000480U);  // INT 0x80
  Exit(EXIT_EPT_VIOLATION, 2, /*read*/ 1);
  EXPECT_EQ(vmcs().Get(VMCS_VM_ENTRY_INTR_INFO), 0x80000480U);
  EXPECT_EQ(vmcs().Get(VMCS_VM_ENTRY_INSTRUCTION_LEN), 2U);
}

TEST_F(VmexitTest, ExceptionWithErrorCodeIsRedeliveredWithIt) {
  vmcs().Set(VMCS_GUEST_PHYSICAL_ADDRESS, kHidden);
  vmcs().Set(VMCS_IDT_VECTORING_INFO, 0x80000B0EU);  // #PF with error code
  vmcs().Set(VMCS_IDT_VECTORING_ERROR_CODE, 6);
  Exit(EXIT_EPT_VIOLATION, 0, /*read*/ 1);
  EXPECT_EQ(vmcs().Get(VMCS_VM_ENTRY_INTR_INFO), 0x80000B0EU);
  EXPECT_EQ(vmcs().Get(VMCS_VM_ENTRY_EXCEPTION_ERROR_CODE), 6U);
}

TEST_F(VmexitTest, NmiWhoseDeliveryWasCutShortComesBackUnblocked) {
  vmcs().Set(VMCS_GUEST_PHYSICAL_ADDRESS, kHidden);
  vmcs().Set(VMCS_IDT_VECTORING_INFO, 0x80000202U);
  vmcs().Set(VMCS_GUEST_INTERRUPTIBILITY_INFO, 1U << 3);
  Exit(EXIT_EPT_VIOLATION, 0, /*read*/ 1);
  EXPECT_EQ(vmcs().Get(VMCS_VM_ENTRY_INTR_INFO), 0x80000202U);
  EXPECT_EQ(vmcs().Get(VMCS_GUEST_INTERRUPTIBILITY_INFO) & (1U << 3), 0U);
}

TEST_F(VmexitTest, FaultDuringDeliveryOfAPageFaultBecomesADoubleFault) {
  vmcs().Set(VMCS_GUEST_PHYSICAL_ADDRESS, kHidden);
  vmcs().Set(VMCS_IDT_VECTORING_INFO, 0x80000B0EU);
  Exit(EXIT_EPT_VIOLATION, 0, /*write*/ 2);  // the #PF's frame lands on hypervisor memory
  EXPECT_EQ(vmcs().Get(VMCS_VM_ENTRY_INTR_INFO), 0x80000B08U);
  EXPECT_EQ(vmcs().Get(VMCS_VM_ENTRY_EXCEPTION_ERROR_CODE), 0U);
}

TEST_F(VmexitTest, IretThatUnblockedNmisAndFaultedGetsTheBlockingBack) {
  vmcs().Set(VMCS_GUEST_PHYSICAL_ADDRESS, kHidden);
  Exit(EXIT_EPT_VIOLATION, 0, (1U << 12) | 1U);
  EXPECT_NE(vmcs().Get(VMCS_GUEST_INTERRUPTIBILITY_INFO) & (1U << 3), 0U);
}

// ---- power-off is seen whatever the write (item 9) ----

TEST_F(VmexitTest, PowerOffByTheHighByteOfPm1ControlIsSeen) {
  WatchPm1();
  regs.ax = 0x20;  // SLP_EN is bit 5 of the high byte
  Exit(EXIT_IO, 2, (0xB005ULL << 16) | 0U /*1 byte, out*/);
  EXPECT_NE(hv().log.find("guest enters ACPI sleep"), std::string::npos) << hv().log;
  EXPECT_NE(hv().log.find("nmi: cpu=0"), std::string::npos);
  ASSERT_EQ(cpu().port_writes.size(), 1U);
  EXPECT_EQ(cpu().port_writes[0], (xhv_fake::PortWrite{0xB005, 0x20, 1}));
}

TEST_F(VmexitTest, PowerOffByADwordCoveringPm1ControlIsSeen) {
  WatchPm1();
  regs.ax = 0x20000000U;  // bytes B002..B005: SLP_EN in the last one
  Exit(EXIT_IO, 2, (0xB002ULL << 16) | 3U /*4 bytes, out*/);
  EXPECT_NE(hv().log.find("guest enters ACPI sleep"), std::string::npos) << hv().log;
}

TEST_F(VmexitTest, Pm1WriteWithoutSleepEnableIsNoPowerOff) {
  WatchPm1();
  regs.ax = 0x0001;
  Exit(EXIT_IO, 2, (0xB004ULL << 16) | 1U);
  EXPECT_EQ(hv().log.find("guest enters ACPI sleep"), std::string::npos);
}

// ---- injected faults carry RF, as the hardware's do (item 13) ----

TEST_F(VmexitTest, InjectedFaultsSetResumeFlag) {
  vmcs().Set(VMCS_GUEST_RFLAGS, 0x202);
  guest_inject_exception(13, true, 0);
  EXPECT_EQ(vmcs().Get(VMCS_GUEST_RFLAGS), 0x10202U);
  vmcs().Set(VMCS_GUEST_RFLAGS, 0x202);
  vmcs().Set(VMCS_VM_ENTRY_INTR_INFO, 0);
  Exit(EXIT_VMXON, 4);  // #UD
  EXPECT_EQ(vmcs().Get(VMCS_GUEST_RFLAGS), 0x10202U);
}

TEST_F(VmexitTest, InjectedTrapsAndAbortsLeaveResumeFlag) {
  for (uint32_t vector : {1U, 3U, 4U, 8U, 18U}) {
    vmcs().Set(VMCS_GUEST_RFLAGS, 0x202);
    vmcs().Set(VMCS_VM_ENTRY_INTR_INFO, 0);
    guest_inject_exception(vector, vector == 8U, 0);
    EXPECT_EQ(vmcs().Get(VMCS_GUEST_RFLAGS), 0x202U) << vector;
  }
}

TEST_F(VmexitTest, RealModeInjectionPushesNoErrorCode) {
  vmcs().Set(VMCS_GUEST_CR0, 0x30U);
  guest_inject_exception(13, true, 0);
  EXPECT_EQ(vmcs().Get(VMCS_VM_ENTRY_INTR_INFO), 0x8000030DU);
}

// ---- NMIs counted against the guest's own blocking (item 15) ----

// Virtual-NMI blocking, as the CPU sets it when it delivers an injected NMI
// and clears it at the guest's IRET.
void DeliverInjectedNmi() {
  if (vmcs().Get(VMCS_VM_ENTRY_INTR_INFO) == kNmiInfo) {
    vmcs().Set(VMCS_VM_ENTRY_INTR_INFO, 0);
    vmcs().Set(VMCS_GUEST_INTERRUPTIBILITY_INFO, 1U << 3);
  }
}

TEST_F(VmexitTest, NmiHandlerThatSendsItselfTenNmisRunsExactlyTwice) {
  hv().cpu0.launched = true;
  cpu().nmi_unblock_hook = [] {};
  int runs = 0;
  vmcs().Set(VMCS_VM_EXIT_INTR_INFO, kNmiInfo);
  Exit(EXIT_EXCEPTION_OR_NMI, 0);  // the first NMI
  for (int round = 0; round < 4; round++) {
    if (vmcs().Get(VMCS_PROC_BASED_CONTROLS) & VMX_PROC_NMI_WINDOW_EXITING) {
      if (vmcs().Get(VMCS_GUEST_INTERRUPTIBILITY_INFO) & (1U << 3)) {
        vmcs().Set(VMCS_GUEST_INTERRUPTIBILITY_INFO, 0);  // the handler IRETs: the window opens
      }
      Exit(EXIT_NMI_WINDOW, 0);
    }
    if (vmcs().Get(VMCS_VM_ENTRY_INTR_INFO) == kNmiInfo) {
      DeliverInjectedNmi();
      runs++;
      if (runs == 1) {
        for (int i = 0; i < 10; i++) {  // the handler sends itself ten NMIs
          vmcs().Set(VMCS_VM_EXIT_INTR_INFO, kNmiInfo);
          Exit(EXIT_EXCEPTION_OR_NMI, 0);
        }
      }
    }
  }
  EXPECT_EQ(runs, 2);
  EXPECT_EQ(hv().cpu0.guest_nmis_injected, 2U);
  EXPECT_EQ(hv().cpu0.guest_nmis, 2U);
  EXPECT_EQ(hv().cpu0.guest_nmis_merged, 9U);
  EXPECT_EQ(hv().cpu0.guest_nmi_owed, 0U);
}

TEST_F(VmexitTest, TwoNmisBeforeTheGuestRunsAreBothOwed) {
  guest_nmi_note(&hv().cpu0);
  guest_nmi_note(&hv().cpu0);
  guest_nmi_note(&hv().cpu0);
  EXPECT_EQ(hv().cpu0.guest_nmi_owed, 2U) << "one delivered, one latched behind it";
  EXPECT_EQ(hv().cpu0.guest_nmis_merged, 1U);
}

TEST_F(VmexitTest, OnlyOneNmiIsOwedWhileOneIsQueuedForDelivery) {
  vmcs().Set(VMCS_VM_ENTRY_INTR_INFO, kNmiInfo);
  guest_nmi_note(&hv().cpu0);
  guest_nmi_note(&hv().cpu0);
  EXPECT_EQ(hv().cpu0.guest_nmi_owed, 1U);
  EXPECT_EQ(hv().cpu0.guest_nmis_merged, 1U);
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

// ---- HLT, and CPUs the guest takes offline and online again ----

TEST_F(VmexitTest, HltWithInterruptsOnHaltsInTheGuest) {
  hv().cpu_count = 2;
  vmcs().Set(VMCS_GUEST_RFLAGS, 0x202);
  vmcs().Set(VMCS_GUEST_INTERRUPTIBILITY_INFO, 1U);  // sti; hlt
  Exit(EXIT_HLT, 1);
  EXPECT_EQ(vmcs().Get(VMCS_GUEST_ACTIVITY_STATE), ACTIVITY_HLT);
  EXPECT_EQ(Rip(), kRip + 1);
  EXPECT_EQ(vmcs().Get(VMCS_GUEST_INTERRUPTIBILITY_INFO) & 3U, 0U) << "HLT state forbids it";
  EXPECT_EQ(hv().parks, 0);
}

TEST_F(VmexitTest, HltWithTheTrapFlagLeavesItsSingleStepPending) {
  hv().cpu_count = 2;
  vmcs().Set(VMCS_GUEST_RFLAGS, 0x302);  // popf with TF and IF, then hlt
  Exit(EXIT_HLT, 1);
  EXPECT_EQ(vmcs().Get(VMCS_GUEST_ACTIVITY_STATE), ACTIVITY_HLT);
  EXPECT_NE(vmcs().Get(VMCS_GUEST_PENDING_DBG_EXCEPTIONS) & (1U << 14), 0U)
      << "BS: what VM entry requires with TF and the HLT state";
}

TEST_F(VmexitTest, HltWithInterruptsOffParksTheCpuUntilItsStartUpIpi) {
  hv().cpu_count = 2;
  hv().park_sipi_vector = 0x9A;
  hv().cpu0.guest_nmi_owed = 1;  // owed to the context that parked: not to the new one
  vmcs().Set(VMCS_GUEST_RFLAGS, 0x2);
  regs.ax = 0x1234;
  Exit(EXIT_HLT, 1);
  EXPECT_EQ(hv().parks, 1);
  ASSERT_EQ(hv().resets.size(), 1U);
  EXPECT_EQ(hv().resets[0].cs, 0x9A00) << "real mode at the vector, as after INIT-SIPI";
  EXPECT_EQ(hv().resets[0].activity, ACTIVITY_ACTIVE);
  EXPECT_EQ(regs.ax, 0U);
  EXPECT_EQ(hv().cpu0.guest_nmi_owed, 0U);
  EXPECT_EQ(hv().cpu0.guest_nmis_merged, 1U) << "dropped, and counted so";
  EXPECT_NE(hv().log.find("starts again"), std::string::npos) << hv().log;
}

TEST_F(VmexitTest, AnNmiWakesAParkedCpuAfterItsHltAsOnHardware) {
  hv().cpu_count = 2;
  vmcs().Set(VMCS_GUEST_RFLAGS, 0x2);
  Exit(EXIT_HLT, 1);
  EXPECT_EQ(hv().parks, 1);
  EXPECT_TRUE(hv().park_wake_on_nmi);
  EXPECT_TRUE(hv().resets.empty());
  EXPECT_EQ(Rip(), kRip + 1) << "the NMI handler returns past the HLT";
  EXPECT_EQ(hv().cpu0.guest_nmi_owed, 1U) << "still owed: injected at the NMI window";
}

TEST_F(VmexitTest, AnInitToARunningCpuIsNoHaltButAWaitForItsStartUpIpi) {
  hv().cpu_count = 2;
  hv().park_sipi_vector = 0x10;
  Exit(EXIT_INIT, 0);
  EXPECT_EQ(cpu().halts, 0);
  ASSERT_EQ(hv().resets.size(), 2U) << "the INIT state, then the SIPI's";
  EXPECT_EQ(hv().resets[1].cs, 0x1000);
  EXPECT_FALSE(hv().park_wake_on_nmi) << "only the SIPI ends a wait after INIT";
  EXPECT_EQ(hv().cpu0.guest_nmi_owed, 0U) << "an NMI that came meanwhile is dropped";
  EXPECT_EQ(hv().cpu0.guest_nmis_merged, 1U);
}

// ---- the guest's resets: PALs scrubbed (hypapp shutdown), then the machine reset ----

class ResetTest : public VmexitTest {
 protected:
  void SetUp() override {
    VmexitTest::SetUp();
    cpu().halt_report = [] {
      return hv().log + "\ncaches written back " + std::to_string(cpu().wbinvds) +
             " time(s), after " + std::to_string(cpu().port_writes_at_wbinvd) + " port writes";
    };
  }
  // A byte OUT of `value` to `port`.
  void Out(uint16_t port, uint32_t value) {
    regs.ax = value;
    Exit(EXIT_IO, 1, (static_cast<uint64_t>(port) << 16) | 0U /*1 byte, out*/);
  }
};

// What every reset path ends in: the summary the shutdown prints, then each
// reset register a PC has, then the halt (the fake machine does not reset).
constexpr char kResetWrites[] = "port writes: 0xcf9<-0xa 0xcf9<-0xe 0x64<-0xfe 0x92<-0x1";

TEST_F(ResetTest, ATripleFaultResetsTheMachineAfterTheShutdown) {
  EXPECT_DEATH(Exit(EXIT_TRIPLE_FAULT), kResetWrites);
  EXPECT_DEATH(Exit(EXIT_TRIPLE_FAULT), "guest resets the machine \\(triple fault\\)");
  EXPECT_DEATH(Exit(EXIT_TRIPLE_FAULT), "quiesce: rounds=");
  // The scrub's zeros reach memory before the reset drops the caches.
  EXPECT_DEATH(Exit(EXIT_TRIPLE_FAULT), "caches written back 1 time\\(s\\), after 0 port writes");
}

TEST_F(ResetTest, EveryResetRegisterWriteResetsTheMachine) {
  EXPECT_DEATH(Out(0xCF9, 0x06), "reset control register 0xcf9");
  EXPECT_DEATH(Out(0x64, 0xFE), "keyboard controller reset pulse");
  EXPECT_DEATH(Out(0x64, 0xF0), "keyboard controller reset pulse");
  EXPECT_DEATH(Out(0x92, 0x03), "fast reset, port 0x92");
  const struct acpi_reset r = {0xB2, 0x42};
  guest_io_watch_reset(&r);
  EXPECT_DEATH(Out(0xB2, 0x42), "ACPI reset register");
}

TEST_F(ResetTest, WritesThatDoNotResetPassThrough) {
  Out(0xCF9, 0x02);  // SYS_RST without RST_CPU: only arms the next one
  Out(0x64, 0xD1);   // write output port...
  Out(0x60, 0xDF);   // ...with the reset line (bit 0) high: A20 and friends
  Out(0x64, 0xFF);   // a pulse of no line
  Out(0x92, 0x02);   // the A20 gate, bit 0 clear
  regs.ax = 0x80000000U;
  Exit(EXIT_IO, 1, (0xCF8ULL << 16) | 3U /*4 bytes, out: PCI config address, not 0xCF9*/);
  ASSERT_EQ(cpu().port_writes.size(), 6U);
  EXPECT_EQ(cpu().port_writes[0], (xhv_fake::PortWrite{0xCF9, 0x02, 1}));
  EXPECT_EQ(cpu().port_writes[5], (xhv_fake::PortWrite{0xCF8, 0x80000000U, 4}));
  EXPECT_EQ(hv().log.find("resets the machine"), std::string::npos) << hv().log;
}

TEST_F(ResetTest, TheKeyboardControllersOutputPortWithTheResetLineLowResets) {
  Out(0x64, 0xD1);
  EXPECT_DEATH(Out(0x60, 0xFE), "keyboard controller output port, reset line low");
}

TEST_F(ResetTest, AWideWriteIsCheckedByteByByte) {
  regs.ax = 0xFE00U;  // word at 0x63: 0x00 to 0x63, 0xFE to the command port 0x64
  EXPECT_DEATH(Exit(EXIT_IO, 1, (0x63ULL << 16) | 1U /*2 bytes, out*/),
               "keyboard controller reset pulse");
  regs.ax = 0x0100U;  // word at 0x91: bit 0 of 0x92 set
  EXPECT_DEATH(Exit(EXIT_IO, 1, (0x91ULL << 16) | 1U), "fast reset, port 0x92");
}

// ---- sleep: S5 ends the guest, the others would wake without the hypervisor ----

TEST_F(VmexitTest, SleepStatesOtherThanPowerOffAreRefused) {
  const struct acpi_s5 s5 = {0xB004, 0, 5, 0};  // \_S5 is SLP_TYP 5 on this machine
  guest_io_watch_sleep(&s5);
  regs.ax = 0x2000U | (1U << 10);  // SLP_EN, SLP_TYP 1 (S3, say)
  Exit(EXIT_IO, 2, (0xB004ULL << 16) | 1U);
  EXPECT_TRUE(cpu().port_writes.empty()) << "dropped";
  EXPECT_NE(hv().log.find("refused"), std::string::npos) << hv().log;
  EXPECT_EQ(Rip(), kRip + 2) << "the guest goes on, awake";
  regs.ax = 0x2000U | (5U << 10);
  Exit(EXIT_IO, 2, (0xB004ULL << 16) | 1U);
  ASSERT_EQ(cpu().port_writes.size(), 1U);
  EXPECT_NE(hv().log.find("guest enters ACPI sleep"), std::string::npos) << hv().log;
}

TEST_F(VmexitTest, ThePm1bBlockIsWatchedToo) {
  const struct acpi_s5 s5 = {0xB004, 0xB104, 0, 0};
  guest_io_watch_sleep(&s5);
  regs.ax = 0x2000U | (3U << 10);
  Exit(EXIT_IO, 2, (0xB104ULL << 16) | 1U);
  EXPECT_TRUE(cpu().port_writes.empty());
  EXPECT_NE(hv().log.find("PM1 control 0xb104"), std::string::npos) << hv().log;
}

}  // namespace
