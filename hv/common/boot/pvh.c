/* SPDX-License-Identifier: Apache-2.0 */
/* PVH direct boot: kernel ELF parsing, placement, loading and the start_info block. */
#include "xhv/pvh.h"

#include "xhv/string.h"

#define PAGE 0x1000ULL
#define LOW_MEMORY_END 0x100000ULL

#define ELF_CLASS32 1U
#define ELF_CLASS64 2U
#define ELF_DATA_LSB 1U
#define EM_386 3U
#define EM_X86_64 62U
#define PT_LOAD 1U
#define PT_NOTE 4U

/* struct hvm_start_info and friends (Xen public header arch-x86/hvm/start_info.h). */
struct hvm_start_info {
  uint32_t magic;
  uint32_t version;
  uint32_t flags;
  uint32_t nr_modules;
  uint64_t modlist_paddr;
  uint64_t cmdline_paddr;
  uint64_t rsdp_paddr;
  uint64_t memmap_paddr;
  uint32_t memmap_entries;
  uint32_t reserved;
};

struct hvm_modlist_entry {
  uint64_t paddr;
  uint64_t size;
  uint64_t cmdline_paddr;
  uint64_t reserved;
};

struct hvm_memmap_table_entry {
  uint64_t addr;
  uint64_t size;
  uint32_t type;
  uint32_t reserved;
};

_Static_assert(sizeof(struct hvm_start_info) == 56, "hvm_start_info layout");
_Static_assert(sizeof(struct hvm_modlist_entry) == 32, "hvm_modlist_entry layout");
_Static_assert(sizeof(struct hvm_memmap_table_entry) == 24, "hvm_memmap_table_entry layout");

const char *pvh_status_name(enum pvh_status s) {
  switch (s) {
  case PVH_OK:
    return "ok";
  case PVH_ERR_NO_MODULES:
    return "direct boot needs two multiboot modules, the kernel and then the initramfs";
  case PVH_ERR_ORDER:
    return "the modules are in the wrong order: the kernel must come first, the initramfs second";
  case PVH_ERR_NOT_ELF:
    return "the kernel module is not an ELF image (a bzImage? give the vmlinux inside it)";
  case PVH_ERR_ELF_CLASS:
    return "the kernel is not a little-endian ELF32 i386 or ELF64 x86-64 image";
  case PVH_ERR_ELF_TRUNCATED:
    return "the kernel image is truncated (headers or a segment past its end)";
  case PVH_ERR_NO_PVH_NOTE:
    return "the kernel has no PVH entry point (no XEN_ELFNOTE_PHYS32_ENTRY note: "
           "built without CONFIG_PVH?)";
  case PVH_ERR_SEGMENTS:
    return "the kernel's loadable segments are malformed or too many";
  case PVH_ERR_NOT_RAM:
    return "the kernel's segments do not lie in usable guest RAM";
  case PVH_ERR_NO_ROOM:
    return "no room in guest RAM for the initramfs and the kernel";
  case PVH_ERR_INFO_FULL:
    return "the boot information (memory map, command line) does not fit its two pages";
  case PVH_ERR_64BIT_ON_32BIT:
    return "a 64-bit kernel cannot run under the 32-bit hypervisor";
  }
  return "unknown error";
}

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

