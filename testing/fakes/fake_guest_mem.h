// SPDX-License-Identifier: Apache-2.0
// Test doubles for guest memory: flat guest-physical RAM with a page pool, sparse virtual pages.
#ifndef XHV_TESTING_FAKES_FAKE_GUEST_MEM_H
#define XHV_TESTING_FAKES_FAKE_GUEST_MEM_H

#include <cstdint>
#include <cstring>
#include <map>
#include <vector>

#include "xhv/mem_io.h"

namespace xhv_fake {

constexpr uint64_t kPage = 0x1000;

// Guest-physical RAM [base, base + size), and a pool of zeroed 4 KiB pages
// handed out from its top down. Reads and writes outside RAM fail, as do
// all of them once set_broken(true).
class PhysMem {
 public:
  PhysMem(uint64_t base, uint64_t size) : base_(base), ram_(size, 0), next_(base + size) {
    mem_.read = &PhysMem::ReadCb;
    mem_.write = &PhysMem::WriteCb;
    mem_.ctx = this;
  }
  PhysMem(const PhysMem &) = delete;
  PhysMem &operator=(const PhysMem &) = delete;

  const mem_io *mem() const { return &mem_; }
  uint64_t base() const { return base_; }
  uint64_t end() const { return base_ + ram_.size(); }
  void set_broken(bool b) { broken_ = b; }
  size_t pages_allocated() const { return allocated_; }
  void set_page_limit(size_t n) { limit_ = n; }

  // A zeroed page from the pool, or 0 when the limit is reached.
  uint64_t AllocPage() {
    if (allocated_ >= limit_ || next_ - kPage < base_) return 0;
    next_ -= kPage;
    allocated_++;
    std::memset(Ptr(next_, kPage), 0, kPage);
    return next_;
  }

  bool Contains(uint64_t gpa, uint64_t len) const {
    return gpa >= base_ && len <= ram_.size() && gpa - base_ <= ram_.size() - len;
  }
  uint8_t *Ptr(uint64_t gpa, uint64_t len) {
    return Contains(gpa, len) ? &ram_[gpa - base_] : nullptr;
  }

  uint64_t Read64(uint64_t gpa) {
    uint64_t v = 0;
    std::memcpy(&v, Ptr(gpa, 8), 8);
    return v;
  }
  uint32_t Read32(uint64_t gpa) {
    uint32_t v = 0;
    std::memcpy(&v, Ptr(gpa, 4), 4);
    return v;
  }
  void Write64(uint64_t gpa, uint64_t v) { std::memcpy(Ptr(gpa, 8), &v, 8); }
  void Write32(uint64_t gpa, uint32_t v) { std::memcpy(Ptr(gpa, 4), &v, 4); }

 private:
  static bool ReadCb(void *ctx, uint64_t gpa, void *buf, uint32_t len) {
    PhysMem *self = static_cast<PhysMem *>(ctx);
    uint8_t *p = self->Ptr(gpa, len);
    if (self->broken_ || p == nullptr) return false;
    std::memcpy(buf, p, len);
    return true;
  }
  static bool WriteCb(void *ctx, uint64_t gpa, const void *buf, uint32_t len) {
    PhysMem *self = static_cast<PhysMem *>(ctx);
    uint8_t *p = self->Ptr(gpa, len);
    if (self->broken_ || p == nullptr) return false;
    std::memcpy(p, buf, len);
    return true;
  }

  uint64_t base_;
  std::vector<uint8_t> ram_;
  uint64_t next_;
  size_t allocated_ = 0;
  size_t limit_ = SIZE_MAX;
  bool broken_ = false;
  mem_io mem_;
};

// A guest-virtual address space made of separately mapped 4 KiB pages,
// each readable and optionally writable. An access touching any unmapped
// (or, for writes, read-only) page fails without touching anything.
class VirtMem {
 public:
  VirtMem() {
    mem_.read = &VirtMem::ReadCb;
    mem_.write = &VirtMem::WriteCb;
    mem_.ctx = this;
  }
  VirtMem(const VirtMem &) = delete;
  VirtMem &operator=(const VirtMem &) = delete;

  const mem_io *mem() const { return &mem_; }

  // Maps every page touching [gva, gva + len): new pages zero-filled,
  // pages already mapped keep their bytes and take the new writability.
  void Map(uint64_t gva, uint64_t len, bool writable = true) {
    for (uint64_t p = gva & ~(kPage - 1); p < gva + len; p += kPage) {
      Page &pg = pages_[p];
      if (pg.bytes.empty()) pg.bytes.assign(kPage, 0);
      pg.writable = writable;
    }
  }
  void Unmap(uint64_t gva) { pages_.erase(gva & ~(kPage - 1)); }

  bool Read(uint64_t gva, void *buf, uint64_t len) const {
    if (!Mapped(gva, len, false)) return false;
    uint8_t *out = static_cast<uint8_t *>(buf);
    for (uint64_t i = 0; i < len; i++) {
      out[i] = pages_.at((gva + i) & ~(kPage - 1)).bytes[(gva + i) & (kPage - 1)];
    }
    return true;
  }
  bool Write(uint64_t gva, const void *buf, uint64_t len) {
    if (!Mapped(gva, len, true)) return false;
    const uint8_t *in = static_cast<const uint8_t *>(buf);
    for (uint64_t i = 0; i < len; i++) {
      pages_[(gva + i) & ~(kPage - 1)].bytes[(gva + i) & (kPage - 1)] = in[i];
    }
    return true;
  }

  // Test-side accessors that bypass the permission checks.
  uint64_t Word(uint64_t gva, uint32_t bytes) const {
    uint64_t v = 0;
    Read(gva, &v, bytes);
    return v;
  }
  void SetWord(uint64_t gva, uint32_t bytes, uint64_t v) {
    for (uint32_t i = 0; i < bytes; i++) {
      const uint64_t page = (gva + i) & ~(kPage - 1);
      if (pages_.count(page) == 0) Map(page, kPage);
      pages_[page].bytes[(gva + i) & (kPage - 1)] = static_cast<uint8_t>(v >> (8 * i));
    }
  }

 private:
  struct Page {
    std::vector<uint8_t> bytes;
    bool writable = true;
  };

  bool Mapped(uint64_t gva, uint64_t len, bool write) const {
    if (len == 0) return true;
    if (gva + len < gva) return false;
    for (uint64_t p = gva & ~(kPage - 1); p < gva + len; p += kPage) {
      auto it = pages_.find(p);
      if (it == pages_.end() || (write && !it->second.writable)) return false;
      if (p + kPage < p) break;
    }
    return true;
  }
  static bool ReadCb(void *ctx, uint64_t gva, void *buf, uint32_t len) {
    return static_cast<VirtMem *>(ctx)->Read(gva, buf, len);
  }
  static bool WriteCb(void *ctx, uint64_t gva, const void *buf, uint32_t len) {
    return static_cast<VirtMem *>(ctx)->Write(gva, buf, len);
  }

  std::map<uint64_t, Page> pages_;
  mem_io mem_;
};

}  // namespace xhv_fake

#endif  // XHV_TESTING_FAKES_FAKE_GUEST_MEM_H
