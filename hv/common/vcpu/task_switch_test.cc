// SPDX-License-Identifier: Apache-2.0
// Task-switch exits are emulated as the SDM's "Task Switching" says, faults included.
#include "xhv/task_switch.h"

#include <cstring>

#include "gtest/gtest.h"
#include "testing/fakes/fake_cpu.h"
#include "testing/fakes/fake_hv.h"
#include "testing/fakes/fake_machine.h"
#include "testing/fakes/fake_vmcs.h"
#include "xhv/guest_mem.h"
#include "xhv/vmcs.h"
#include "xhv/vmx.h"

namespace {

using xhv_fake::cpu;
using xhv_fake::hv;
using xhv_fake::vmcs;

constexpr uint64_t kGdt = 0x10000;
constexpr uint64_t kTssA = 0x20000;  // the running task's
constexpr uint64_t kTssB = 0x21000;
constexpr uint64_t kTssSmall = 0x22000;
constexpr uint16_t kCode = 0x08, kData = 0x10, kSelA = 0x18, kSelB = 0x20, kSelSmall = 0x28,
                   kSelAbsent = 0x30, kSel16 = 0x38, kCode3 = 0x43, kData3 = 0x4B;
constexpr uint32_t kRip = 0x1000, kJmpLen = 7;

// A TSS descriptor: byte-granular limit, base, type 9 (available) or 0xB (busy), present.
uint64_t TssDesc(uint32_t base, uint32_t limit, uint32_t type, bool present = true) {
  uint32_t lo = (base << 16) | (limit & 0xFFFFU);
  uint32_t hi = (base & 0xFF000000U) | ((base >> 16) & 0xFFU) | (limit & 0xF0000U) | (type << 8) |
                (present ? 0x8000U : 0U);
  return (static_cast<uint64_t>(hi) << 32) | lo;
}

struct Tss32 {
  uint16_t link, r0;
  uint32_t esp0, ss0, esp1, ss1, esp2, ss2;
  uint32_t cr3, eip, eflags, eax, ecx, edx, ebx, esp, ebp, esi, edi;
  uint32_t es, cs, ss, ds, fs, gs, ldt;
  uint16_t trap, iomap;
};
static_assert(sizeof(Tss32) == 0x68, "32-bit TSS");

class TaskSwitchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cpu().Reset();
    vmcs().Reset();
    hv().Clear();
    xhv_fake::GuestMemory(16ULL << 20, 8ULL << 20, 1ULL << 20);
    std::memset(&regs, 0, sizeof(regs));
    const uint64_t gdt[] = {
        0,
        0x00CF9A000000FFFFULL,  // 0x08 ring-0 code
        0x00CF92000000FFFFULL,  // 0x10 ring-0 data
        TssDesc(kTssA, 0x67, 0xB),
        TssDesc(kTssB, 0x67, 0x9),
        TssDesc(kTssSmall, 0x50, 0x9),
        TssDesc(0x23000, 0x67, 0x9, false),
        TssDesc(0x24000, 0x67, 0x1),  // a 16-bit TSS
        0x00CFFA000000FFFFULL,  // 0x40 (RPL 3: 0x43) ring-3 code
        0x00CFF2000000FFFFULL,  // 0x48 (0x4B) ring-3 data
    };
    Put(kGdt, gdt, sizeof(gdt));
    Tss32 b{};
    b.eip = 0x5000;
    b.eflags = 0x2;
    b.esp = 0x9000;
    b.eax = 0x1111;
    b.ebx = 0x2222;
    b.edi = 0x3333;
    b.cs = kCode;
    b.ss = b.ds = b.es = b.fs = b.gs = kData;
    Put(kTssB, &b, sizeof(b));
    Tss32 a{};
    Put(kTssA, &a, sizeof(a));

