// SPDX-License-Identifier: Apache-2.0
// PVH direct boot on a buffer standing in for physical memory: parsing,
// module checks, placement, loading and the start_info block.
#include "xhv/pvh.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr uint64_t kMiB = 1ULL << 20;
constexpr uint64_t kMemSize = 48 * kMiB;

struct Seg {
  uint64_t paddr;
  std::vector<uint8_t> bytes;
  uint64_t memsz;
};

void put(std::vector<uint8_t> &v, size_t off, uint64_t value, int size) {
  for (int i = 0; i < size; i++) v[off + i] = static_cast<uint8_t>(value >> (8 * i));
}

std::vector<uint8_t> note(uint32_t type, const char *owner, uint64_t desc, int descsz) {
  std::vector<uint8_t> n(12);
  uint32_t namesz = static_cast<uint32_t>(strlen(owner) + 1);
  put(n, 0, namesz, 4);
  put(n, 4, descsz, 4);
  put(n, 8, type, 4);
  for (uint32_t i = 0; i < ((namesz + 3) & ~3U); i++) n.push_back(i < namesz ? owner[i] : 0);
  for (int i = 0; i < descsz; i++) n.push_back(static_cast<uint8_t>(desc >> (8 * i)));
  while (n.size() % 4) n.push_back(0);
  return n;
}

// An ELF image: header, program headers (the PT_LOADs, then one PT_NOTE), data.
std::vector<uint8_t> elf(bool is64, const std::vector<Seg> &segs, const std::vector<uint8_t> &notes,
                         uint16_t machine = 0) {
  size_t eh = is64 ? 64 : 52, ph = is64 ? 56 : 32;
  size_t phnum = segs.size() + 1;
  std::vector<uint8_t> v(eh + ph * phnum);
  memcpy(v.data(), "\177ELF", 4);
  v[4] = is64 ? 2 : 1;
  v[5] = 1;
  v[6] = 1;
  put(v, 16, 2, 2);
  put(v, 18, machine ? machine : (is64 ? 62 : 3), 2);
  if (is64) {
    put(v, 32, eh, 8);
    put(v, 54, ph, 2);
    put(v, 56, phnum, 2);
  } else {
    put(v, 28, eh, 4);
    put(v, 42, ph, 2);
    put(v, 44, phnum, 2);
  }
  auto write_ph = [&](size_t i, uint32_t type, uint64_t off, uint64_t paddr, uint64_t filesz,
                      uint64_t memsz) {
    size_t o = eh + i * ph;
    put(v, o, type, 4);
    if (is64) {
      put(v, o + 8, off, 8);
      put(v, o + 16, paddr | 0xffffffff80000000ULL, 8);
      put(v, o + 24, paddr, 8);
      put(v, o + 32, filesz, 8);
      put(v, o + 40, memsz, 8);
    } else {
      put(v, o + 4, off, 4);
      put(v, o + 8, paddr | 0xc0000000U, 4);
      put(v, o + 12, paddr, 4);
      put(v, o + 16, filesz, 4);
      put(v, o + 20, memsz, 4);
    }
  };
  for (size_t i = 0; i < segs.size(); i++) {
    write_ph(i, 1, v.size(), segs[i].paddr, segs[i].bytes.size(), segs[i].memsz);
    v.insert(v.end(), segs[i].bytes.begin(), segs[i].bytes.end());
  }
  write_ph(segs.size(), 4, v.size(), 0, notes.size(), notes.size());
  v.insert(v.end(), notes.begin(), notes.end());
  return v;
}

std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; i++) v[i] = static_cast<uint8_t>(seed + i * 7);
  return v;
}

std::vector<uint8_t> entry_note(uint32_t entry) {
  std::vector<uint8_t> n = note(6, "Xen", 0x78756e696cULL, 6);  // another Xen note first
  std::vector<uint8_t> e = note(PVH_NOTE_PHYS32_ENTRY, "Xen", entry, 4);
  n.insert(n.end(), e.begin(), e.end());
  return n;
}

