/* SPDX-License-Identifier: Apache-2.0 */
/* hcfuzz COUNT SEED: random hypercalls with hostile arguments, for the hypervisor to survive. */
#include <cpuid.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "hypapps/trustvisor/tv_abi.h"
#include "pal_demo/vmcall.h"

/*
 * The hypervisor core's own VMCALL, the INT 15h E820 hook
 * (hv/common/vcpu/guest_bios.c), is recognised by where it comes from, not
 * by its number: real mode, CS base 0x400, IP 0xAC. A Linux process runs
 * with CS base 0, so no call from here can be taken for it, and every
 * number below goes to the hypapp.
 */

#define HELLO_HC_QUIESCE 0x58480001U
#define CPUID_1_ECX_HYPERVISOR (1U << 31)

#define PAGE_BYTES 4096U

/*
 * One reservation, PROT_NONE except the pool and the scratch buffer:
 *   hole (never mapped: "unmapped" addresses)
 *   pool (pages offered to TV_HC_REG; never read or written after setup)
 *   guard, scratch (structures and buffers handed to the hypervisor), guard
 * The guards make "near the end of a buffer" run into not-present pages.
 */
#define HOLE_PAGES 8U
#define POOL_PAGES 16U
#define GUARD_PAGES 2U
#define SCRATCH_PAGES 4U
#define POOL_OFFSET (HOLE_PAGES * PAGE_BYTES)
#define SCRATCH_OFFSET ((HOLE_PAGES + POOL_PAGES + GUARD_PAGES) * PAGE_BYTES)
#define REGION_BYTES ((HOLE_PAGES + POOL_PAGES + 2U * GUARD_PAGES + SCRATCH_PAGES) * PAGE_BYTES)
#define SCRATCH_BYTES (SCRATCH_PAGES * PAGE_BYTES)

/* How far along a section sanitize_section looks; beyond the pool it is always a guard. */
#define SECTION_SCAN_PAGES (POOL_PAGES + 1U)

struct fuzz_regs {
  uintptr_t ax, bx, cx, dx, si, di;
#if defined(__x86_64__)
  uintptr_t r8, r9, r10, r11;
#endif
};

static uint8_t *region;
static uint64_t rng_state;

/* xorshift64 (Marsaglia): a full-period 64-bit generator, reproducible from the seed alone. */
static uint64_t rng_next(void) {
  uint64_t x = rng_state;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  rng_state = x;
  return x;
}

static uint32_t rng_below(uint32_t n) { return (uint32_t)(rng_next() % n); }

static bool rng_chance(uint32_t one_in) { return rng_below(one_in) == 0U; }

static uintptr_t rng_word(void) { return (uintptr_t)rng_next(); }

enum page_kind {
  PAGE_BLOCKED, /* not present for the guest: a hole, a guard, kernel or nothing at all */
  PAGE_POOL,    /* lendable, and untouched by us after setup */
  PAGE_OURS,    /* memory this process uses: must never be lent */
};

static enum page_kind page_kind(uint64_t addr) {
  if (addr > UINTPTR_MAX) {
    return PAGE_BLOCKED; /* beyond a 32-bit process's address space */
  }
  uintptr_t page = (uintptr_t)addr & ~(uintptr_t)(PAGE_BYTES - 1U);
  uintptr_t base = (uintptr_t)region;
  if (page >= base && page - base < REGION_BYTES) {
    uintptr_t off = page - base;
    if (off >= POOL_OFFSET && off < POOL_OFFSET + POOL_PAGES * PAGE_BYTES) {
      return PAGE_POOL;
    }
    if (off >= SCRATCH_OFFSET && off < SCRATCH_OFFSET + SCRATCH_BYTES) {
      return PAGE_OURS;
    }
    return PAGE_BLOCKED;
  }
  /* mincore fails exactly when no mapping of ours covers the page (kernel addresses included). */
  unsigned char resident;
  return mincore((void *)page, PAGE_BYTES, &resident) == 0 ? PAGE_OURS : PAGE_BLOCKED;
}