    // Running task A, ring 0, flat, protected mode without paging.
    vmcs().Set(VMCS_GUEST_CR0, 0x31);
    vmcs().Set(VMCS_GUEST_GDTR_BASE, kGdt);
    vmcs().Set(VMCS_GUEST_GDTR_LIMIT, sizeof(gdt) - 1);
    vmcs().Set(VMCS_GUEST_LDTR_ACCESS_RIGHTS, 1U << 16);
    vmcs().Set(VMCS_GUEST_TR_SELECTOR, kSelA);
    vmcs().Set(VMCS_GUEST_TR_BASE, kTssA);
    vmcs().Set(VMCS_GUEST_TR_LIMIT, 0x67);
    vmcs().Set(VMCS_GUEST_TR_ACCESS_RIGHTS, 0x8B);
    vmcs().Set(VMCS_GUEST_CS_SELECTOR, kCode);
    vmcs().Set(VMCS_GUEST_CS_ACCESS_RIGHTS, 0xC09B);
    vmcs().Set(VMCS_GUEST_CS_LIMIT, 0xFFFFFFFF);
    vmcs().Set(VMCS_GUEST_SS_SELECTOR, kData);
    vmcs().Set(VMCS_GUEST_SS_ACCESS_RIGHTS, 0xC093);
    vmcs().Set(VMCS_GUEST_SS_LIMIT, 0xFFFFFFFF);
    vmcs().Set(VMCS_GUEST_DS_SELECTOR, kData);
    vmcs().Set(VMCS_GUEST_RIP, kRip);
    vmcs().Set(VMCS_GUEST_RSP, 0x8000);
    vmcs().Set(VMCS_GUEST_RFLAGS, 0x202);
    vmcs().Set(VMCS_GUEST_DR7, 0x455);  // L0 L1 L2 GE: locals go at a task switch
    regs.ax = 0xAAAA;
    regs.si = 0x5151;
  }

  void Put(uint64_t gpa, const void *p, uint32_t n) { ASSERT_TRUE(guest_mem_write(nullptr, gpa, p, n)); }
  Tss32 Get(uint64_t gpa) {
    Tss32 t{};
    EXPECT_TRUE(guest_mem_read(nullptr, gpa, &t, sizeof(t)));
    return t;
  }
  uint32_t DescHi(uint16_t sel) {
    uint32_t hi = 0;
    EXPECT_TRUE(guest_mem_read(nullptr, kGdt + (sel & ~7U) + 4, &hi, 4));
    return hi;
  }

  // A task-switch exit: source 0 CALL, 1 IRET, 2 JMP, 3 IDT task gate.
  void Switch(uint16_t sel, uint32_t source, uint32_t vectoring = 0, uint32_t error = 0) {
    vmcs().Set(VMCS_VM_EXIT_REASON, EXIT_TASK_SWITCH);
    vmcs().Set(VMCS_EXIT_QUALIFICATION, sel | (static_cast<uint64_t>(source) << 30));
    vmcs().Set(VMCS_VM_EXIT_INSTRUCTION_LEN, kJmpLen);
    vmcs().Set(VMCS_IDT_VECTORING_INFO, vectoring);
    vmcs().Set(VMCS_IDT_VECTORING_ERROR_CODE, error);
    vmexit_dispatch(&regs);
  }

  uint32_t Injected() { return static_cast<uint32_t>(vmcs().Get(VMCS_VM_ENTRY_INTR_INFO)); }
  uint32_t InjectedError() {
    return static_cast<uint32_t>(vmcs().Get(VMCS_VM_ENTRY_EXCEPTION_ERROR_CODE));
  }

  struct cpu_regs regs;
};