e820_map guest_map() {
  e820_map m{};
  m.count = 3;
  m.entry[0] = {0, 0x9fc00, E820_TYPE_USABLE};
  m.entry[1] = {0x9fc00, 0x100000 - 0x9fc00, E820_TYPE_RESERVED};
  m.entry[2] = {0x100000, kMemSize - 0x100000, E820_TYPE_USABLE};
  return m;
}

class PvhTest : public ::testing::Test {
 protected:
  std::vector<uint8_t> mem_ = std::vector<uint8_t>(kMemSize, 0xAA);
  pvh_mem mem{reinterpret_cast<uintptr_t>(mem_.data())};

  // Puts `bytes` at physical `pa`, as GRUB put a module there.
  void place(uint64_t pa, const std::vector<uint8_t> &bytes) {
    memcpy(mem_.data() + pa, bytes.data(), bytes.size());
  }

  pvh_status read(const std::vector<uint64_t> &start, const std::vector<uint64_t> &len,
                  const std::vector<const char *> &names, pvh_modules *out) {
    std::vector<uint64_t> end;
    std::vector<const uint8_t *> image;
    for (size_t i = 0; i < start.size(); i++) {
      end.push_back(start[i] + len[i]);
      image.push_back(mem_.data() + start[i]);
    }
    return pvh_read_modules(static_cast<uint32_t>(start.size()), start.data(), end.data(),
                            names.data(), image.data(), out);
  }
};

TEST(PvhParse, FindsTheEntryNoteAndTheLoadSegmentsOfAn64BitKernel) {
  auto image = elf(true, {{0x1000000, pattern(300, 1), 300}, {0x1200000, pattern(40, 2), 4096}},
                   entry_note(0x1000850));
  pvh_kernel k;
  ASSERT_EQ(pvh_parse_kernel(image.data(), image.size(), &k), PVH_OK);
  EXPECT_TRUE(k.elf64);
  EXPECT_EQ(k.entry, 0x1000850U);
  ASSERT_EQ(k.segment_count, 2U);
  EXPECT_EQ(k.segment[1].paddr, 0x1200000U);
  EXPECT_EQ(k.segment[1].filesz, 40U);
  EXPECT_EQ(k.segment[1].memsz, 4096U);
  EXPECT_EQ(k.low, 0x1000000U);
  EXPECT_EQ(k.high, 0x1201000U);
}

TEST(PvhParse, Reads32BitKernelsToo) {
  auto image = elf(false, {{0x1000000, pattern(64, 3), 128}}, entry_note(0x10002e0));
  pvh_kernel k;
  ASSERT_EQ(pvh_parse_kernel(image.data(), image.size(), &k), PVH_OK);
  EXPECT_FALSE(k.elf64);
  EXPECT_EQ(k.entry, 0x10002e0U);
}

TEST(PvhParse, KernelWithoutTheEntryNoteIsRefusedByName) {
  auto image = elf(true, {{0x1000000, pattern(64, 3), 64}}, note(6, "Xen", 0x78756e696cULL, 6));
  pvh_kernel k;
  EXPECT_EQ(pvh_parse_kernel(image.data(), image.size(), &k), PVH_ERR_NO_PVH_NOTE);
  EXPECT_NE(std::string(pvh_status_name(PVH_ERR_NO_PVH_NOTE)).find("PVH"), std::string::npos);
  // The same note type under another owner is not the entry point.
  image = elf(true, {{0x1000000, pattern(64, 3), 64}}, note(PVH_NOTE_PHYS32_ENTRY, "Linux", 5, 4));
  EXPECT_EQ(pvh_parse_kernel(image.data(), image.size(), &k), PVH_ERR_NO_PVH_NOTE);
}