static uintptr_t hole_addr(void) { return (uintptr_t)region + rng_below(HOLE_PAGES * PAGE_BYTES); }

static uintptr_t pool_page(uint32_t i) { return (uintptr_t)region + POOL_OFFSET + i * PAGE_BYTES; }

static uintptr_t scratch_addr(uintptr_t off) { return (uintptr_t)region + SCRATCH_OFFSET + off; }

/*
 * A value that may be taken as a pointer, made safe to hand over: one into
 * our own memory is moved into the hole, keeping its page offset, so the
 * hypervisor can neither lend nor scribble on what this program uses.
 * Addresses are checked as the guest means them (full width): a hypervisor
 * that truncates or aliases them can still hit us, and the crash is then a
 * finding about the hypervisor.
 */
static uintptr_t sanitize_pointer(uintptr_t v) {
  if (page_kind(v) != PAGE_OURS) {
    return v;
  }
  return (uintptr_t)region + (uintptr_t)rng_below(HOLE_PAGES) * PAGE_BYTES +
         (v & (PAGE_BYTES - 1U));
}

/* Same for a section: every page it covers up to the first not-present one must be pool. */
static void sanitize_section(struct tv_pal_section *s) {
  uint32_t scan = s->page_num < SECTION_SCAN_PAGES ? s->page_num : SECTION_SCAN_PAGES;
  for (uint32_t i = 0; i < scan; i++) {
    enum page_kind kind = page_kind(s->start_addr + (uint64_t)i * PAGE_BYTES);
    if (kind == PAGE_BLOCKED) {
      return;
    }
    if (kind == PAGE_OURS) {
      s->start_addr = (uint64_t)hole_addr() & ~(uint64_t)(PAGE_BYTES - 1U);
      return;
    }
  }
}

static const uint64_t kernel_addrs[] = {
    0xC0000000U,           0xC0100000U,           0xFFFFF000U,
    0xFFFF888000000000ULL, 0xFFFFFFFF81000000ULL, 0x0000800000000000ULL, /* first non-canonical */
};

/* A value from the mix every argument register draws from. */
static uintptr_t fuzz_word(uintptr_t sections, uintptr_t params) {
  switch (rng_below(14)) {
    case 0:
      return 0;
    case 1:
      return 1U + rng_below(16);
    case 2:
      return (uintptr_t)-1;
    case 3:
      return (uintptr_t)(uint32_t)rng_next();
    case 4:
      return rng_word();
    case 5: /* anywhere in scratch, unaligned too */
      return scratch_addr(rng_below(SCRATCH_BYTES));
    case 6: /* the last few bytes of a scratch page */
      return scratch_addr((rng_below(SCRATCH_PAGES) + 1U) * PAGE_BYTES - 1U - rng_below(16));
    case 7:
      return sections;
    case 8:
      return params;
    case 9:
      return pool_page(rng_below(POOL_PAGES)) + (rng_chance(2) ? 0U : rng_below(PAGE_BYTES));
    case 10:
      return hole_addr();
    case 11:
      return (uintptr_t)kernel_addrs[rng_below(sizeof(kernel_addrs) / sizeof(kernel_addrs[0]))];
    case 12:
      return (uintptr_t)1 << rng_below(sizeof(uintptr_t) * 8U);
    default:
      return (uintptr_t)rng_below(256);
  }
}