TEST_F(TaskSwitchTest, JmpToAnAvailableTssRunsTheNewTaskAndSavesTheOld) {
  Switch(kSelB, 2);
  EXPECT_EQ(Injected(), 0U);
  EXPECT_EQ(vmcs().Get(VMCS_GUEST_TR_SELECTOR), kSelB);
  EXPECT_EQ(vmcs().Get(VMCS_GUEST_TR_BASE), kTssB);
  EXPECT_EQ(vmcs().Get(VMCS_GUEST_TR_ACCESS_RIGHTS) & 0xFU, 0xBU) << "the new TSS is busy";
  EXPECT_EQ(vmcs().Get(VMCS_GUEST_RIP), 0x5000U);
  EXPECT_EQ(vmcs().Get(VMCS_GUEST_RSP), 0x9000U);
  EXPECT_EQ(regs.ax, 0x1111U);
  EXPECT_EQ(regs.bx, 0x2222U);
  EXPECT_EQ(regs.di, 0x3333U);
  EXPECT_EQ(vmcs().Get(VMCS_GUEST_CS_SELECTOR), kCode);
  EXPECT_EQ(vmcs().Get(VMCS_GUEST_SS_SELECTOR), kData);
  EXPECT_NE(vmcs().Get(VMCS_GUEST_CR0) & 8U, 0U) << "CR0.TS";
  EXPECT_EQ(vmcs().Get(VMCS_GUEST_DR7), 0x400U) << "local breakpoints end with the old task";
  EXPECT_EQ(vmcs().Get(VMCS_GUEST_RFLAGS) & (1U << 14), 0U) << "a JMP does not nest";
  Tss32 a = Get(kTssA);
  EXPECT_EQ(a.eip, kRip + kJmpLen) << "the old task resumes after its JMP";
  EXPECT_EQ(a.eflags, 0x202U);
  EXPECT_EQ(a.eax, 0xAAAAU);
  EXPECT_EQ(a.esi, 0x5151U);
  EXPECT_EQ(a.esp, 0x8000U);
  EXPECT_EQ(a.cs & 0xFFFFU, kCode);
  EXPECT_EQ((DescHi(kSelA) >> 8) & 0xFU, 0x9U) << "the old TSS is no longer busy";
  EXPECT_EQ((DescHi(kSelB) >> 8) & 0xFU, 0xBU);
}

TEST_F(TaskSwitchTest, CallLinksTheNewTaskBackAndSetsNt) {
  Switch(kSelB, 0);
  EXPECT_EQ(Injected(), 0U);
  EXPECT_EQ(Get(kTssB).link, kSelA);
  EXPECT_NE(vmcs().Get(VMCS_GUEST_RFLAGS) & (1U << 14), 0U);
  EXPECT_EQ((DescHi(kSelA) >> 8) & 0xFU, 0xBU) << "the caller stays busy";
}

TEST_F(TaskSwitchTest, IretReturnsToTheLinkedTask) {
  Switch(kSelB, 0);
  regs.ax = 0x7777;
  vmcs().Set(VMCS_GUEST_RIP, 0x5010);
  Switch(kSelA, 1);  // IRET with NT: back along the link
  EXPECT_EQ(Injected(), 0U);
  EXPECT_EQ(vmcs().Get(VMCS_GUEST_TR_SELECTOR), kSelA);
  EXPECT_EQ(vmcs().Get(VMCS_GUEST_RIP), kRip + kJmpLen);
  EXPECT_EQ(regs.ax, 0xAAAAU);
  EXPECT_EQ(vmcs().Get(VMCS_GUEST_RFLAGS), 0x202U);
  Tss32 b = Get(kTssB);
  EXPECT_EQ(b.eax, 0x7777U);
  EXPECT_EQ(b.eflags & (1U << 14), 0U) << "NT leaves with the IRET";
  EXPECT_EQ((DescHi(kSelB) >> 8) & 0xFU, 0x9U);
}

TEST_F(TaskSwitchTest, DoubleFaultThroughATaskGateGetsItsErrorCodeOnTheNewStack) {
  Switch(kSelB, 3, 0x80000B08U /*#DF, error code*/, 0);
  EXPECT_EQ(Injected(), 0U);
  EXPECT_EQ(vmcs().Get(VMCS_GUEST_RSP), 0x9000U - 4);
  uint32_t pushed = 0xFFFFFFFF;
  ASSERT_TRUE(guest_mem_read(nullptr, 0x9000 - 4, &pushed, 4));
  EXPECT_EQ(pushed, 0U);
  EXPECT_EQ(Get(kTssA).eip, kRip) << "the faulting instruction, not the next one";
  EXPECT_EQ(Get(kTssB).link, kSelA);
}

