// SPDX-License-Identifier: Apache-2.0
// The VMCS field table, the width-checked accessors and the fake VMCS they are tested against.
#include "xhv/vmcs.h"

#include <cstdarg>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "testing/fakes/fake_cpu.h"
#include "testing/fakes/fake_vmcs.h"

namespace {

using xhv_fake::vmcs;

struct TableEntry {
  uint32_t encoding;
  const char *name;
};

const std::vector<TableEntry> &Table() {
  static const std::vector<TableEntry> table = {
#define VMCS_FIELD(name, encoding) {(encoding), "VMCS_" #name},
#include "xhv/vmcs_fields.def"
  };
  return table;
}

class VmcsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    xhv_fake::cpu().Reset();
    vmcs().Reset();
  }
};

// --- The field table ----------------------------------------------------------

TEST(VmcsFieldTable, HasTheFieldsOfALinuxBootingEptHypervisor) {
  EXPECT_GE(Table().size(), 100U);
  EXPECT_LE(Table().size(), 170U);
}

TEST(VmcsFieldTable, EveryFieldHasItsEnumeratorAsUniqueName) {
  std::set<std::string> names;
  for (const TableEntry &f : Table()) {
    const char *name = vmcs_field_name(f.encoding);
    ASSERT_NE(name, nullptr) << std::hex << f.encoding;
    EXPECT_STRNE(name, "");
    EXPECT_STREQ(name, f.name);
    EXPECT_TRUE(names.insert(name).second) << "duplicate name " << name;
  }
}

TEST(VmcsFieldTable, EncodingsAreUniqueFullAccessEncodings) {
  std::set<uint32_t> seen;
  for (const TableEntry &f : Table()) {
    EXPECT_TRUE(seen.insert(f.encoding).second) << f.name;
    EXPECT_EQ(f.encoding & 1U, 0U) << f.name;
    EXPECT_EQ(f.encoding & ~0x6FFEU, 0U) << f.name << " sets reserved bits";
  }
}

TEST(VmcsFieldTable, EnumeratorsAreTheEncodings) {
  EXPECT_EQ(VMCS_GUEST_RIP, 0x681EU);
  EXPECT_EQ(VMCS_LINK_POINTER, 0x2800U);
  EXPECT_EQ(VMCS_VM_EXIT_REASON, 0x4402U);
  EXPECT_EQ(VMCS_GUEST_CS_SELECTOR, 0x0802U);
  EXPECT_EQ(VMCS_EPT_POINTER, 0x201AU);
  EXPECT_EQ(VMCS_PROC_BASED_CONTROLS2, 0x401EU);
}

TEST(VmcsFieldTable, WidthTypeAndReadOnlyComeFromTheEncoding) {
  EXPECT_EQ(vmcs_encoding_width(VMCS_GUEST_RIP), VMCS_WIDTH_NATURAL);
  EXPECT_EQ(vmcs_encoding_type(VMCS_GUEST_RIP), VMCS_TYPE_GUEST);
  EXPECT_FALSE(vmcs_encoding_is_read_only(VMCS_GUEST_RIP));

  EXPECT_EQ(vmcs_encoding_width(VMCS_LINK_POINTER), VMCS_WIDTH_64);
  EXPECT_FALSE(vmcs_encoding_is_read_only(VMCS_LINK_POINTER));

  EXPECT_EQ(vmcs_encoding_width(VMCS_VM_EXIT_REASON), VMCS_WIDTH_32);
  EXPECT_EQ(vmcs_encoding_type(VMCS_VM_EXIT_REASON), VMCS_TYPE_EXIT_INFO);
  EXPECT_TRUE(vmcs_encoding_is_read_only(VMCS_VM_EXIT_REASON));

  EXPECT_EQ(vmcs_encoding_width(VMCS_GUEST_CS_SELECTOR), VMCS_WIDTH_16);
  EXPECT_EQ(vmcs_encoding_width(VMCS_GUEST_PHYSICAL_ADDRESS), VMCS_WIDTH_64);
  EXPECT_TRUE(vmcs_encoding_is_read_only(VMCS_GUEST_PHYSICAL_ADDRESS));
  EXPECT_TRUE(vmcs_encoding_is_read_only(VMCS_EXIT_QUALIFICATION));
  EXPECT_EQ(vmcs_encoding_type(VMCS_HOST_RIP), VMCS_TYPE_HOST);
  EXPECT_EQ(vmcs_encoding_type(VMCS_PIN_BASED_CONTROLS), VMCS_TYPE_CONTROL);
}