/* A hypercall number: mostly TrustVisor's, registration and unregistration above all. */
static uintptr_t fuzz_number(void) {
  uint32_t pick = rng_below(100);
  if (pick < 30) {
    return TV_HC_REG;
  }
  if (pick < 45) {
    return TV_HC_UNREG;
  }
  if (pick < 50) {
    return TV_HC_TEST;
  }
  if (pick < 75) {
    return rng_below(26); /* 0..25: every TrustVisor number, used or reserved */
  }
  if (pick < 80) {
    return HELLO_HC_QUIESCE; /* -1 unless helloworld is the hypapp under test */
  }
  if (pick < 85) { /* junk above the low 32 bits (none on 32-bit): is only EAX decoded? */
    return (rng_chance(2) ? TV_HC_REG : TV_HC_UNREG) | (rng_word() & ~(uintptr_t)0xFFFFFFFFU);
  }
  if (pick < 95) {
    return (uintptr_t)(uint32_t)rng_next();
  }
  return rng_word();
}

static uint32_t fuzz_u32(void) {
  switch (rng_below(6)) {
    case 0:
      return 0;
    case 1:
      return 0xFFFFFFFFU;
    case 2:
      return (uint32_t)rng_next();
    default:
      return rng_below(12);
  }
}

static uint64_t fuzz_section_addr(const struct tv_pal_sections *s, uint32_t i) {
  switch (rng_below(8)) {
    case 0:
      return pool_page(rng_below(POOL_PAGES)) + 1U + rng_below(PAGE_BYTES - 1U); /* unaligned */
    case 1: /* overlapping an earlier section */
      return i > 0U ? s->sections[rng_below(i)].start_addr : 0U;
    case 2:
      return hole_addr() & ~(uintptr_t)(PAGE_BYTES - 1U);
    case 3:
      return kernel_addrs[rng_below(sizeof(kernel_addrs) / sizeof(kernel_addrs[0]))];
    case 4:
      return 0;
    case 5:
      return rng_next() & ~(uint64_t)(PAGE_BYTES - 1U);
    case 6:
      return rng_next();
    default:
      return pool_page(POOL_PAGES - 1U); /* with page_num > 1 it runs into the guard */
  }
}

/*
 * Sections that TrustVisor could accept (distinct pool pages, CODE, DATA,
 * STACK, PARAM, sometimes SHARED_CODE), damaged or not, or pure noise.
 * Returns the CODE page, for an entry point.
 */