static uint32_t get32(const uint8_t *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static uint64_t get64(const uint8_t *p) { return get32(p) | ((uint64_t)get32(p + 4) << 32); }

static bool inside(uint64_t off, uint64_t size, uint64_t len) {
  return off <= len && size <= len - off;
}

static uint64_t align4(uint64_t v) { return (v + 3U) & ~(uint64_t)3U; }

/* Looks for the Xen PHYS32_ENTRY note in one PT_NOTE segment. */
static bool find_entry_note(const uint8_t *p, uint64_t len, uint32_t *entry) {
  uint64_t off = 0;
  while (len - off >= 12U) {
    uint32_t namesz = get32(p + off), descsz = get32(p + off + 4), type = get32(p + off + 8);
    uint64_t name = off + 12U;
    uint64_t desc = name + align4(namesz);
    if (!inside(name, align4(namesz), len) || !inside(desc, descsz, len)) {
      return false;
    }
    if (type == PVH_NOTE_PHYS32_ENTRY && namesz == 4U && memcmp(p + name, "Xen", 4) == 0 &&
        descsz >= 4U) {
      *entry = get32(p + desc);
      return true;
    }
    off = desc + align4(descsz);
  }
  return false;
}

enum pvh_status pvh_parse_kernel(const uint8_t *image, uint64_t len, struct pvh_kernel *out) {
  memset(out, 0, sizeof(*out));
  if (len < 52U || memcmp(image, "\177ELF", 4) != 0) {
    return PVH_ERR_NOT_ELF;
  }
  bool elf64 = image[4] == ELF_CLASS64;
  uint16_t machine = get16(image + 18);
  if (image[5] != ELF_DATA_LSB || !(elf64 ? machine == EM_X86_64 && image[4] == ELF_CLASS64
                                          : machine == EM_386 && image[4] == ELF_CLASS32)) {
    return PVH_ERR_ELF_CLASS;
  }
  if (elf64 && len < 64U) {
    return PVH_ERR_ELF_TRUNCATED;
  }
  uint64_t phoff = elf64 ? get64(image + 32) : get32(image + 28);
  uint16_t phentsize = get16(image + (elf64 ? 54 : 42));
  uint16_t phnum = get16(image + (elf64 ? 56 : 44));
  if (phentsize < (elf64 ? 56U : 32U) || !inside(phoff, (uint64_t)phentsize * phnum, len)) {
    return PVH_ERR_ELF_TRUNCATED;
  }
  out->elf64 = elf64;
  out->low = UINT64_MAX;
  bool have_entry = false;
  for (uint32_t i = 0; i < phnum; i++) {
    const uint8_t *ph = image + phoff + (uint64_t)i * phentsize;
    uint32_t type = get32(ph);
    struct pvh_segment s;
    if (elf64) {
      s.offset = get64(ph + 8);
      s.paddr = get64(ph + 24);
      s.filesz = get64(ph + 32);
      s.memsz = get64(ph + 40);
    } else {
      s.offset = get32(ph + 4);
      s.paddr = get32(ph + 12);
      s.filesz = get32(ph + 16);
      s.memsz = get32(ph + 20);
    }
    if (type != PT_LOAD && type != PT_NOTE) {
      continue;
    }
    if (!inside(s.offset, s.filesz, len)) {
      return PVH_ERR_ELF_TRUNCATED;
    }
    if (type == PT_NOTE) {
      have_entry = have_entry || find_entry_note(image + s.offset, s.filesz, &out->entry);
      continue;
    }
    if (s.memsz == 0U) {
      continue;
    }
    if (out->segment_count == PVH_MAX_SEGMENTS || s.memsz < s.filesz ||
        s.paddr + s.memsz < s.paddr) {
      return PVH_ERR_SEGMENTS;
    }
    out->segment[out->segment_count++] = s;
    out->low = s.paddr < out->low ? s.paddr : out->low;
    out->high = s.paddr + s.memsz > out->high ? s.paddr + s.memsz : out->high;
  }
  if (out->segment_count == 0U) {
    return PVH_ERR_SEGMENTS;
  }
  return have_entry ? PVH_OK : PVH_ERR_NO_PVH_NOTE;
}

/* The first word of a module string, compared with `name`. */
static bool named(const char *s, const char *name) {
  if (s == 0) {
    return false;
  }
  size_t n = strlen(name);
  return strncmp(s, name, n) == 0 && (s[n] == '\0' || s[n] == ' ');
}

static bool is_elf(const uint8_t *p, uint64_t len) {
  return len >= 4U && memcmp(p, "\177ELF", 4) == 0;
}

enum pvh_status pvh_read_modules(uint32_t count, const uint64_t *start, const uint64_t *end,
                                 const char *const *strings, const uint8_t *const *image,
                                 struct pvh_modules *out) {
  if (count < 2U) {
    return PVH_ERR_NO_MODULES;
  }
  uint64_t len0 = end[0] - start[0], len1 = end[1] - start[1];
  if (named(strings[0], "initrd") || named(strings[1], "kernel") ||
      (!is_elf(image[0], len0) && is_elf(image[1], len1))) {
    return PVH_ERR_ORDER;
  }
  if (!is_elf(image[0], len0)) {
    return PVH_ERR_NOT_ELF;
  }
  out->kernel_pa = start[0];
  out->kernel_len = len0;
  out->initrd_pa = start[1];
  out->initrd_len = len1;
  out->cmdline = "";
  if (strings[0] != 0) {
    /* "kernel console=ttyS1 ...": the kernel's command line follows the name. */
    const char *s = strings[0];
    if (named(s, "kernel")) {
      s += 6;
    }
    while (*s == ' ') {
      s++;
    }
    out->cmdline = s;
  }
  return PVH_OK;
}

static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen) {
  return alen != 0U && blen != 0U && a < b + blen && b < a + alen;
}

static uint64_t page_up(uint64_t v) { return (v + PAGE - 1U) & ~(PAGE - 1U); }

/* The highest page-aligned fit for `len` bytes in usable RAM below `limit`, avoiding `avoid`. */
static bool place_high(const struct e820_map *map, uint64_t len, uint64_t limit,
                       const uint64_t avoid[][2], uint32_t navoid, uint64_t *out) {
  static struct e820_map scratch; /* too big for a host stack: one loader, one boot CPU */
  scratch = *map;
  if (e820_hide_range(&scratch, 0, LOW_MEMORY_END) != E820_OK) {
    return false;
  }
  for (uint32_t i = 0; i < navoid; i++) {
    uint64_t base = avoid[i][0] & ~(PAGE - 1U);
    uint64_t size = page_up(avoid[i][0] + avoid[i][1]) - base;
    if (size != 0U && e820_hide_range(&scratch, base, size) != E820_OK) {
      return false;
    }
  }
  return e820_find_free(&scratch, page_up(len ? len : 1U), PAGE, limit, out);
}