TEST(VmcsFieldTable, OnlySixtyFourBitFieldsHaveAHighAccess) {
  EXPECT_TRUE(vmcs_encoding_is_high(VMCS_EPT_POINTER + 1U));
  EXPECT_EQ(vmcs_encoding_width(VMCS_EPT_POINTER + 1U), VMCS_WIDTH_64);
  EXPECT_FALSE(vmcs_encoding_is_high(VMCS_EPT_POINTER));
  EXPECT_FALSE(vmcs_encoding_is_high(VMCS_GUEST_RIP + 1U));
  EXPECT_FALSE(vmcs_encoding_is_high(VMCS_VM_EXIT_REASON + 1U));
}

TEST(VmcsFieldTable, EncodingsOutsideTheTableHaveNoName) {
  EXPECT_EQ(vmcs_field_name(0x4830U), nullptr);
  EXPECT_EQ(vmcs_field_name(VMCS_EPT_POINTER + 1U), nullptr);
}

TEST(VmcsFieldTable, WidthNames) {
  EXPECT_STREQ(vmcs_width_name(VMCS_WIDTH_16), "16-bit");
  EXPECT_STREQ(vmcs_width_name(VMCS_WIDTH_32), "32-bit");
  EXPECT_STREQ(vmcs_width_name(VMCS_WIDTH_64), "64-bit");
  EXPECT_STREQ(vmcs_width_name(VMCS_WIDTH_NATURAL), "natural-width");
}

TEST(VmxInstructionError, NamesAreTheSdmTexts) {
  EXPECT_STREQ(vmx_instruction_error_name(7U), "VM entry with invalid control field(s)");
  EXPECT_STREQ(vmx_instruction_error_name(12U),
               "VMREAD/VMWRITE from/to unsupported VMCS component");
  EXPECT_STREQ(vmx_instruction_error_name(13U), "VMWRITE to read-only VMCS component");
  EXPECT_STREQ(vmx_instruction_error_name(28U), "invalid operand to INVEPT/INVVPID");
}

TEST(VmxInstructionError, UndefinedNumbersAreUnknown) {
  EXPECT_STREQ(vmx_instruction_error_name(0U), "unknown VM-instruction error");
  EXPECT_STREQ(vmx_instruction_error_name(14U), "unknown VM-instruction error");
  EXPECT_STREQ(vmx_instruction_error_name(29U), "unknown VM-instruction error");
  EXPECT_STREQ(vmx_instruction_error_name(0xFFFFFFFFU), "unknown VM-instruction error");
}

// --- Accessors: round trips -------------------------------------------------

TEST_F(VmcsTest, Write16ThenRead16RoundTrips) {
  vmcs_write16(VMCS_GUEST_CS_SELECTOR, 0xF000U);
  EXPECT_EQ(vmcs().Get(VMCS_GUEST_CS_SELECTOR), 0xF000U);
  EXPECT_EQ(vmcs_read16(VMCS_GUEST_CS_SELECTOR), 0xF000U);
}

TEST_F(VmcsTest, Write32ThenRead32RoundTrips) {
  vmcs_write32(VMCS_GUEST_CS_ACCESS_RIGHTS, 0x9BU);
  EXPECT_EQ(vmcs_read32(VMCS_GUEST_CS_ACCESS_RIGHTS), 0x9BU);
}

TEST_F(VmcsTest, Write64ThenRead64RoundTripsInOneAccessOnX86_64) {
  vmcs_write64(VMCS_LINK_POINTER, 0xFFFFFFFFFFFFFFFFULL);
  vmcs_write64(VMCS_EPT_POINTER, 0x123456789ABCD01EULL);
  EXPECT_EQ(vmcs().Get(VMCS_EPT_POINTER), 0x123456789ABCD01EULL);
  EXPECT_EQ(vmcs_read64(VMCS_EPT_POINTER), 0x123456789ABCD01EULL);
  EXPECT_EQ(vmcs_read64(VMCS_LINK_POINTER), 0xFFFFFFFFFFFFFFFFULL);
  EXPECT_EQ(vmcs().writes, 2U);
  EXPECT_EQ(vmcs().reads, 2U);
  EXPECT_EQ(vmcs().reads_by_field.count(VMCS_EPT_POINTER + 1U), 0U);
}

