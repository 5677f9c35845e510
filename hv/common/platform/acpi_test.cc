// SPDX-License-Identifier: Apache-2.0
// ACPI parsing: RSDP search, \_S5 package decoding and the S5 port writes.
#include "xhv/acpi.h"

#include <cstring>
#include <vector>

#include "gtest/gtest.h"
#include "testing/fakes/fake_cpu.h"

namespace {

std::vector<uint8_t> Rsdp() {
  std::vector<uint8_t> r(20, 0);
  std::memcpy(r.data(), "RSD PTR ", 8);
  uint8_t sum = acpi_checksum(r.data(), r.size());
  r[8] = static_cast<uint8_t>(-sum);
  return r;
}

TEST(AcpiRsdp, FoundOnlyOnSixteenByteBoundaries) {
  std::vector<uint8_t> area(256, 0);
  std::vector<uint8_t> rsdp = Rsdp();
  std::memcpy(area.data() + 40, rsdp.data(), rsdp.size());  // not 16-aligned
  EXPECT_EQ(acpi_find_rsdp(area.data(), area.size()), -1);
  std::memcpy(area.data() + 96, rsdp.data(), rsdp.size());
  EXPECT_EQ(acpi_find_rsdp(area.data(), area.size()), 96);
}

TEST(AcpiRsdp, BadChecksumIsSkipped) {
  std::vector<uint8_t> area(64, 0);
  std::vector<uint8_t> rsdp = Rsdp();
  rsdp[19] ^= 1;
  std::memcpy(area.data() + 16, rsdp.data(), rsdp.size());
  EXPECT_EQ(acpi_find_rsdp(area.data(), area.size()), -1);
}

TEST(AcpiRsdp, SignatureCutOffByTheEndIsNotFound) {
  std::vector<uint8_t> area(32, 0);
  std::memcpy(area.data() + 16, "RSD PTR ", 8);
  EXPECT_EQ(acpi_find_rsdp(area.data(), area.size()), -1);
}

TEST(AcpiS5, BytePrefixedValues) {
  // Name(_S5_, Package(4) {0x05, 0x05, 0, 0})
  const uint8_t aml[] = {0x10, 0x08, '_', 'S', '5', '_', 0x12, 0x0A, 0x04,
                         0x0A, 0x05, 0x0A, 0x05, 0x00, 0x00};
  uint8_t a = 0xEE, b = 0xEE;
  ASSERT_TRUE(acpi_parse_s5(aml, sizeof(aml), &a, &b));
  EXPECT_EQ(a, 5);
  EXPECT_EQ(b, 5);
}

TEST(AcpiS5, ZeroAndOneOpcodesWithRootPrefix) {
  // Name(\_S5_, Package(2) {Zero, One})
  const uint8_t aml[] = {0x08, '\\', '_', 'S', '5', '_', 0x12, 0x05, 0x02, 0x00, 0x01};
  uint8_t a = 0xEE, b = 0xEE;
  ASSERT_TRUE(acpi_parse_s5(aml, sizeof(aml), &a, &b));
  EXPECT_EQ(a, 0);
  EXPECT_EQ(b, 1);
}

TEST(AcpiS5, MultiBytePackageLengthIsSkipped) {
  // PkgLength lead byte 0x40 says one more length byte follows.
  const uint8_t aml[] = {0x08, '_', 'S', '5', '_', 0x12, 0x40, 0x01, 0x02, 0x0A, 0x07, 0x0A, 0x03};
  uint8_t a = 0, b = 0;
  ASSERT_TRUE(acpi_parse_s5(aml, sizeof(aml), &a, &b));
  EXPECT_EQ(a, 7);
  EXPECT_EQ(b, 3);
}

TEST(AcpiS5, ReferenceWithoutNameOpIsNotADefinition) {
  // "_S5_" used as a method argument, not defined: no NameOp before it.
  const uint8_t aml[] = {0x70, '_', 'S', '5', '_', 0x12, 0x05, 0x02, 0x0A, 0x05, 0x00};
  uint8_t a = 0, b = 0;
  EXPECT_FALSE(acpi_parse_s5(aml, sizeof(aml), &a, &b));
}

TEST(AcpiS5, TruncatedPackageFails) {
  const uint8_t aml[] = {0x08, '_', 'S', '5', '_', 0x12, 0x05, 0x02, 0x0A};
  uint8_t a = 0, b = 0;
  EXPECT_FALSE(acpi_parse_s5(aml, sizeof(aml), &a, &b));
}

std::vector<uint8_t> Madt(const std::vector<std::vector<uint8_t>> &entries) {
  std::vector<uint8_t> t(44, 0);
  std::memcpy(t.data(), "APIC", 4);
  for (const auto &e : entries) {
    t.insert(t.end(), e.begin(), e.end());
  }
  t[4] = static_cast<uint8_t>(t.size());
  return t;
}

std::vector<uint8_t> LocalApic(uint8_t apic_id, uint32_t flags) {
  return {0, 8, 0, apic_id, static_cast<uint8_t>(flags), 0, 0, 0};
}

TEST(AcpiMadt, ListsEnabledLocalApicsInTableOrder) {
  const std::vector<uint8_t> ioapic = {1, 12, 0, 0, 0, 0, 0xC0, 0xFE, 0, 0, 0, 0};
  auto t = Madt({LocalApic(0, 1), ioapic, LocalApic(2, 0), LocalApic(1, 1)});
  uint32_t ids[8] = {};
  ASSERT_EQ(acpi_madt_cpus(t.data(), t.size(), ids, 8), 2);
  EXPECT_EQ(ids[0], 0U);
  EXPECT_EQ(ids[1], 1U);
}

TEST(AcpiMadt, StopsAtTheCallersLimit) {
  auto t = Madt({LocalApic(0, 1), LocalApic(1, 1), LocalApic(2, 1)});
  uint32_t ids[2] = {};
  EXPECT_EQ(acpi_madt_cpus(t.data(), t.size(), ids, 2), 2);
}

TEST(AcpiMadt, EntryRunningPastTheTableIsMalformed) {
  auto t = Madt({LocalApic(0, 1)});
  t.back() = 0;
  t[t.size() - 7] = 20;  // length byte of the entry: past the end
  uint32_t ids[8] = {};
  EXPECT_EQ(acpi_madt_cpus(t.data(), t.size(), ids, 8), -1);
}

TEST(AcpiMadt, ZeroLengthEntryIsMalformedNotAnEndlessLoop) {
  auto t = Madt({{0, 0, 0, 0}});
  uint32_t ids[8] = {};
  EXPECT_EQ(acpi_madt_cpus(t.data(), t.size(), ids, 8), -1);
}

// A FADT of ACPI 2.0's size with RESET_REG_SUP and its reset register set.
std::vector<uint8_t> Fadt(uint8_t space, uint8_t width, uint64_t address, uint8_t value,
                          bool supported = true) {
  std::vector<uint8_t> f(244, 0);
  std::memcpy(f.data(), "FACP", 4);
  f[112 + 1] = supported ? 0x04 : 0x00;  // flags bit 10
  f[116] = space;
  f[117] = width;
  for (int i = 0; i < 8; i++) {
    f[120 + i] = static_cast<uint8_t>(address >> (8 * i));
  }
  f[128] = value;
  return f;
}

TEST(AcpiReset, AnIoPortRegisterIsRead) {
  auto f = Fadt(1, 8, 0xCF9, 0x06);
  struct acpi_reset r = {};
  ASSERT_TRUE(acpi_parse_reset(f.data(), f.size(), &r));
  EXPECT_EQ(r.port, 0xCF9U);
  EXPECT_EQ(r.value, 0x06U);
}

TEST(AcpiReset, NoneWithoutTheFlagInAnOldTableOrInMemorySpace) {
  struct acpi_reset r = {};
  auto unsupported = Fadt(1, 8, 0xCF9, 0x06, false);
  EXPECT_FALSE(acpi_parse_reset(unsupported.data(), unsupported.size(), &r));
  auto acpi1 = Fadt(1, 8, 0xCF9, 0x06);
  EXPECT_FALSE(acpi_parse_reset(acpi1.data(), 116, &r));
  auto memory = Fadt(0, 8, 0xFED00000ULL, 0x06);
  EXPECT_FALSE(acpi_parse_reset(memory.data(), memory.size(), &r));
  auto wide = Fadt(1, 16, 0xCF9, 0x06);
  EXPECT_FALSE(acpi_parse_reset(wide.data(), wide.size(), &r));
  auto high = Fadt(1, 8, 0x10000, 0x06);
  EXPECT_FALSE(acpi_parse_reset(high.data(), high.size(), &r));
}

TEST(AcpiPoweroff, WritesSlpTypAndSlpEnToBothBlocks) {
  xhv_fake::cpu().Reset();
  const struct acpi_s5 s5 = {0xB004, 0xB104, 5, 2};
  acpi_poweroff(&s5);
  const std::vector<xhv_fake::PortWrite> expected = {
      {0xB004, (1U << 13) | (5U << 10), 2},
      {0xB104, (1U << 13) | (2U << 10), 2},
  };
  EXPECT_EQ(xhv_fake::cpu().port_writes, expected);
}

TEST(AcpiPoweroff, NoPm1bBlockMeansOneWrite) {
  xhv_fake::cpu().Reset();
  const struct acpi_s5 s5 = {0x604, 0, 0, 0};
  acpi_poweroff(&s5);
  ASSERT_EQ(xhv_fake::cpu().port_writes.size(), 1U);
  EXPECT_EQ(xhv_fake::cpu().port_writes[0].port, 0x604);
  EXPECT_EQ(xhv_fake::cpu().port_writes[0].value, 1U << 13);
}

}  // namespace