static bool all_usable(const struct e820_map *map, uint64_t base, uint64_t len) {
  for (uint32_t i = 0; i < map->count; i++) {
    const struct e820_entry *e = &map->entry[i];
    if (e->type == E820_TYPE_USABLE && base >= e->base && base + len <= e->base + e->length) {
      return true;
    }
  }
  return false;
}

enum pvh_status pvh_plan_load(const struct pvh_kernel *k, const struct pvh_modules *m,
                              const struct e820_map *map, struct pvh_plan *plan) {
  for (uint32_t i = 0; i < k->segment_count; i++) {
    if (!all_usable(map, k->segment[i].paddr, k->segment[i].memsz) ||
        overlaps(k->segment[i].paddr, k->segment[i].memsz, PVH_INFO_BASE, PVH_INFO_SIZE)) {
      return PVH_ERR_NOT_RAM;
    }
  }
  /* The initramfs moves first, so it must miss the kernel image it would otherwise clobber. */
  uint64_t avoid[3][2] = {
      {k->low, k->high - k->low},
      {m->kernel_pa, m->kernel_len},
      {0, 0},
  };
  if (!place_high(map, m->initrd_len, PVH_INITRD_LIMIT, avoid, 2, &plan->initrd_dest)) {
    return PVH_ERR_NO_ROOM;
  }
  plan->kernel_src = m->kernel_pa;
  plan->move_kernel = overlaps(m->kernel_pa, m->kernel_len, k->low, k->high - k->low);
  if (plan->move_kernel) {
    /* Then the kernel image, out of its segments' way and the initramfs'. */
    avoid[1][0] = plan->initrd_dest;
    avoid[1][1] = m->initrd_len;
    if (!place_high(map, m->kernel_len, UINT64_MAX, avoid, 2, &plan->kernel_src)) {
      return PVH_ERR_NO_ROOM;
    }
  }
  return PVH_OK;
}

static uint8_t *at(const struct pvh_mem *mem, uint64_t pa) {
  return (uint8_t *)(mem->bias + (uintptr_t)pa);
}

void pvh_load(const struct pvh_mem *mem, const struct pvh_kernel *k, const struct pvh_modules *m,
              const struct pvh_plan *plan) {
  memmove(at(mem, plan->initrd_dest), at(mem, m->initrd_pa), (size_t)m->initrd_len);
  if (plan->move_kernel) {
    memmove(at(mem, plan->kernel_src), at(mem, m->kernel_pa), (size_t)m->kernel_len);
  }
  for (uint32_t i = 0; i < k->segment_count; i++) {
    const struct pvh_segment *s = &k->segment[i];
    memmove(at(mem, s->paddr), at(mem, plan->kernel_src + s->offset), (size_t)s->filesz);
    memset(at(mem, s->paddr + s->filesz), 0, (size_t)(s->memsz - s->filesz));
  }
}

/* The layout of the PVH_INFO pages: start_info, one module entry, the map, the command line. */
struct info_layout {
  uint64_t info, modlist, memmap, cmdline, cmdline_len;
};

static bool info_layout(const struct e820_map *map, const char *cmdline, struct info_layout *l) {
  l->info = PVH_INFO_BASE;
  l->modlist = l->info + sizeof(struct hvm_start_info);
  l->memmap = l->modlist + sizeof(struct hvm_modlist_entry);
  l->cmdline = l->memmap + (uint64_t)map->count * sizeof(struct hvm_memmap_table_entry);
  l->cmdline_len = strlen(cmdline) + 1U;
  return l->cmdline + l->cmdline_len <= PVH_INFO_BASE + PVH_INFO_SIZE;
}

bool pvh_start_info_fits(const struct e820_map *map, const char *cmdline) {
  struct info_layout l;
  return info_layout(map, cmdline, &l);
}

uint32_t pvh_write_start_info(const struct pvh_mem *mem, const struct e820_map *map,
                              uint64_t rsdp, const struct pvh_modules *m,
                              const struct pvh_plan *plan) {
  struct info_layout l;
  if (!info_layout(map, m->cmdline, &l)) {
    return 0;
  }
  memset(at(mem, l.info), 0, PVH_INFO_SIZE);
  struct hvm_start_info si = {
      .magic = PVH_START_MAGIC,
      .version = 1,
      .nr_modules = 1,
      .modlist_paddr = l.modlist,
      .cmdline_paddr = l.cmdline,
      .rsdp_paddr = rsdp,
      .memmap_paddr = l.memmap,
      .memmap_entries = map->count,
  };
  struct hvm_modlist_entry mod = {.paddr = plan->initrd_dest, .size = m->initrd_len};
  memcpy(at(mem, l.info), &si, sizeof(si));
  memcpy(at(mem, l.modlist), &mod, sizeof(mod));
  for (uint32_t i = 0; i < map->count; i++) {
    struct hvm_memmap_table_entry e = {
        .addr = map->entry[i].base, .size = map->entry[i].length, .type = map->entry[i].type};
    memcpy(at(mem, l.memmap + (uint64_t)i * sizeof(e)), &e, sizeof(e));
  }
  memcpy(at(mem, l.cmdline), m->cmdline, (size_t)l.cmdline_len);
  return (uint32_t)l.info;
}