TEST_F(VmcsTest, WriteNaturalThenReadNaturalRoundTrips) {
  vmcs_writenw(VMCS_GUEST_RIP, static_cast<uword_t>(0xFFFFFFFF81000000ULL));
  EXPECT_EQ(vmcs_readnw(VMCS_GUEST_RIP), static_cast<uword_t>(0xFFFFFFFF81000000ULL));
}

TEST_F(VmcsTest, ReadsSeeWhatTheCpuStored) {
  vmcs().Set(VMCS_VM_EXIT_REASON, 30U);
  vmcs().Set(VMCS_EXIT_QUALIFICATION, 0x03F80008U);
  vmcs().Set(VMCS_GUEST_PHYSICAL_ADDRESS, 0xFEE00300ULL);
  EXPECT_EQ(vmcs_read32(VMCS_VM_EXIT_REASON), 30U);
  EXPECT_EQ(vmcs_readnw(VMCS_EXIT_QUALIFICATION), 0x03F80008U);
  EXPECT_EQ(vmcs_read64(VMCS_GUEST_PHYSICAL_ADDRESS), 0xFEE00300ULL);
}

TEST_F(VmcsTest, EachAccessorIsOneVmcsAccess) {
  vmcs_write16(VMCS_VIRTUAL_PROCESSOR_ID, 1U);
  vmcs_write32(VMCS_EXCEPTION_BITMAP, 0U);
  vmcs_writenw(VMCS_GUEST_RSP, 0x7000U);
  (void)vmcs_read16(VMCS_VIRTUAL_PROCESSOR_ID);
  (void)vmcs_read32(VMCS_EXCEPTION_BITMAP);
  (void)vmcs_readnw(VMCS_GUEST_RSP);
  EXPECT_EQ(vmcs().writes, 3U);
  EXPECT_EQ(vmcs().reads, 3U);
  EXPECT_EQ(vmcs().reads_by_field[VMCS_GUEST_RSP], 1U);
  EXPECT_EQ(vmcs().writes_by_field[VMCS_EXCEPTION_BITMAP], 1U);
}

// --- Accessors: width mismatches panic --------------------------------------

TEST_F(VmcsTest, Read16OfANaturalFieldPanics) {
  EXPECT_DEATH(vmcs_read16(VMCS_GUEST_RIP),
               "vmcs_read16: VMCS_GUEST_RIP \\(0x681e\\) is a natural-width field, not 16-bit");
}

TEST_F(VmcsTest, Read32OfASixteenBitFieldPanics) {
  EXPECT_DEATH(vmcs_read32(VMCS_GUEST_CS_SELECTOR),
               "vmcs_read32: VMCS_GUEST_CS_SELECTOR \\(0x0802\\) is a 16-bit field, not 32-bit");
}

TEST_F(VmcsTest, Read64OfANaturalFieldPanics) {
  EXPECT_DEATH(vmcs_read64(VMCS_GUEST_CR3),
               "vmcs_read64: VMCS_GUEST_CR3 \\(0x6802\\) is a natural-width field, not 64-bit");
}

TEST_F(VmcsTest, ReadNaturalOfASixtyFourBitFieldPanics) {
  EXPECT_DEATH(vmcs_readnw(VMCS_GUEST_IA32_EFER),
               "vmcs_readnw: VMCS_GUEST_IA32_EFER \\(0x2806\\) is a 64-bit field, "
               "not natural-width");
}

TEST_F(VmcsTest, Write16OfAThirtyTwoBitFieldPanics) {
  EXPECT_DEATH(vmcs_write16(VMCS_GUEST_CS_LIMIT, 0xFFFFU),
               "vmcs_write16: VMCS_GUEST_CS_LIMIT \\(0x4802\\) is a 32-bit field, not 16-bit");
}

TEST_F(VmcsTest, Write32OfANaturalFieldPanics) {
  EXPECT_DEATH(vmcs_write32(VMCS_GUEST_RFLAGS, 2U),
               "vmcs_write32: VMCS_GUEST_RFLAGS \\(0x6820\\) is a natural-width field, not 32-bit");
}

TEST_F(VmcsTest, Write64OfAThirtyTwoBitFieldPanics) {
  EXPECT_DEATH(vmcs_write64(VMCS_VM_ENTRY_CONTROLS, 0ULL),
               "vmcs_write64: VMCS_VM_ENTRY_CONTROLS \\(0x4012\\) is a 32-bit field, not 64-bit");
}