TEST_F(TaskSwitchTest, NmiThroughATaskGateBlocksNmis) {
  Switch(kSelB, 3, 0x80000202U);
  EXPECT_NE(vmcs().Get(VMCS_GUEST_INTERRUPTIBILITY_INFO) & (1U << 3), 0U);
}

TEST_F(TaskSwitchTest, JmpToABusyTssIsGeneralProtection) {
  Switch(kSelA, 2);
  EXPECT_EQ(Injected(), 0x80000B0DU);
  EXPECT_EQ(InjectedError(), kSelA);
  EXPECT_EQ(vmcs().Get(VMCS_GUEST_RIP), kRip) << "nothing switched";
}

TEST_F(TaskSwitchTest, TssWithATooSmallLimitIsInvalidTss) {
  Switch(kSelSmall, 2);
  EXPECT_EQ(Injected(), 0x80000B0AU);
  EXPECT_EQ(InjectedError(), kSelSmall);
  EXPECT_EQ(vmcs().Get(VMCS_GUEST_TR_SELECTOR), kSelA);
}

TEST_F(TaskSwitchTest, AbsentTssIsSegmentNotPresent) {
  Switch(kSelAbsent, 2);
  EXPECT_EQ(Injected(), 0x80000B0BU);
  EXPECT_EQ(InjectedError(), kSelAbsent);
}

TEST_F(TaskSwitchTest, SelectorBeyondTheGdtIsGeneralProtection) {
  Switch(0x80, 2);
  EXPECT_EQ(Injected(), 0x80000B0DU);
  EXPECT_EQ(InjectedError(), 0x80U);
}

TEST_F(TaskSwitchTest, SixteenBitTssIsInvalidTss) {
  Switch(kSel16, 2);
  EXPECT_EQ(Injected(), 0x80000B0AU);
}

TEST_F(TaskSwitchTest, CallFromUserModeToAKernelTssIsGeneralProtection) {
  vmcs().Set(VMCS_GUEST_SS_ACCESS_RIGHTS, 0xC0F3);  // CPL 3
  Switch(kSelB, 0);
  EXPECT_EQ(Injected(), 0x80000B0DU);
  EXPECT_EQ(InjectedError(), kSelB);
}

TEST_F(TaskSwitchTest, BadCodeSegmentInTheNewTaskFaultsInTheNewTask) {
  Tss32 b = Get(kTssB);
  b.cs = 0;
  Put(kTssB, &b, sizeof(b));
  Switch(kSelB, 2);
  EXPECT_EQ(Injected(), 0x80000B0AU) << "#TS(0)";
  EXPECT_EQ(InjectedError(), 0U);
  EXPECT_EQ(vmcs().Get(VMCS_GUEST_TR_SELECTOR), kSelB) << "the switch had committed";
  EXPECT_EQ(vmcs().Get(VMCS_GUEST_CS_SELECTOR), kCode) << "CS and SS stay a pair VM entry takes";
}

TEST_F(TaskSwitchTest, ReservedEflagsBitsOfTheNewTaskNeverReachTheVmcs) {
  Tss32 b = Get(kTssB);
  b.eflags = 0xFFC0802AU;  // bits 1, 3, 5, 15 and 22 up: all reserved but bit 1
  Put(kTssB, &b, sizeof(b));
  Switch(kSelB, 2);
  EXPECT_EQ(Injected(), 0U);
  EXPECT_EQ(vmcs().Get(VMCS_GUEST_RFLAGS), 0x2U) << "VM entry refuses any of the others";
}