TEST(PvhParse, BadImagesAreRefused) {
  pvh_kernel k;
  std::vector<uint8_t> bz = pattern(4096, 0);
  memcpy(bz.data() + 0x202, "HdrS", 4);
  EXPECT_EQ(pvh_parse_kernel(bz.data(), bz.size(), &k), PVH_ERR_NOT_ELF);
  auto image = elf(true, {{0x1000000, pattern(64, 3), 64}}, entry_note(0x1000000));
  EXPECT_EQ(pvh_parse_kernel(image.data(), image.size() - 8, &k), PVH_ERR_ELF_TRUNCATED);
  auto arm = elf(true, {{0x1000000, pattern(64, 3), 64}}, entry_note(0x1000000), 183);
  EXPECT_EQ(pvh_parse_kernel(arm.data(), arm.size(), &k), PVH_ERR_ELF_CLASS);
  auto shrunk = elf(true, {{0x1000000, pattern(64, 3), 32}}, entry_note(0x1000000));
  EXPECT_EQ(pvh_parse_kernel(shrunk.data(), shrunk.size(), &k), PVH_ERR_SEGMENTS);
}

TEST_F(PvhTest, ModulesAreTheKernelThenTheInitramfsWithTheCommandLineAfterTheName) {
  auto image = elf(true, {{0x1000000, pattern(64, 3), 64}}, entry_note(0x1000000));
  place(0x300000, image);
  place(0x400000, pattern(100, 9));
  pvh_modules m;
  ASSERT_EQ(read({0x300000, 0x400000}, {image.size(), 100}, {"kernel console=ttyS1 quiet", "initrd"},
                 &m),
            PVH_OK);
  EXPECT_STREQ(m.cmdline, "console=ttyS1 quiet");
  EXPECT_EQ(m.initrd_pa, 0x400000U);
  EXPECT_EQ(m.initrd_len, 100U);
  EXPECT_EQ(read({0x400000, 0x300000}, {100, image.size()}, {"initrd", "kernel"}, &m),
            PVH_ERR_ORDER);
  EXPECT_EQ(read({0x400000, 0x300000}, {100, image.size()}, {nullptr, nullptr}, &m),
            PVH_ERR_ORDER);
  EXPECT_EQ(read({0x300000}, {image.size()}, {"kernel"}, &m), PVH_ERR_NO_MODULES);
  EXPECT_EQ(read({0x400000, 0x400000}, {100, 100}, {"kernel", "initrd"}, &m), PVH_ERR_NOT_ELF);
}

// Loads a kernel from `kernel_pa` and checks the result in memory.
void load_and_check(PvhTest *t, std::vector<uint8_t> &memory, pvh_mem *mem, uint64_t kernel_pa,
                    bool expect_move) {
  Seg text{0x1000000, pattern(5000, 1), 5000};
  Seg data{0x1400000, pattern(3000, 2), 3 * kMiB};  // 3 MiB of bss after its bytes
  auto image = elf(true, {text, data}, entry_note(0x1000850));
  auto initrd = pattern(200000, 5);
  memcpy(memory.data() + kernel_pa, image.data(), image.size());
  memcpy(memory.data() + 0x2000000, initrd.data(), initrd.size());
  memset(memory.data() + data.paddr, 0xEE, data.memsz);

  pvh_kernel k;
  ASSERT_EQ(pvh_parse_kernel(memory.data() + kernel_pa, image.size(), &k), PVH_OK);
  pvh_modules m{kernel_pa, image.size(), 0x2000000, initrd.size(), "console=ttyS1"};
  e820_map map = guest_map();
  pvh_plan plan;
  ASSERT_EQ(pvh_plan_load(&k, &m, &map, &plan), PVH_OK);
  EXPECT_EQ(plan.move_kernel, expect_move);
  EXPECT_LE(plan.initrd_dest + initrd.size(), kMemSize);
  EXPECT_EQ(plan.initrd_dest % 4096, 0U);
  pvh_load(mem, &k, &m, &plan);

  EXPECT_EQ(0, memcmp(memory.data() + text.paddr, text.bytes.data(), text.bytes.size()));
  EXPECT_EQ(0, memcmp(memory.data() + data.paddr, data.bytes.data(), data.bytes.size()));
  for (uint64_t a = data.paddr + data.bytes.size(); a < data.paddr + data.memsz; a += 4093) {
    ASSERT_EQ(memory[a], 0) << "bss not zero at " << a;
  }
  EXPECT_EQ(0, memcmp(memory.data() + plan.initrd_dest, initrd.data(), initrd.size()));
  (void)t;
}