static uintptr_t craft_sections(struct tv_pal_sections *s) {
  memset(s, 0, sizeof(*s));
  uint32_t order[POOL_PAGES];
  for (uint32_t i = 0; i < POOL_PAGES; i++) {
    order[i] = i;
  }
  for (uint32_t i = POOL_PAGES - 1U; i > 0U; i--) {
    uint32_t j = rng_below(i + 1U);
    uint32_t t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  static const uint32_t types[] = {TV_PAL_SECTION_CODE, TV_PAL_SECTION_DATA, TV_PAL_SECTION_STACK,
                                   TV_PAL_SECTION_PARAM, TV_PAL_SECTION_SHARED_CODE};
  bool noise = rng_chance(4);
  s->num_sections = rng_chance(5) ? 5U : 4U;
  for (uint32_t i = 0; i < TV_MAX_SECTIONS; i++) {
    struct tv_pal_section *sec = &s->sections[i];
    if (noise) {
      sec->type = fuzz_u32();
      sec->page_num = fuzz_u32();
      sec->start_addr = fuzz_section_addr(s, i);
    } else {
      sec->type = i < 5U ? types[i] : TV_PAL_SECTION_DATA;
      sec->page_num = 1;
      sec->start_addr = pool_page(order[i]);
    }
  }
  if (noise) {
    s->num_sections = fuzz_u32();
  } else {
    for (uint32_t n = rng_below(3); n > 0U; n--) {
      struct tv_pal_section *sec = &s->sections[rng_below(TV_MAX_SECTIONS)];
      switch (rng_below(5)) {
        case 0:
          s->num_sections = fuzz_u32();
          break;
        case 1:
          sec->type = fuzz_u32();
          break;
        case 2:
          sec->page_num = fuzz_u32();
          break;
        case 3:
          sec->start_addr = fuzz_section_addr(s, (uint32_t)(sec - s->sections));
          break;
        default:
          s->pad = (uint32_t)rng_next();
          break;
      }
    }
  }
  for (uint32_t i = 0; i < TV_MAX_SECTIONS; i++) {
    sanitize_section(&s->sections[i]);
  }
  return (uintptr_t)s->sections[0].start_addr;
}

static void craft_params(struct tv_pal_params *p) {
  memset(p, 0, sizeof(*p));
  p->num_params = rng_chance(4) ? fuzz_u32() : rng_below(TV_MAX_PARAMS + 1U);
  for (uint32_t i = 0; i < TV_MAX_PARAMS; i++) {
    p->params[i].type = rng_chance(4) ? fuzz_u32() : 1U + rng_below(2);
    p->params[i].size = rng_chance(4) ? rng_next() : rng_below(600);
    if (rng_chance(8)) {
      p->params[i].pad = (uint32_t)rng_next();
    }
  }
}

/*
 * Writes `len` bytes into scratch at a random place: usually whole, but
 * sometimes so they run off the last page into the guard (only the part
 * before the guard is written). Returns the address.
 */
static uintptr_t place_in_scratch(const void *bytes, uint32_t len) {
  uint32_t off;
  if (rng_chance(4)) {
    off = SCRATCH_BYTES - 1U - rng_below(len);
  } else {
    off = rng_below(SCRATCH_BYTES - len + 1U);
  }
  uint32_t fits = SCRATCH_BYTES - off < len ? SCRATCH_BYTES - off : len;
  memcpy((void *)scratch_addr(off), bytes, fits);
  return scratch_addr(off);
}

static void vmcall_regs(struct fuzz_regs *r) {
#if defined(__x86_64__)
  register uintptr_t r8 __asm__("r8") = r->r8;
  register uintptr_t r9 __asm__("r9") = r->r9;
  register uintptr_t r10 __asm__("r10") = r->r10;
  register uintptr_t r11 __asm__("r11") = r->r11;
  __asm__ volatile("vmcall"
                   : "+a"(r->ax), "+b"(r->bx), "+c"(r->cx), "+d"(r->dx), "+S"(r->si), "+D"(r->di),
                     "+r"(r8), "+r"(r9), "+r"(r10), "+r"(r11)
                   :
                   : "memory");
  r->r8 = r8;
  r->r9 = r9;
  r->r10 = r10;
  r->r11 = r11;
#else
  __asm__ volatile("vmcall"
                   : "+a"(r->ax), "+b"(r->bx), "+c"(r->cx), "+d"(r->dx), "+S"(r->si), "+D"(r->di)
                   :
                   : "memory");
#endif
}

/*
 * Blocks every signal that could end the process while a registration may
 * be alive: its pages would go back to the kernel still lent to a PAL.
 */
static void block_signals(bool block, sigset_t *saved) {
  if (block) {
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, saved);
  } else {
    sigprocmask(SIG_SETMASK, saved, NULL);
  }
}

static bool hypervisor_present(void) {
  unsigned a, b, c, d;
  __cpuid(1, a, b, c, d);
  return (c & CPUID_1_ECX_HYPERVISOR) != 0U;
}

static bool parse_u64(const char *s, uint64_t *out) {
  char *end;
  if (*s == '\0' || *s == '-') {
    return false;
  }
  *out = strtoull(s, &end, 0);
  return *end == '\0';
}