TEST_F(VmcsTest, WriteNaturalOfASixtyFourBitFieldPanics) {
  EXPECT_DEATH(
      vmcs_writenw(VMCS_EPT_POINTER, 0U),
      "vmcs_writenw: VMCS_EPT_POINTER \\(0x201a\\) is a 64-bit field, not natural-width");
}

TEST_F(VmcsTest, HighAccessEncodingIsNotAThirtyTwoBitField) {
  EXPECT_DEATH(vmcs_read32(static_cast<vmcs_field>(VMCS_EPT_POINTER + 1U)),
               "vmcs_read32: unknown VMCS field \\(0x201b\\) is a 64-bit high-access field, "
               "not 32-bit");
}

// --- Accessors: VMREAD/VMWRITE failures panic -------------------------------

TEST_F(VmcsTest, WriteToReadOnlyFieldPanicsWithError13) {
  EXPECT_DEATH(vmcs_write32(VMCS_VM_EXIT_REASON, 1U),
               "vmcs_write32: VMWRITE of VMCS_VM_EXIT_REASON \\(0x4402\\) failed: "
               "VM-instruction error 13 \\(VMWRITE to read-only VMCS component\\)");
}

TEST_F(VmcsTest, NaturalWriteToReadOnlyFieldPanicsWithError13) {
  EXPECT_DEATH(vmcs_writenw(VMCS_EXIT_QUALIFICATION, 1U),
               "vmcs_writenw: VMWRITE of VMCS_EXIT_QUALIFICATION \\(0x6400\\) failed: "
               "VM-instruction error 13");
}

TEST_F(VmcsTest, FieldOutsideTheTablePanicsWithError12) {
  EXPECT_DEATH(vmcs_read32(static_cast<vmcs_field>(0x4830U)),
               "vmcs_read32: VMREAD of unknown VMCS field \\(0x4830\\) failed: "
               "VM-instruction error 12 \\(VMREAD/VMWRITE from/to unsupported VMCS component\\)");
}

TEST_F(VmcsTest, FieldTheCpuLacksPanicsWithError12) {
  vmcs().unsupported.insert(VMCS_EPT_POINTER);  // e.g. a CPU without EPT
  EXPECT_DEATH(vmcs_write64(VMCS_EPT_POINTER, 0x1EULL),
               "vmcs_write64: VMWRITE of VMCS_EPT_POINTER \\(0x201a\\) failed: "
               "VM-instruction error 12");
}

TEST_F(VmcsTest, AccessWithoutCurrentVmcsPanicsWithVmFailInvalid) {
  vmcs().current = false;
  EXPECT_DEATH(vmcs_readnw(VMCS_GUEST_RIP),
               "vmcs_readnw: VMREAD of VMCS_GUEST_RIP \\(0x681e\\) failed: no current VMCS "
               "\\(VMfailInvalid\\)");
}

// --- The fake itself ------------------------------------------------------------

TEST_F(VmcsTest, FakeRejectsUnknownEncodingsLikeHardware) {
  uword_t value = 0x55U;
  EXPECT_EQ(cpu_vmread(0x4830U, &value), CPU_VMX_FAIL_VALID);
  EXPECT_EQ(value, 0x55U);  // destination untouched on failure
  EXPECT_EQ(vmcs().Get(VMCS_VM_INSTRUCTION_ERROR), xhv_fake::kVmxErrorUnsupportedField);
  EXPECT_EQ(cpu_vmwrite(VMCS_GUEST_RIP + 1U, 0U), CPU_VMX_FAIL_VALID);  // no high access
  EXPECT_EQ(cpu_vmwrite(0x1000000000ULL | VMCS_GUEST_RIP, 0U), CPU_VMX_FAIL_VALID);
  EXPECT_FALSE(xhv_fake::VmcsEncodingKnown(0x4830U));
  EXPECT_TRUE(xhv_fake::VmcsEncodingKnown(VMCS_EPT_POINTER + 1U));
  EXPECT_FALSE(xhv_fake::VmcsEncodingKnown(VMCS_GUEST_RIP + 1U));
}