TEST_F(TaskSwitchTest, AFaultAfterTheCommitLeavesEflagsAndSegmentsAPairVmEntryTakes) {
  Tss32 b = Get(kTssB);
  b.eflags = 0x20202U;  // into virtual-8086 mode, with an LDT selector that faults
  b.ldt = kSelB;         // a TSS descriptor is no LDT
  Put(kTssB, &b, sizeof(b));
  Switch(kSelB, 2);
  EXPECT_EQ(Injected(), 0x80000B0AU) << "#TS";
  EXPECT_NE(vmcs().Get(VMCS_GUEST_RFLAGS) & (1U << 17), 0U);
  EXPECT_EQ(vmcs().Get(VMCS_GUEST_CS_ACCESS_RIGHTS), 0xF3U) << "VM = 1 with V86 segments";
  // And the other way: a bad CS keeps the old task's flags with its CS and SS.
  SetUp();
  b = Get(kTssB);
  b.cs = 0;
  b.eflags = 0x3202U;  // IOPL 3: visible if it were loaded
  Put(kTssB, &b, sizeof(b));
  Switch(kSelB, 2);
  EXPECT_EQ(Injected(), 0x80000B0AU);
  EXPECT_EQ(vmcs().Get(VMCS_GUEST_CS_ACCESS_RIGHTS), 0xC09BU);
  EXPECT_EQ(vmcs().Get(VMCS_GUEST_RFLAGS) & ~(1U << 16), 0x202U) << "the old task's, RF aside";
}

TEST_F(TaskSwitchTest, PdpteBitsAboveMaxphyaddrAreReservedToo) {
  cpu().cpuid[{0x80000008U, 0}] = {36, 0, 0, 0};  // MAXPHYADDR 36
  // PAE paging, the low 16 MiB mapped to itself with 2 MiB pages.
  const uint64_t pdpt[4] = {0x31001, 0, 0, 0};
  Put(0x30000, pdpt, sizeof(pdpt));
  for (uint64_t i = 0; i < 8; i++) {
    const uint64_t pde = (i << 21) | 0x83;  // present, writable, 2 MiB
    Put(0x31000 + 8 * i, &pde, sizeof(pde));
  }
  vmcs().Set(VMCS_GUEST_CR0, 0x80000031);
  vmcs().Set(VMCS_GUEST_CR4, 0x20);
  vmcs().Set(VMCS_GUEST_CR3, 0x30000);
  vmcs().Set(VMCS_GUEST_PDPTE0, 0x31001);
  const uint64_t pdpte[4] = {0x31001ULL | (1ULL << 40), 0, 0, 0};  // bit 40 >= MAXPHYADDR
  Put(0x32000, pdpte, sizeof(pdpte));
  Tss32 b = Get(kTssB);
  b.cr3 = 0x32000;
  Put(kTssB, &b, sizeof(b));
  Switch(kSelB, 2);
  EXPECT_EQ(Injected(), 0x80000B0DU) << "#GP, not a VM entry that fails on the PDPTE";
}

TEST_F(TaskSwitchTest, StackSegmentOfAnotherPrivilegeIsInvalidTss) {
  Tss32 b = Get(kTssB);
  b.ss = kData3;
  Put(kTssB, &b, sizeof(b));
  Switch(kSelB, 2);
  EXPECT_EQ(Injected(), 0x80000B0AU);
  EXPECT_EQ(InjectedError(), kData3 & ~3U);
}

TEST_F(TaskSwitchTest, IntoARing3TaskLoadsRing3Segments) {
  Tss32 b = Get(kTssB);
  b.cs = kCode3;
  b.ss = b.ds = b.es = kData3;
  b.fs = b.gs = 0;
  Put(kTssB, &b, sizeof(b));
  Switch(kSelB, 2);
  EXPECT_EQ(Injected(), 0U);
  EXPECT_EQ(vmcs().Get(VMCS_GUEST_CS_SELECTOR), kCode3);
  EXPECT_EQ((vmcs().Get(VMCS_GUEST_SS_ACCESS_RIGHTS) >> 5) & 3U, 3U) << "CPL 3";
  EXPECT_NE(vmcs().Get(VMCS_GUEST_FS_ACCESS_RIGHTS) & (1U << 16), 0U) << "null FS: unusable";
}

}  // namespace