static bool setup_region(void) {
  region = mmap(NULL, REGION_BYTES, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (region == MAP_FAILED) {
    return false;
  }
  uint8_t *pool = region + POOL_OFFSET;
  uint8_t *scratch = region + SCRATCH_OFFSET;
  if (mprotect(pool, POOL_PAGES * PAGE_BYTES, PROT_READ | PROT_WRITE | PROT_EXEC) != 0 ||
      mprotect(scratch, SCRATCH_BYTES, PROT_READ | PROT_WRITE) != 0 ||
      mlock(pool, POOL_PAGES * PAGE_BYTES) != 0 || mlock(scratch, SCRATCH_BYTES) != 0) {
    return false;
  }
  /* Present and private before any hypercall looks at them. */
  memset(pool, 0xC3, POOL_PAGES * PAGE_BYTES); /* RET: a PAL entered anywhere returns */
  memset(scratch, 0, SCRATCH_BYTES);
  return true;
}

static void print_summary(uint64_t calls, uint64_t errors, uint64_t registered, uint64_t seed) {
  printf("XHV-GUEST: hcfuzz=calls=%" PRIu64 " errors=%" PRIu64 " registered=%" PRIu64
         " seed=%" PRIu64 "\n",
         calls, errors, registered, seed);
}

int main(int argc, char **argv) {
  uint64_t count, seed;
  if (argc != 3 || !parse_u64(argv[1], &count) || !parse_u64(argv[2], &seed)) {
    printf("usage: hcfuzz COUNT SEED\n");
    return 2;
  }
  if (!hypervisor_present()) {
    printf("XHV-RESULT: FAIL hcfuzz: no hypervisor (CPUID.1:ECX bit 31 clear)\n");
    return 1;
  }
  if (!setup_region()) {
    perror("XHV-RESULT: FAIL hcfuzz: setting up its buffers");
    return 1;
  }
  rng_state = seed != 0U ? seed : 0x9E3779B97F4A7C15ULL; /* xorshift never leaves 0 */
  for (int i = 0; i < 16; i++) {
    rng_next(); /* small seeds give small first outputs */
  }
  uint64_t errors = 0, registered = 0;
  for (uint64_t call = 0; call < count; call++) {
    struct tv_pal_sections sections;
    struct tv_pal_params params;
    uintptr_t code = craft_sections(&sections);
    craft_params(&params);
    uintptr_t sections_at = place_in_scratch(&sections, sizeof(sections));
    uintptr_t params_at = place_in_scratch(&params, sizeof(params));

    struct fuzz_regs r;
    r.ax = fuzz_number();
    r.bx = sanitize_pointer(fuzz_word(sections_at, params_at));
    r.cx = sanitize_pointer(fuzz_word(sections_at, params_at));
    r.dx = sanitize_pointer(fuzz_word(sections_at, params_at));
    r.si = sanitize_pointer(fuzz_word(sections_at, params_at));
    r.di = sanitize_pointer(fuzz_word(sections_at, params_at));
#if defined(__x86_64__)
    r.r8 = sanitize_pointer(fuzz_word(sections_at, params_at));
    r.r9 = sanitize_pointer(fuzz_word(sections_at, params_at));
    r.r10 = sanitize_pointer(fuzz_word(sections_at, params_at));
    r.r11 = sanitize_pointer(fuzz_word(sections_at, params_at));
#endif
    bool is_reg = (uint32_t)r.ax == TV_HC_REG;
    if (is_reg && !rng_chance(4)) {
      /* Mostly the shape TrustVisor wants: sections, params, an entry in the CODE page. */
      r.cx = sections_at;
      r.si = params_at;
      r.di = sanitize_pointer(code + (rng_chance(2) ? 0U : rng_below(PAGE_BYTES)));
    }
    uintptr_t entry = r.di;
    sigset_t saved;
    if (is_reg) {
      block_signals(true, &saved);
    }
    vmcall_regs(&r);
    if (r.ax != 0U) {
      errors++;
    } else if (is_reg) {
      registered++;
      uintptr_t unreg = tv_vmcall(TV_HC_UNREG, entry, 0, 0, 0);
      if (unreg != 0U) {
        print_summary(call + 1U, errors, registered, seed);
        printf("XHV-RESULT: FAIL hcfuzz: TV_HC_UNREG of entry 0x%" PRIxPTR " returned 0x%" PRIxPTR
               " (its pages stay lent)\n",
               entry, unreg);
        return 1;
      }
    }
    if (is_reg) {
      block_signals(false, &saved);
    }
  }
  print_summary(count, errors, registered, seed);
  return 0;
}