TEST_F(PvhTest, LoadsSegmentsZeroFillsAndMovesTheInitramfsHigh) {
  load_and_check(this, mem_, &mem, 0x300000, false);
}

TEST_F(PvhTest, AKernelImageLyingWhereItsSegmentsGoIsMovedFirst) {
  // GRUB put the image just below 16 MiB: its bytes reach into the first segment's place.
  load_and_check(this, mem_, &mem, 0x1000000 - 0x800, true);
}

TEST_F(PvhTest, SegmentsOutsideUsableRamAreRefused) {
  auto image = elf(true, {{0xA0000, pattern(64, 3), 64}}, entry_note(0xA0000));
  pvh_kernel k;
  ASSERT_EQ(pvh_parse_kernel(image.data(), image.size(), &k), PVH_OK);
  pvh_modules m{0x300000, image.size(), 0x400000, 10, ""};
  e820_map map = guest_map();
  pvh_plan plan;
  EXPECT_EQ(pvh_plan_load(&k, &m, &map, &plan), PVH_ERR_NOT_RAM);
}

TEST_F(PvhTest, StartInfoCarriesTheMapTheInitramfsTheRsdpAndTheCommandLine) {
  e820_map map = guest_map();
  pvh_modules m{0x300000, 0, 0x400000, 12345, "console=ttyS1 xhv.x=1"};
  pvh_plan plan{0x3000000, 0x300000, false};
  uint32_t info = pvh_write_start_info(&mem, &map, 0xF5A40, &m, &plan);
  ASSERT_EQ(info, PVH_INFO_BASE);
  const uint8_t *p = mem_.data() + info;
  auto u32 = [&](uint64_t a) { uint32_t v; memcpy(&v, mem_.data() + a, 4); return v; };
  auto u64 = [&](uint64_t a) { uint64_t v; memcpy(&v, mem_.data() + a, 8); return v; };
  EXPECT_EQ(u32(info), 0x336EC578U);
  EXPECT_EQ(u32(info + 4), 1U);   // version 1: with a memory map
  EXPECT_EQ(u32(info + 12), 1U);  // one module
  uint64_t modlist = u64(info + 16), cmdline = u64(info + 24), memmap = u64(info + 40);
  EXPECT_EQ(u64(info + 32), 0xF5A40U);
  EXPECT_EQ(u32(info + 48), 3U);
  EXPECT_EQ(u64(modlist), 0x3000000U);
  EXPECT_EQ(u64(modlist + 8), 12345U);
  EXPECT_EQ(u64(memmap + 2 * 24), 0x100000U);
  EXPECT_EQ(u64(memmap + 2 * 24 + 8), kMemSize - 0x100000);
  EXPECT_EQ(u32(memmap + 2 * 24 + 16), E820_TYPE_USABLE);
  EXPECT_STREQ(reinterpret_cast<const char *>(mem_.data() + cmdline), "console=ttyS1 xhv.x=1");
  EXPECT_LE(cmdline + strlen(m.cmdline) + 1, static_cast<uint64_t>(PVH_INFO_BASE + PVH_INFO_SIZE));
  (void)p;
}

TEST_F(PvhTest, ACommandLineTooLongForTheInfoPagesIsRefused) {
  e820_map map = guest_map();
  std::string longline(PVH_INFO_SIZE, 'x');
  pvh_modules m{0x300000, 0, 0x400000, 1, longline.c_str()};
  pvh_plan plan{0x3000000, 0x300000, false};
  EXPECT_EQ(pvh_write_start_info(&mem, &map, 0, &m, &plan), 0U);
}

}  // namespace