TEST_F(VmcsTest, FakeWriteToReadOnlyFieldFailsUnlessVmwriteAnyField) {
  EXPECT_EQ(cpu_vmwrite(VMCS_VM_EXIT_REASON, 1U), CPU_VMX_FAIL_VALID);
  EXPECT_EQ(vmcs().Get(VMCS_VM_INSTRUCTION_ERROR), xhv_fake::kVmxErrorWriteReadOnly);
  EXPECT_EQ(vmcs().Get(VMCS_VM_EXIT_REASON), 0U);
  vmcs().vmwrite_any_field = true;
  EXPECT_EQ(cpu_vmwrite(VMCS_VM_EXIT_REASON, 1U), CPU_VMX_OK);
  EXPECT_EQ(vmcs().Get(VMCS_VM_EXIT_REASON), 1U);
}

TEST_F(VmcsTest, FakeFieldsIgnoreOperandBitsBeyondTheirWidth) {
  ASSERT_EQ(cpu_vmwrite(VMCS_GUEST_ES_SELECTOR, 0x12345678U), CPU_VMX_OK);
  ASSERT_EQ(cpu_vmwrite(VMCS_GUEST_ES_LIMIT, static_cast<uword_t>(0x1234567890ULL)), CPU_VMX_OK);
  EXPECT_EQ(vmcs().Get(VMCS_GUEST_ES_SELECTOR), 0x5678U);
  EXPECT_EQ(vmcs().Get(VMCS_GUEST_ES_LIMIT), 0x34567890U);
}

TEST_F(VmcsTest, FakeHighAccessReachesBitsSixtyThreeToThirtyTwo) {
  vmcs().Set(VMCS_TSC_OFFSET, 0x1111111122222222ULL);
  uword_t hi = 0;
  ASSERT_EQ(cpu_vmread(VMCS_TSC_OFFSET + 1U, &hi), CPU_VMX_OK);
  EXPECT_EQ(hi, 0x11111111U);
  ASSERT_EQ(cpu_vmwrite(VMCS_TSC_OFFSET + 1U, 0xAAAAAAAAU), CPU_VMX_OK);
  EXPECT_EQ(vmcs().Get(VMCS_TSC_OFFSET), 0xAAAAAAAA22222222ULL);
}

TEST_F(VmcsTest, FakeCountsEveryAccessUntilResetCounters) {
  uword_t v = 0;
  (void)cpu_vmread(VMCS_GUEST_RIP, &v);
  (void)cpu_vmread(VMCS_GUEST_RIP, &v);
  (void)cpu_vmread(0x4830U, &v);  // failed accesses count too
  (void)cpu_vmwrite(VMCS_GUEST_RIP, 1U);
  EXPECT_EQ(vmcs().reads, 3U);
  EXPECT_EQ(vmcs().writes, 1U);
  EXPECT_EQ(vmcs().reads_by_field[VMCS_GUEST_RIP], 2U);
  EXPECT_EQ(vmcs().reads_by_field[0x4830U], 1U);
  EXPECT_EQ(vmcs().read_log, (std::vector<uint32_t>{VMCS_GUEST_RIP, VMCS_GUEST_RIP, 0x4830U}));
  vmcs().ResetCounters();
  EXPECT_EQ(vmcs().reads, 0U);
  EXPECT_EQ(vmcs().writes, 0U);
  EXPECT_TRUE(vmcs().reads_by_field.empty());
  EXPECT_TRUE(vmcs().write_log.empty());
  EXPECT_EQ(vmcs().Get(VMCS_GUEST_RIP), 1U);  // contents survive
}

TEST_F(VmcsTest, FakeVmclearOfTheCurrentVmcsLeavesNoCurrentVmcs) {
  uword_t v = 0;
  ASSERT_EQ(cpu_vmptrld(0x5000U), CPU_VMX_OK);
  EXPECT_EQ(cpu_vmclear(0x6000U), CPU_VMX_OK);  // another VMCS: no effect
  EXPECT_EQ(cpu_vmread(VMCS_GUEST_RIP, &v), CPU_VMX_OK);
  EXPECT_EQ(cpu_vmclear(0x5000U), CPU_VMX_OK);
  EXPECT_EQ(cpu_vmread(VMCS_GUEST_RIP, &v), CPU_VMX_FAIL_INVALID);
  EXPECT_EQ(cpu_vmwrite(VMCS_GUEST_RIP, 0U), CPU_VMX_FAIL_INVALID);
  ASSERT_EQ(cpu_vmptrld(0x5000U), CPU_VMX_OK);
  EXPECT_EQ(cpu_vmread(VMCS_GUEST_RIP, &v), CPU_VMX_OK);
  EXPECT_EQ(vmcs().vmptrld_calls, (std::vector<uint64_t>{0x5000U, 0x5000U}));
  EXPECT_EQ(vmcs().vmclear_calls, (std::vector<uint64_t>{0x6000U, 0x5000U}));
}

