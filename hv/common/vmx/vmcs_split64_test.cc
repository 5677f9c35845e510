// SPDX-License-Identifier: Apache-2.0
// The i386 path of the VMCS accessors (64-bit fields in two halves), forced on for the host.
#include <cstdarg>
#include <cstdio>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "testing/fakes/fake_cpu.h"
#include "testing/fakes/fake_vmcs.h"
#include "xhv/vmcs.h"

namespace {

using xhv_fake::vmcs;

class VmcsSplit64Test : public ::testing::Test {
 protected:
  void SetUp() override {
    xhv_fake::cpu().Reset();
    vmcs().Reset();
  }
};

TEST_F(VmcsSplit64Test, Read64IsTwoAccessesToEncodingAndEncodingPlusOne) {
  vmcs().Set(VMCS_EPT_POINTER, 0x0000000123456F1EULL);
  EXPECT_EQ(vmcs_read64(VMCS_EPT_POINTER), 0x0000000123456F1EULL);
  EXPECT_EQ(vmcs().reads, 2U);
  EXPECT_EQ(vmcs().read_log, (std::vector<uint32_t>{0x201AU, 0x201BU}));
}

TEST_F(VmcsSplit64Test, Read64ReassemblesBothHalves) {
  vmcs().Set(VMCS_LINK_POINTER, 0xFFFFFFFFFFFFFFFFULL);
  vmcs().Set(VMCS_GUEST_IA32_PAT, 0x0007040600070406ULL);
  vmcs().Set(VMCS_TSC_OFFSET, 0x8000000000000001ULL);
  EXPECT_EQ(vmcs_read64(VMCS_LINK_POINTER), 0xFFFFFFFFFFFFFFFFULL);
  EXPECT_EQ(vmcs_read64(VMCS_GUEST_IA32_PAT), 0x0007040600070406ULL);
  EXPECT_EQ(vmcs_read64(VMCS_TSC_OFFSET), 0x8000000000000001ULL);
}

TEST_F(VmcsSplit64Test, Write64IsLowHalfThenHighHalf) {
  // Low first: a full-access VMWRITE of a 32-bit operand clears bits 63:32,
  // so the other order would lose the high half.
  vmcs().Set(VMCS_GUEST_IA32_EFER, 0xDEADBEEF00000000ULL);
  vmcs_write64(VMCS_GUEST_IA32_EFER, 0x1122334455667788ULL);
  EXPECT_EQ(vmcs().write_log, (std::vector<uint32_t>{0x2806U, 0x2807U}));
  EXPECT_EQ(vmcs().Get(VMCS_GUEST_IA32_EFER), 0x1122334455667788ULL);
  vmcs_write64(VMCS_GUEST_IA32_EFER, 0x500ULL);
  EXPECT_EQ(vmcs().Get(VMCS_GUEST_IA32_EFER), 0x500ULL);
  EXPECT_EQ(vmcs_read64(VMCS_GUEST_IA32_EFER), 0x500ULL);
}

TEST_F(VmcsSplit64Test, OtherWidthsAreSingleAccesses) {
  vmcs_write16(VMCS_GUEST_CS_SELECTOR, 8U);
  vmcs_write32(VMCS_GUEST_CS_LIMIT, 0xFFFFFU);
  vmcs_writenw(VMCS_GUEST_RIP, 0x1000U);
  EXPECT_EQ(vmcs_read16(VMCS_GUEST_CS_SELECTOR), 8U);
  EXPECT_EQ(vmcs_read32(VMCS_GUEST_CS_LIMIT), 0xFFFFFU);
  EXPECT_EQ(vmcs_readnw(VMCS_GUEST_RIP), 0x1000U);
  EXPECT_EQ(vmcs().reads, 3U);
  EXPECT_EQ(vmcs().writes, 3U);
}

TEST_F(VmcsSplit64Test, UnsupportedSixtyFourBitFieldPanics) {
  vmcs().unsupported.insert(VMCS_PML_ADDRESS);
  EXPECT_DEATH(vmcs_read64(VMCS_PML_ADDRESS),
               "vmcs_read64: VMREAD of VMCS_PML_ADDRESS \\(0x200e\\) failed: "
               "VM-instruction error 12");
}

std::string g_dump;

void CapturePrint(const char *fmt, ...) {
  char line[256];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  g_dump += line;
}

TEST_F(VmcsSplit64Test, DumpReadsSixtyFourBitFieldsInTwoHalves) {
  g_dump.clear();
  vmcs().Set(VMCS_LINK_POINTER, 0xFFFFFFFF00000001ULL);
  vmcs_dump(CapturePrint);
  EXPECT_NE(g_dump.find("(0x2800) = 0xffffffff00000001\n"), std::string::npos);
  EXPECT_EQ(vmcs().reads_by_field[VMCS_LINK_POINTER + 1U], 1U);
}

}  // namespace
