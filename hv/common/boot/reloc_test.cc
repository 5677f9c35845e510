// SPDX-License-Identifier: Apache-2.0
// reloc_apply: the image's own relocation when it moves high at boot.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "xhv/relocate.h"

namespace {

constexpr uint64_t kOld = 0x200000;
constexpr uint64_t kSize = 0x1000;

uint32_t Entry(uint32_t kind, uint32_t offset) { return kind << RELOC_KIND_SHIFT | offset; }

struct Image {
  std::vector<uint8_t> bytes = std::vector<uint8_t>(kSize, 0xCC);
  void Put32(uint32_t off, uint32_t v) { std::memcpy(&bytes[off], &v, 4); }
  void Put64(uint32_t off, uint64_t v) { std::memcpy(&bytes[off], &v, 8); }
  uint32_t Get32(uint32_t off) const {
    uint32_t v;
    std::memcpy(&v, &bytes[off], 4);
    return v;
  }
  uint64_t Get64(uint32_t off) const {
    uint64_t v;
    std::memcpy(&v, &bytes[off], 8);
    return v;
  }
};

TEST(Reloc, EveryKindOfPlaceGetsTheDistanceAdded) {
  Image img;
  img.Put32(0x10, kOld + 0x40);
  img.Put64(0x20, kOld + 0x80);
  img.Put32(0x30, kOld + 0x100);
  const uint32_t entries[] = {Entry(RELOC_KIND_32, 0x10), Entry(RELOC_KIND_64, 0x20),
                              Entry(RELOC_KIND_32S, 0x30)};
  const uint64_t base = 0x3FC00000;
  ASSERT_TRUE(reloc_apply(img.bytes.data(), kSize, base, base - kOld, entries, 3));
  EXPECT_EQ(img.Get32(0x10), base + 0x40);
  EXPECT_EQ(img.Get64(0x20), base + 0x80);
  EXPECT_EQ(img.Get32(0x30), base + 0x100);
  EXPECT_EQ(img.bytes[0x14], 0xCC) << "a 32-bit place writes 4 bytes, no more";
}

TEST(Reloc, TheImagesEndAndAddendsBeyondItMoveToo) {
  Image img;
  img.Put32(0, kOld + kSize);
  img.Put32(8, kOld + kSize + 0xFFF);  // (end + PAGE_SIZE - 1), folded by the compiler
  const uint32_t entries[] = {Entry(RELOC_KIND_32, 0), Entry(RELOC_KIND_32, 8)};
  ASSERT_TRUE(reloc_apply(img.bytes.data(), kSize, 0x600000, 0x400000, entries, 2));
  EXPECT_EQ(img.Get32(0), 0x600000 + kSize);
  EXPECT_EQ(img.Get32(8), 0x600000 + kSize + 0xFFF);
}

TEST(Reloc, ASignExtendedPlaceCannotGoToTwoGibOrAbove) {
  Image img;
  img.Put32(0x10, kOld);
  img.Put32(0x20, kOld + 0x8);
  const uint32_t entries[] = {Entry(RELOC_KIND_32, 0x10), Entry(RELOC_KIND_32S, 0x20)};
  const uint64_t base = 0x80000000;
  EXPECT_FALSE(reloc_apply(img.bytes.data(), kSize, base, base - kOld, entries, 2));
  EXPECT_EQ(img.Get32(0x10), kOld) << "a refused table changes nothing";
  EXPECT_EQ(img.Get32(0x20), kOld + 0x8);
}

TEST(Reloc, AThirtyTwoBitPlaceCannotGoAboveFourGib) {
  Image img;
  img.Put32(0x10, kOld);
  const uint32_t entries[] = {Entry(RELOC_KIND_32, 0x10)};
  const uint64_t base = 0x100000000ULL;
  EXPECT_FALSE(reloc_apply(img.bytes.data(), kSize, base, base - kOld, entries, 1));
  img.Put64(0x18, kOld);
  const uint32_t wide[] = {Entry(RELOC_KIND_64, 0x18)};
  ASSERT_TRUE(reloc_apply(img.bytes.data(), kSize, base, base - kOld, wide, 1));
  EXPECT_EQ(img.Get64(0x18), base);
}

TEST(Reloc, APlaceThatHoldsNoImageAddressIsAWrongTable) {
  Image img;
  img.Put32(0x10, kOld + 0x40);
  img.Put32(0x20, 0x1234);  // not an address of the image
  const uint32_t entries[] = {Entry(RELOC_KIND_32, 0x10), Entry(RELOC_KIND_32, 0x20)};
  EXPECT_FALSE(reloc_apply(img.bytes.data(), kSize, 0x600000, 0x400000, entries, 2));
  EXPECT_EQ(img.Get32(0x10), kOld + 0x40);
}

TEST(Reloc, PlacesOutsideTheImageOrOfUnknownKindAreRefused) {
  Image img;
  img.Put64(kSize - 8, kOld);
  const uint32_t past_end[] = {Entry(RELOC_KIND_64, kSize - 4)};
  EXPECT_FALSE(reloc_apply(img.bytes.data(), kSize, 0x600000, 0x400000, past_end, 1));
  const uint32_t last[] = {Entry(RELOC_KIND_64, kSize - 8)};
  EXPECT_TRUE(reloc_apply(img.bytes.data(), kSize, 0x600000, 0x400000, last, 1));
  img.Put32(0x10, kOld);
  const uint32_t unknown[] = {Entry(3, 0x10)};
  EXPECT_FALSE(reloc_apply(img.bytes.data(), kSize, 0x600000, 0x400000, unknown, 1));
}

TEST(Reloc, AnEmptyTableIsAWrongTable) {
  Image img;
  EXPECT_FALSE(reloc_apply(img.bytes.data(), kSize, 0x600000, 0x400000, nullptr, 0));
}

TEST(Reloc, EntriesOutOfOrderOrOverlappingAreAWrongTable) {
  Image img;
  img.Put32(0x10, kOld);
  img.Put32(0x14, kOld);
  img.Put64(0x20, kOld);
  const uint32_t twice[] = {Entry(RELOC_KIND_32, 0x10), Entry(RELOC_KIND_32, 0x10)};
  EXPECT_FALSE(reloc_apply(img.bytes.data(), kSize, 0x600000, 0x400000, twice, 2));
  const uint32_t backwards[] = {Entry(RELOC_KIND_32, 0x14), Entry(RELOC_KIND_32, 0x10)};
  EXPECT_FALSE(reloc_apply(img.bytes.data(), kSize, 0x600000, 0x400000, backwards, 2));
  const uint32_t inside[] = {Entry(RELOC_KIND_64, 0x20), Entry(RELOC_KIND_32, 0x24)};
  EXPECT_FALSE(reloc_apply(img.bytes.data(), kSize, 0x600000, 0x400000, inside, 2));
  EXPECT_EQ(img.Get32(0x10), kOld) << "a refused table changes nothing";
  const uint32_t adjacent[] = {Entry(RELOC_KIND_32, 0x10), Entry(RELOC_KIND_32, 0x14)};
  EXPECT_TRUE(reloc_apply(img.bytes.data(), kSize, 0x600000, 0x400000, adjacent, 2));
  EXPECT_EQ(img.Get32(0x14), 0x600000U);
}

}  // namespace