TEST_F(VmcsTest, FakeRecordsTheOtherVmxInstructions) {
  vmcs().invept_result = CPU_VMX_FAIL_VALID;
  EXPECT_EQ(cpu_vmxon(0x9000U), CPU_VMX_OK);
  EXPECT_EQ(cpu_invept(2U, 0x7701EULL), CPU_VMX_FAIL_VALID);
  EXPECT_EQ(cpu_invvpid(1U, 1U, 0ULL), CPU_VMX_OK);
  EXPECT_EQ(cpu_vmxoff(), CPU_VMX_OK);
  EXPECT_EQ(vmcs().vmxon_calls, (std::vector<uint64_t>{0x9000U}));
  ASSERT_EQ(vmcs().invept_calls.size(), 1U);
  EXPECT_EQ(vmcs().invept_calls[0].type, 2U);
  EXPECT_EQ(vmcs().invept_calls[0].eptp, 0x7701EULL);
  ASSERT_EQ(vmcs().invvpid_calls.size(), 1U);
  EXPECT_EQ(vmcs().invvpid_calls[0].vpid, 1U);
  EXPECT_EQ(vmcs().vmxoff_calls, 1);
}

TEST_F(VmcsTest, FakeBackdoorRejectsEncodingsOutsideTheTable) {
  EXPECT_DEATH(vmcs().Set(0x4830U, 1U), "not in vmcs_fields.def");
}

// --- The dump ---------------------------------------------------------------------

std::string g_dump;

void CapturePrint(const char *fmt, ...) {
  char line[256];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  g_dump += line;
}

TEST_F(VmcsTest, DumpPrintsEveryFieldByNameAtItsWidth) {
  g_dump.clear();
  vmcs().Set(VMCS_GUEST_RIP, 0x7C00U);
  vmcs().Set(VMCS_GUEST_CS_SELECTOR, 0xF000U);
  vmcs().Set(VMCS_VM_EXIT_REASON, 0x80000021U);
  vmcs().Set(VMCS_LINK_POINTER, ~0ULL);
  vmcs_dump(CapturePrint);
  EXPECT_NE(g_dump.find("VMCS_GUEST_RIP"), std::string::npos);
  EXPECT_NE(g_dump.find("(0x681e) = 0x0000000000007c00\n"), std::string::npos) << g_dump;
  EXPECT_NE(g_dump.find("(0x0802) = 0xf000\n"), std::string::npos);
  EXPECT_NE(g_dump.find("(0x4402) = 0x80000021\n"), std::string::npos);
  EXPECT_NE(g_dump.find("(0x2800) = 0xffffffffffffffff\n"), std::string::npos);
  for (const TableEntry &f : Table()) {
    EXPECT_NE(g_dump.find(std::string("  ") + f.name + " "), std::string::npos) << f.name;
  }
  EXPECT_EQ(g_dump.find("not supported"), std::string::npos);
  // A probe for a current VMCS, then one VMREAD per field (x86_64: no splits).
  EXPECT_EQ(vmcs().reads, Table().size() + 1U);
  EXPECT_EQ(vmcs().writes, 0U);
}

TEST_F(VmcsTest, DumpSkipsFieldsTheCpuLacksWithoutPanicking) {
  g_dump.clear();
  vmcs().unsupported = {VMCS_EPT_POINTER, VMCS_VIRTUAL_PROCESSOR_ID};
  vmcs_dump(CapturePrint);
  EXPECT_EQ(g_dump.find("VMCS_EPT_POINTER"), std::string::npos);
  EXPECT_NE(g_dump.find("VMCS_GUEST_RIP"), std::string::npos);
  EXPECT_NE(g_dump.find("vmcs: 2 fields not supported by this CPU\n"), std::string::npos);
}

TEST_F(VmcsTest, DumpWithoutCurrentVmcsSaysSo) {
  g_dump.clear();
  vmcs().current = false;
  vmcs_dump(CapturePrint);
  EXPECT_EQ(g_dump, "vmcs: no current VMCS\n");
}

}  // namespace
