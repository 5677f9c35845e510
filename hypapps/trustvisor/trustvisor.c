/* SPDX-License-Identifier: Apache-2.0 */
/*
 * trustvisor: TrustVisor-style PAL isolation as an xhv hypapp.
 *
 * A guest program registers a PAL (TV_HC_REG): its code, data, stack and
 * parameter pages. From then on the rest of the guest sees TrustVisor's own
 * zero page, read-only, in place of each lent page (SHARED_CODE pages stay
 * readable and executable, never writable), and the PAL gets an EPT of its
 * own that maps only its pages and its private page tables. Calling the
 * PAL's entry point is an instruction fetch the regular EPT refuses: the
 * EPT violation saves the caller's whole context (its GPRs, segments and
 * so its privilege level, RFLAGS, CR0/CR4, debug registers and DEBUGCTL)
 * and switches this CPU to the PAL's EPT, page tables and stack in a
 * sealed context (xhv/guest.h guest_context_isolate: no FPU, no
 * breakpoints, no interrupts), with the arguments marshalled into its
 * PARAM section. The PAL returns to the sentinel address 0x4, which its
 * page tables map but its EPT does not: that EPT violation copies pointer
 * arguments back and hands the caller its own context back, with only the
 * result in RAX. Every other way out of a PAL (an exception, an access
 * outside its sections, a page taken back) ends it the same way, with an
 * error code as the result. Unregistering (TV_HC_UNREG) scrubs the writable
 * sections and gives the pages back.
 *
 * Why the FPU is off in a PAL rather than saved and scrubbed: a PAL is
 * small integer code (pal_demo builds its PALs -mgeneral-regs-only), the
 * hypervisor itself has no FPU code, and the caller's x87/SSE/AVX state
 * then simply stays in the registers, untouched, across the call. CR0.TS
 * makes every FPU, SIMD and XSAVE instruction fault before it reads or
 * writes them, and the fault ends the PAL, so the OS can neither read a
 * PAL's FPU values nor hand the PAL its own. XSAVE/XRSTOR with a scrub
 * would cost two state images of up to several KiB per call and an XSAVE
 * area per CPU, for PALs that have no use for them.
 *
 * The pure logic lives in xhv/gpt.h (guest page tables), pal_req.c
 * (request checks), marshal.c (arguments) and registry.c (the PAL table);
 * this file is the glue to the hypervisor. Registration, entry and exit run
 * with every other CPU quiesced (hypercalls and EPT violations, by
 * xhv/hypapp.h; a PAL's exception and an INIT, here), so the table, the
 * page pool and the EPTs need no locks of their own.
 * Every guest-physical access goes through the checked accessor
 * (xhv/guest_mem.h): the caller's memory in the regular view, the PAL's in
 * its own EPT.
 */
#include "hypapps/trustvisor/marshal.h"
#include "hypapps/trustvisor/pal_req.h"
#include "hypapps/trustvisor/registry.h"
#include "hypapps/trustvisor/tv_abi.h"
#include "xhv/cpu_ops.h"
#include "xhv/ept.h"
#include "xhv/gpt.h"
#include "xhv/guest.h"
#include "xhv/guest_mem.h"
#include "xhv/heap.h"
#include "xhv/hypapp.h"
#include "xhv/log.h"
#include "xhv/panic.h"
#include "xhv/quiesce.h"
#include "xhv/smp.h"
#include "xhv/string.h"

#define TV_PAGE 0x1000ULL
#define TV_PAGE_MASK (~(TV_PAGE - 1U))
#define RFLAGS_IF (1ULL << 9)
#define RFLAGS_VM (1ULL << 17)
#define CR4_LA57 (1ULL << 12)
#define MEMTYPE_WB 6U
/* What a 32-bit kernel (Debian's i386, 3G/1G split) leaves to user space. */
#define USER_LIMIT_32BIT_KERNEL 0xC0000000ULL
/* A 32-bit process under a 64-bit kernel may use nearly all of its 4 GiB. */
#define USER_LIMIT_COMPAT 0xFFFFF000ULL
#define ALL_EXCEPTIONS 0xFFFFFFFFU
#define VECTOR_GP 13U
#define USER_CPL 3U

/*
 * Pages for the PALs' EPTs and page tables: taken from the heap once, at
 * boot, and recycled through a free list (the heap itself never frees).
 */
#define POOL_PAGES 1024U
/* A PAL of PAL_REQ_MAX_TOTAL_PAGES scattered pages needs about this many tables. */
#define PAL_MAX_TABLE_PAGES 96U

struct page_pool {
  uint64_t free[POOL_PAGES];
  uint32_t free_count;
};

/* The table pages one PAL owns (its EPT's and its guest page tables'). */
struct pal_pages {
  uint64_t ept_pages[PAL_MAX_TABLE_PAGES];
  uint32_t ept_count;
  uint64_t gpt_pages[PAL_MAX_TABLE_PAGES];
  uint32_t gpt_count;
  struct ept_pages ept_source;
  struct gpt_page_source gpt_source;
  struct ept *ept; /* the PAL's EPT, which maps every page-table page it gets */
  bool ept_full;   /* mapping a page-table page into it ran out of pages */
};

/* Per PAL slot, beside the registry entry: its EPT, its pages, how its pages were mapped. */
struct pal_extra {
  struct ept ept;
  uint64_t eptp;
  struct pal_pages pages;
  enum gpt_mode mode;
  bool revoked; /* the guest took a page back while the PAL ran: ended when it stops */
  uint8_t memtype[PAL_REQ_MAX_TOTAL_PAGES];
};

/* What a CPU running a PAL must put back when it leaves. */
struct pal_run {
  int32_t pal; /* registry id, -1 when this CPU runs no PAL */
  uint64_t regular_cr3;
  uint64_t regular_pdptes[4]; /* PAE: what the CPU had cached for regular_cr3 */
  uint32_t exception_bitmap;
  struct cpu_regs caller_regs;   /* every GPR of the caller at the call */
  struct guest_context caller;   /* segments, RFLAGS, CR0/CR4, DR7, DEBUGCTL */
};

static struct {
  struct pal_registry *registry;
  struct pal_extra *extra; /* REG_MAX_PALS entries */
  struct page_pool *pool;
  struct pal_run run[XHV_MAX_CPUS];
  uint64_t zero_page; /* what a lent page reads as: never mapped writable */
  uint32_t registrations;
  uint32_t entries;
  uint32_t revocations;
} tv;

/* ---- pages --------------------------------------------------------------- */

static bool pool_take(uint64_t *pa) {
  if (tv.pool->free_count == 0U) {
    return false;
  }
  *pa = tv.pool->free[--tv.pool->free_count];
  memset(cpu_phys_ptr(*pa, TV_PAGE), 0, TV_PAGE);
  return true;
}

static void pool_give(uint64_t pa) { tv.pool->free[tv.pool->free_count++] = pa; }

static void *pal_ept_alloc(void *ctx, uint64_t *pa) {
  struct pal_pages *p = ctx;
  if (p->ept_count == PAL_MAX_TABLE_PAGES || !pool_take(pa)) {
    return 0;
  }
  p->ept_pages[p->ept_count++] = *pa;
  return cpu_phys_ptr(*pa, TV_PAGE);
}

static void *pal_ept_page(void *ctx, uint64_t pa) {
  (void)ctx;
  return cpu_phys_ptr(pa, TV_PAGE);
}

/*
 * A page for the PAL's page tables, mapped read/write in its EPT at once:
 * the CPU walks them through that EPT (and sets A/D bits), and so does the
 * hypervisor, through the checked accessor, while it builds them.
 */
static bool pal_gpt_alloc(void *ctx, uint64_t *gpa) {
  struct pal_pages *p = ctx;
  if (p->gpt_count == PAL_MAX_TABLE_PAGES || !pool_take(gpa)) {
    return false;
  }
  p->gpt_pages[p->gpt_count++] = *gpa;
  if (ept_map(p->ept, *gpa, *gpa, TV_PAGE, EPT_READ | EPT_WRITE, MEMTYPE_WB) != EPT_OK) {
    p->ept_full = true;
    return false;
  }
  return true;
}

static void pal_pages_init(struct pal_pages *p, struct ept *ept) {
  p->ept_count = 0;
  p->gpt_count = 0;
  p->ept = ept;
  p->ept_full = false;
  p->ept_source.alloc = pal_ept_alloc;
  p->ept_source.pa_to_va = pal_ept_page;
  p->ept_source.ctx = p;
  p->gpt_source.alloc = pal_gpt_alloc;
  p->gpt_source.ctx = p;
}

static void pal_pages_free(struct pal_pages *p) {
  for (uint32_t i = 0; i < p->ept_count; i++) {
    pool_give(p->ept_pages[i]);
  }
  for (uint32_t i = 0; i < p->gpt_count; i++) {
    pool_give(p->gpt_pages[i]);
  }
  p->ept_count = 0;
  p->gpt_count = 0;
}

/* ---- views ----------------------------------------------------------------- */

/* The caller's memory: the regular guest's own RAM, never hidden or lent pages. */
static const struct mem_io *regular_io(void) {
  static struct mem_io io;
  io = guest_mem_io(0);
  return &io;
}

/* A PAL's memory: what its EPT maps (its lent pages and its page tables). */
static struct mem_io pal_io(const struct reg_pal *pal) { return guest_mem_io(&tv.extra[pal->id].ept); }

static void pal_gpt(struct gpt_ctx *g, const struct reg_pal *pal, const struct mem_io *io) {
  g->mode = tv.extra[pal->id].mode;
  g->cr3 = pal->pal_cr3;
  g->pse = false;
  g->nxe = false;
  g->wp = true;
  g->maxphyaddr = 0;
  g->mem = io;
}

/* ---- registration -------------------------------------------------------- */

static uint64_t regular_cr3_key(void) {
  struct gpt_ctx g;
  guest_gpt(&g, guest_reg(GUEST_REG_CR3), regular_io());
  return gpt_cr3_base(g.mode, guest_reg(GUEST_REG_CR3));
}

/* Access the PAL needs to a section's pages. */
static uint32_t pal_prot(uint32_t type) {
  return type == TV_PAL_SECTION_CODE || type == TV_PAL_SECTION_SHARED_CODE
             ? EPT_READ | EPT_EXEC
             : EPT_READ | EPT_WRITE;
}

static bool pal_writable(uint32_t type) {
  return type == TV_PAL_SECTION_DATA || type == TV_PAL_SECTION_PARAM ||
         type == TV_PAL_SECTION_STACK;
}

/*
 * The regular view of a lent page: TrustVisor's zero page, read-only, or
 * for SHARED_CODE the page itself, read and execute only. A fetch of a
 * hidden page is a call into the PAL (or a fault); a write to any lent
 * page means the guest has taken the page back behind TrustVisor's back
 * (its kernel freed or migrated it, even mlocked pages move under
 * compaction): see revoke().
 */
static int lend_in_regular_view(uint64_t gpa, uint32_t type, uint8_t memtype) {
  guest_ept_lock();
  int rc = type == TV_PAL_SECTION_SHARED_CODE
               ? ept_map(guest_ept(), gpa, gpa, TV_PAGE, EPT_READ | EPT_EXEC, memtype)
               : ept_map(guest_ept(), gpa, tv.zero_page, TV_PAGE, EPT_READ, MEMTYPE_WB);
  guest_ept_unlock();
  return rc;
}

static void show_page(uint64_t gpa, uint8_t memtype) {
  guest_ept_lock();
  int rc = ept_map(guest_ept(), gpa, gpa, TV_PAGE, EPT_RWX, memtype);
  guest_ept_unlock();
  if (rc != EPT_OK) {
    log_printf("trustvisor: CPU %u: cannot give guest page 0x%llx back (EPT error %d)\n",
               this_cpu()->index, (unsigned long long)gpa, rc);
  }
}

/*
 * Gives every lent page of the PAL back to the regular guest: scrubbed (its
 * writable sections) while the PAL's EPT still reaches it, then removed
 * from that EPT, then shown to the guest, so no frame is ever reachable by
 * the PAL and the guest at once. The caller flushes (guest_ept_changed).
 */
static void return_pages(struct reg_pal *pal, bool scrub) {
  struct pal_extra *x = &tv.extra[pal->id];
  for (uint32_t s = 0; s < pal->num_sections; s++) {
    const struct reg_section *sec = &pal->sections[s];
    for (uint32_t k = 0; k < sec->page_num; k++) {
      uint32_t page = sec->first_page + k;
      uint64_t gpa = pal->page_gpa[page];
      if (gpa == REG_NO_GPA) {
        continue;
      }
      bool scrubbed = !scrub || !pal_writable(sec->type) ||
                      guest_mem_fill(&x->ept, gpa, 0, (uint32_t)TV_PAGE);
      if (!scrubbed) {
        /* The PAL's EPT maps every writable page read/write until here: this cannot fail. */
        xhv_panic("trustvisor: PAL %u's page 0x%llx cannot be scrubbed", pal->id,
                  (unsigned long long)gpa);
      }
      ept_set_prot(&x->ept, gpa, TV_PAGE, 0);
      show_page(gpa, x->memtype[page]);
      pal->page_gpa[page] = REG_NO_GPA;
    }
  }
}

/* Undoes a registration at any stage: scrub, give pages back, free the slot. */
static void pal_destroy(struct reg_pal *pal, bool scrub) {
  struct pal_extra *x = &tv.extra[pal->id];
  return_pages(pal, scrub);
  pal_pages_free(&x->pages);
  x->revoked = false;
  registry_remove(tv.registry, pal->cr3, pal->g64, pal->entry_gva);
  guest_ept_changed();
}

/*
 * The guest wrote to a page it lent: the page is no longer the PAL's in the
 * guest's eyes. Keeping it hidden would alias the new owner's data with the
 * zero page, so the PAL is revoked: all its pages are scrubbed and given
 * back at once, and the write is retried on the guest's own page. A PAL
 * running on another (parked) CPU keeps only its registers: its EPT maps
 * nothing of the guest's any more, so its next access ends it, with
 * TV_ERR_REVOKED for its caller, and its slot is freed then.
 */
static void revoke(struct cpu *cpu, struct reg_pal *pal, uint64_t gpa) {
  log_printf("trustvisor: CPU %u: the guest wrote to page 0x%llx lent to PAL %u: it took the "
             "page back, the PAL is revoked\n",
             cpu->index, (unsigned long long)gpa, pal->id);
  tv.revocations++;
  if (pal->running_cpu == REG_NO_CPU) {
    pal_destroy(pal, true);
    return;
  }
  tv.extra[pal->id].revoked = true;
  return_pages(pal, true);
  guest_ept_changed();
}

static uint32_t lend_section_pages(struct reg_pal *pal, const struct gpt_ctx *regular,
                                   const struct gpt_ctx *palg) {
  struct pal_extra *x = &tv.extra[pal->id];
  for (uint32_t s = 0; s < pal->num_sections; s++) {
    const struct reg_section *sec = &pal->sections[s];
    bool writable = pal_writable(sec->type);
    for (uint32_t k = 0; k < sec->page_num; k++) {
      uint32_t page = sec->first_page + k;
      uint64_t gva = sec->start_gva + (uint64_t)k * TV_PAGE;
      uint64_t gpa;
      struct gpt_leaf leaf;
      uint32_t need = GPT_ACC_USER | GPT_ACC_READ | (writable ? GPT_ACC_WRITE : 0U);
      enum gpt_status g = gpt_walk(regular, gva, need, &gpa, &leaf);
      if (g != GPT_OK) {
        return TV_ERR_WALK | g;
      }
      gpa &= TV_PAGE_MASK;
      if (!guest_mem_is_ram(gpa, TV_PAGE)) {
        return TV_ERR_NOT_RAM;
      }
      if (!guest_mem_reachable(0, gpa, TV_PAGE, EPT_READ | EPT_WRITE)) {
        return TV_ERR_EPT; /* not plain guest RAM (APIC page, hidden, lent) */
      }
      uint32_t prot;
      uint8_t memtype;
      int level;
      ept_lookup(guest_ept(), gpa, &prot, &memtype, &level);
      enum reg_status r = registry_lend_page(tv.registry, pal, page, gpa);
      if (r != REG_OK) {
        return TV_ERR_TABLE | r;
      }
      x->memtype[page] = memtype;
      uint32_t flags = GPT_MAP_USER | (writable ? GPT_MAP_WRITE : 0U) | gpt_leaf_map_flags(&leaf);
      g = gpt_map_page(palg, &x->pages.gpt_source, gva, gpa, flags);
      if (g != GPT_OK) {
        return g == GPT_ERR_NO_PAGE ? TV_ERR_NOMEM : TV_ERR_WALK | g;
      }
      int rc = ept_map(&x->ept, gpa, gpa, TV_PAGE, pal_prot(sec->type), memtype);
      if (rc != EPT_OK) {
        return rc == EPT_ERR_NOMEM ? TV_ERR_NOMEM : TV_ERR_EPT;
      }
      if (lend_in_regular_view(gpa, sec->type, memtype) != EPT_OK) {
        return TV_ERR_NOMEM;
      }
    }
  }
  return TV_OK;
}

/* The format of the guest's page tables now; GPT_MODE_NONE for one xhv cannot walk (5-level). */
static enum gpt_mode paging_mode_now(void) {
  if (guest_reg(GUEST_REG_CR4) & CR4_LA57) {
    return GPT_MODE_NONE;
  }
  struct gpt_ctx now;
  guest_gpt(&now, 0, 0);
  return now.mode;
}

static uint32_t tv_register(struct cpu *cpu, uint64_t sections_gva, uint64_t params_gva,
                            uint64_t entry_gva) {
  enum guest_paging paging = guest_paging_mode();
  if (paging == GUEST_PAGING_NONE || paging_mode_now() == GPT_MODE_NONE) {
    return TV_ERR_MODE; /* no paging, or 5-level paging */
  }
  bool g64 = guest_code_64bit();
  struct gpt_ctx regular;
  guest_gpt(&regular, guest_reg(GUEST_REG_CR3), regular_io());
  struct tv_pal_sections sections;
  struct tv_pal_params params;
  enum gpt_status g =
      gpt_read_virt(&regular, sections_gva, &sections, sizeof(sections), GPT_ACC_USER);
  if (g == GPT_OK) {
    g = gpt_read_virt(&regular, params_gva, &params, sizeof(params), GPT_ACC_USER);
  }
  if (g != GPT_OK) {
    return TV_ERR_WALK | g;
  }
  uint64_t limit = g64                           ? PAL_REQ_LIMIT_64
                   : paging == GUEST_PAGING_LONG ? USER_LIMIT_COMPAT
                                                 : USER_LIMIT_32BIT_KERNEL;
  struct pal_req_layout layout;
  enum pal_req_status q = pal_req_check(&sections, &params, entry_gva, g64, limit, &layout);
  if (q != PAL_REQ_OK) {
    log_printf("trustvisor: CPU %u: registration refused: %s\n", cpu->index,
               pal_req_status_name(q));
    return TV_ERR_REQUEST | q;
  }
  struct reg_pal *pal;
  enum reg_status r = registry_add(tv.registry, regular_cr3_key(), g64, entry_gva, &sections,
                                   &params, &layout, &pal);
  if (r != REG_OK) {
    log_printf("trustvisor: CPU %u: registration refused: %s\n", cpu->index, reg_status_name(r));
    return TV_ERR_TABLE | r;
  }
  struct pal_extra *x = &tv.extra[pal->id];
  pal_pages_init(&x->pages, &x->ept);
  x->mode = regular.mode;
  x->revoked = false;
  uint32_t err = TV_OK;
  if (ept_init(&x->ept, &x->pages.ept_source) != EPT_OK) {
    err = TV_ERR_NOMEM;
  } else {
    x->ept.max_leaf_level = EPT_LEVEL_4K;
    x->eptp = ept_eptp(&x->ept);
    if (gpt_new_root(x->mode, &x->pages.gpt_source, &pal->pal_pt_root) != GPT_OK) {
      err = TV_ERR_NOMEM;
    }
  }
  struct mem_io io = pal_io(pal);
  struct gpt_ctx palg;
  if (err == TV_OK) {
    pal->pal_cr3 = gpt_cr3_with_base(x->mode, guest_reg(GUEST_REG_CR3), pal->pal_pt_root);
    pal_gpt(&palg, pal, &io);
    err = lend_section_pages(pal, &regular, &palg);
  }
  if (err == TV_OK) {
    /* The return sentinel: page 0 is mapped in the PAL's page tables but not in its EPT. */
    g = gpt_map_page(&palg, &x->pages.gpt_source, 0, 0, GPT_MAP_USER);
    if (g != GPT_OK) {
      err = g == GPT_ERR_NO_PAGE ? TV_ERR_NOMEM : TV_ERR_WALK | g;
    }
  }
  if (err == TV_OK && x->pages.ept_full) {
    err = TV_ERR_NOMEM;
  }
  if (err == TV_OK) {
    uint64_t entry_gpa;
    g = gpt_walk(&palg, entry_gva, GPT_ACC_USER | GPT_ACC_EXEC, &entry_gpa, 0);
    err = g == GPT_OK ? TV_OK : TV_ERR_WALK | g;
    pal->entry_gpa = entry_gpa;
  }
  if (err != TV_OK) {
    log_printf("trustvisor: CPU %u: registration failed (error 0x%x)\n", cpu->index, err);
    pal_destroy(pal, false);
    return err;
  }
  guest_ept_changed();
  tv.registrations++;
  return TV_OK;
}

static uint32_t tv_unregister(uint64_t entry_gva) {
  struct reg_pal *pal =
      registry_find(tv.registry, regular_cr3_key(), guest_code_64bit(), entry_gva);
  if (pal == 0) {
    return TV_ERR_TABLE | REG_ERR_NOT_FOUND;
  }
  if (pal->running_cpu != REG_NO_CPU) {
    return TV_ERR_TABLE | REG_ERR_BUSY;
  }
  pal_destroy(pal, true);
  return TV_OK;
}

/* ---- entry and exit ------------------------------------------------------- */

static void regs_to_marshal(const struct cpu_regs *regs, uint64_t rsp, struct marshal_regs *m) {
  m->rsp = rsp;
  m->rax = regs->ax;
  m->rcx = regs->cx;
  m->rdx = regs->dx;
  m->rsi = regs->si;
  m->rdi = regs->di;
#if XHV_BITS == 64
  m->r8 = regs->r8;
  m->r9 = regs->r9;
  m->r10 = regs->r10;
  m->r11 = regs->r11;
#else
  m->r8 = m->r9 = m->r10 = m->r11 = 0;
#endif
}

static void marshal_to_regs(const struct marshal_regs *m, struct cpu_regs *regs) {
  guest_set_reg(GUEST_REG_RSP, m->rsp);
  regs->ax = (uword_t)m->rax;
  regs->cx = (uword_t)m->rcx;
  regs->dx = (uword_t)m->rdx;
  regs->si = (uword_t)m->rsi;
  regs->di = (uword_t)m->rdi;
#if XHV_BITS == 64
  regs->r8 = m->r8;
  regs->r9 = m->r9;
  regs->r10 = m->r10;
  regs->r11 = m->r11;
#endif
}

/*
 * The PAL's memory by its own virtual addresses. Its page tables map its
 * sections and nothing else, each page to the gpa its registration lent,
 * so the registry translates (no walk of tables TrustVisor wrote itself),
 * and the PAL's EPT checks every access (xhv/guest_mem.h).
 */
static uint64_t pal_gpa_of(const struct reg_pal *pal, uint64_t gva) {
  for (uint32_t s = 0; s < pal->num_sections; s++) {
    const struct reg_section *sec = &pal->sections[s];
    if (gva >= sec->start_gva && gva - sec->start_gva < (uint64_t)sec->page_num * TV_PAGE) {
      uint64_t gpa = pal->page_gpa[sec->first_page + (uint32_t)((gva - sec->start_gva) / TV_PAGE)];
      return gpa == REG_NO_GPA ? REG_NO_GPA : gpa + (gva & (TV_PAGE - 1U));
    }
  }
  return REG_NO_GPA;
}

static bool pal_virt_rw(const struct reg_pal *pal, uint64_t gva, uint8_t *buf, uint32_t len,
                        bool write) {
  const struct ept *view = &tv.extra[pal->id].ept;
  while (len != 0U) {
    uint32_t room = (uint32_t)(TV_PAGE - (gva & (TV_PAGE - 1U)));
    uint32_t n = len < room ? len : room;
    uint64_t gpa = pal_gpa_of(pal, gva);
    if (gpa == REG_NO_GPA ||
        !(write ? guest_mem_write(view, gpa, buf, n) : guest_mem_read(view, gpa, buf, n))) {
      return false;
    }
    gva += n;
    buf += n;
    len -= n;
  }
  return true;
}

static bool pal_virt_read(void *ctx, uint64_t gva, void *buf, uint32_t len) {
  return pal_virt_rw(ctx, gva, buf, len, false);
}

static bool pal_virt_write(void *ctx, uint64_t gva, const void *buf, uint32_t len) {
  return pal_virt_rw(ctx, gva, (uint8_t *)(uword_t)buf, len, true);
}

/*
 * The caller's and the PAL's memory by guest-virtual address (user access):
 * the caller's through its page tables at regular_cr3 in the regular view,
 * the PAL's as above. What marshalling reads and writes on entry and exit.
 */
struct call_views {
  struct mem_io regular_io;
  struct gpt_ctx regular_gpt;
  struct gpt_virt regular_virt;
  struct mem_io caller, pal;
};

static void call_views(struct call_views *v, const struct reg_pal *pal, uint64_t regular_cr3) {
  v->regular_io = guest_mem_io(0);
  guest_gpt(&v->regular_gpt, regular_cr3, &v->regular_io);
  v->regular_virt.gpt = &v->regular_gpt;
  v->regular_virt.access = GPT_ACC_USER;
  v->caller = gpt_virt_mem(&v->regular_virt);
  v->pal.read = pal_virt_read;
  v->pal.write = pal_virt_write;
  v->pal.ctx = (void *)(uword_t)pal; /* only read */
}

/* In PAE mode the CPU takes the PDPTEs from the VMCS: load the PAL's for its cr3. */
static void load_pal_pdptes(const struct reg_pal *pal) {
  struct pal_extra *x = &tv.extra[pal->id];
  if (x->mode != GPT_MODE_PAE) {
    return;
  }
  uint64_t pdpte[4] = {0, 0, 0, 0};
  guest_mem_read(&x->ept, pal->pal_cr3 & 0xFFFFFFE0ULL, pdpte, sizeof(pdpte));
  guest_set_pdptes(pdpte);
}

/*
 * Makes the regular caller return from its call to the PAL with `value`,
 * without running the PAL: pops the return address the call pushed. A
 * caller whose stack cannot be read gets a #GP instead.
 */
static bool return_to_caller(struct cpu_regs *regs, uint32_t value) {
  struct gpt_ctx regular;
  guest_gpt(&regular, guest_reg(GUEST_REG_CR3), regular_io());
  uint64_t rsp = guest_reg(GUEST_REG_RSP);
  bool g64 = guest_code_64bit();
  uint64_t ret = 0;
  if (gpt_read_virt(&regular, rsp, &ret, g64 ? 8U : 4U, GPT_ACC_USER | GPT_ACC_READ) != GPT_OK) {
    guest_inject_exception(VECTOR_GP, true, 0);
    return true;
  }
  if (!guest_rip_valid(ret)) {
    /* What RET to such an address raises, before it changes anything. */
    guest_inject_exception(VECTOR_GP, true, 0);
    return true;
  }
  guest_set_reg(GUEST_REG_RIP, ret);
  guest_set_reg(GUEST_REG_RSP, rsp + (g64 ? 8U : 4U));
  regs->ax = value;
  return true;
}

static bool pal_enter(struct cpu *cpu, struct cpu_regs *regs, struct reg_pal *pal, uint64_t gpa) {
  struct pal_extra *x = &tv.extra[pal->id];
  uint64_t rip = guest_reg(GUEST_REG_RIP);
  if (rip != pal->entry_gva || (gpa & TV_PAGE_MASK) != (pal->entry_gpa & TV_PAGE_MASK) ||
      guest_code_64bit() != pal->g64 || regular_cr3_key() != pal->cr3 ||
      guest_cpl() != USER_CPL || (guest_reg(GUEST_REG_RFLAGS) & RFLAGS_VM) ||
      paging_mode_now() != x->mode) {
    /*
     * A PAL runs as user code of its own process only, in the paging mode
     * it was registered in (its page tables are of that format): no kernel,
     * no virtual-8086 task, no other entry.
     */
    log_printf("trustvisor: CPU %u: fetch at 0x%llx in PAL %u that is not its entry from its "
               "process's user mode: #GP\n",
               cpu->index, (unsigned long long)rip, pal->id);
    guest_inject_exception(VECTOR_GP, true, 0);
    return true;
  }
  if (!(guest_reg(GUEST_REG_RFLAGS) & RFLAGS_IF) ||
      reg_pal_claim(pal, (int32_t)cpu->index) != REG_OK) {
    /* Running on another CPU (another thread of the process): the call fails. */
    log_printf("trustvisor: CPU %u: PAL %u is busy on CPU %d: the call returns 0x%x\n",
               cpu->index, pal->id, pal->running_cpu, TV_ERR_BUSY);
    return return_to_caller(regs, TV_ERR_BUSY);
  }
  struct call_views v;
  call_views(&v, pal, guest_reg(GUEST_REG_CR3));
  struct marshal_pal target;
  reg_pal_marshal_target(pal, &target);
  struct marshal_regs m;
  regs_to_marshal(regs, guest_reg(GUEST_REG_RSP), &m);
  enum marshal_status ms = marshal_enter(&target, &v.caller, &v.pal, &m, &pal->frame);
  if (ms == MARSHAL_OK && !guest_rip_valid(pal->frame.return_gva)) {
    ms = MARSHAL_ERR_RETURN_ADDR; /* the PAL would return where VM entry fails */
  }
  if (ms != MARSHAL_OK) {
    reg_pal_release(pal, (int32_t)cpu->index);
    log_printf("trustvisor: CPU %u: PAL %u entry refused: %s\n", cpu->index, pal->id,
               marshal_status_name(ms));
    return return_to_caller(regs, TV_ERR_MARSHAL | ms);
  }
  struct pal_run *run = &tv.run[cpu->index];
  run->pal = (int32_t)pal->id;
  run->regular_cr3 = guest_reg(GUEST_REG_CR3);
  run->exception_bitmap = guest_exception_bitmap();
  run->caller_regs = *regs;
  guest_context_save(&run->caller);
  if (x->mode == GPT_MODE_PAE) {
    guest_pdptes(run->regular_pdptes);
  }
  marshal_to_regs(&m, regs);
  /* Nothing of the regular guest runs until the PAL is done: no interrupts, no NMIs. */
  guest_nmi_hold(cpu, true);
  guest_context_isolate();
  guest_set_exception_bitmap(ALL_EXCEPTIONS);
  guest_set_reg(GUEST_REG_CR3, pal->pal_cr3);
  load_pal_pdptes(pal);
  guest_set_eptp(x->eptp);
  tv.entries++;
  return true;
}

/*
 * Back to the caller: after the sentinel return (`error` TV_OK, the result
 * in the PAL's RAX) or when the PAL was ended (`error`). The caller gets
 * its own context back whatever the PAL did to the CPU's: every GPR as at
 * the call but RAX (the result) and the caller-saved ones its ABI lets a
 * call clobber (zeroed), its segments and privilege level, RFLAGS, CR0 and
 * CR4, DR7 and DEBUGCTL; RSP past the return address, RIP there.
 */
static void pal_leave(struct cpu *cpu, struct cpu_regs *regs, uint32_t error) {
  struct pal_run *run = &tv.run[cpu->index];
  struct reg_pal *pal = registry_get(tv.registry, (uint32_t)run->pal);
  struct pal_extra *x = &tv.extra[pal->id];
  uword_t result = regs->ax;
  if (x->revoked) {
    error = TV_ERR_REVOKED;
  }
  /* Whatever event the PAL's exit interrupted was the PAL's (an INT n, say). */
  guest_event_cancel(cpu);
  guest_set_eptp(guest_regular_eptp());
  guest_set_reg(GUEST_REG_CR3, run->regular_cr3);
  if (x->mode == GPT_MODE_PAE) {
    guest_set_pdptes(run->regular_pdptes);
  }
  guest_set_exception_bitmap(run->exception_bitmap);
  guest_context_restore(&run->caller);
  struct call_views v;
  call_views(&v, pal, run->regular_cr3);
  struct marshal_regs m;
  regs_to_marshal(&run->caller_regs, pal->frame.saved_rsp, &m);
  if (error != TV_OK) {
    /* A PAL that was ended has its buffers not copied back: the caller gets the error. */
    struct marshal_frame none = pal->frame;
    none.num_copies = 0;
    marshal_leave(&none, pal->g64, &v.caller, &v.pal, &m);
    m.rax = error;
  } else {
    enum marshal_status ms = marshal_leave(&pal->frame, pal->g64, &v.caller, &v.pal, &m);
    m.rax = result;
    if (ms != MARSHAL_OK) {
      log_printf("trustvisor: CPU %u: PAL %u copy-back failed: %s\n", cpu->index, pal->id,
                 marshal_status_name(ms));
      m.rax = TV_ERR_MARSHAL | ms;
    }
  }
  *regs = run->caller_regs;
  marshal_to_regs(&m, regs);
  if (!pal->g64) {
    regs->ax = (uint32_t)regs->ax;
  }
  guest_set_reg(GUEST_REG_RIP, pal->frame.return_gva);
  reg_pal_release(pal, (int32_t)cpu->index);
  run->pal = -1;
  if (x->revoked) {
    pal_destroy(pal, true);
  }
  guest_nmi_hold(cpu, false);
}

/* ---- hypapp callbacks ----------------------------------------------------- */

static void tv_init(struct cpu *cpu) {
  if (cpu->is_bsp) {
    uint64_t pa;
    tv.registry = heap_alloc_pages((uint32_t)((sizeof(*tv.registry) + TV_PAGE - 1U) / TV_PAGE),
                                   1, &pa);
    tv.extra = heap_alloc_pages(
        (uint32_t)((sizeof(*tv.extra) * REG_MAX_PALS + TV_PAGE - 1U) / TV_PAGE), 1, &pa);
    tv.pool = heap_alloc_pages((uint32_t)((sizeof(*tv.pool) + TV_PAGE - 1U) / TV_PAGE), 1, &pa);
    registry_init(tv.registry);
    for (uint32_t i = 0; i < POOL_PAGES; i++) {
      heap_alloc_pages(1, 1, &pa);
      pool_give(pa);
    }
    heap_alloc_pages(1, 1, &tv.zero_page); /* zeroed, and only ever mapped read-only */
    for (uint32_t i = 0; i < XHV_MAX_CPUS; i++) {
      tv.run[i].pal = -1;
    }
    log_printf("trustvisor: ready: %u PALs of up to %u pages, %u table pages\n", REG_MAX_PALS,
               PAL_REQ_MAX_TOTAL_PAGES, POOL_PAGES);
  }
}

static bool tv_hypercall(struct cpu *cpu, struct cpu_regs *regs) {
  uint32_t nr = (uint32_t)regs->ax;
  if (nr != TV_HC_REG && nr != TV_HC_UNREG && nr != TV_HC_TEST) {
    return false;
  }
  if (tv.run[cpu->index].pal >= 0) {
    regs->ax = TV_ERR_IN_PAL; /* a PAL has no hypercalls */
    return true;
  }
  bool g64 = guest_code_64bit();
  uint64_t mask = g64 ? UINT64_MAX : 0xFFFFFFFFULL;
  switch (nr) {
  case TV_HC_REG:
    regs->ax = tv_register(cpu, regs->cx & mask, regs->si & mask, regs->di & mask);
    break;
  case TV_HC_UNREG:
    regs->ax = tv_unregister(regs->cx & mask);
    break;
  default:
    log_printf("trustvisor: CPU %u: test hypercall, rcx=0x%llx\n", cpu->index,
               (unsigned long long)(regs->cx & mask));
    regs->ax = TV_OK;
    break;
  }
  return true;
}

static bool tv_cpuid(struct cpu *cpu, struct cpu_regs *regs) {
  if ((uint32_t)regs->ax != TV_CPUID_LEAF || (uint32_t)regs->cx != 0U) {
    return false;
  }
  int32_t pal = tv.run[cpu->index].pal;
  regs->ax = TV_CPUID_SIGNATURE;
  regs->bx = pal >= 0 ? (uint32_t)pal : TV_CPUID_NO_PAL;
  regs->cx = guest_code_64bit() ? 1U : 0U;
  regs->dx = 0;
  return true;
}

static bool tv_ept_violation(struct cpu *cpu, struct cpu_regs *regs, uint64_t gpa,
                             uint32_t access) {
  struct pal_run *run = &tv.run[cpu->index];
  if (run->pal >= 0) {
    if (access == EPT_EXEC && guest_reg(GUEST_REG_RIP) == MARSHAL_RETURN_SENTINEL &&
        gpa == MARSHAL_RETURN_SENTINEL) {
      pal_leave(cpu, regs, TV_OK);
    } else {
      log_printf("trustvisor: CPU %u: PAL %d touched guest-physical 0x%llx (access %u, rip "
                 "0x%llx) outside its sections: ended\n",
                 cpu->index, run->pal, (unsigned long long)gpa, access,
                 (unsigned long long)guest_reg(GUEST_REG_RIP));
      pal_leave(cpu, regs, TV_ERR_PAL_FAULT);
    }
    return true;
  }
  struct reg_pal *pal = registry_find_lent_gpa(tv.registry, gpa, 0);
  if (pal == 0) {
    return false; /* not ours: the core reports it */
  }
  if (access == EPT_EXEC) {
    return pal_enter(cpu, regs, pal, gpa);
  }
  /* Reads see the zero page (or shared code) without exiting: this is a write. */
  revoke(cpu, pal, gpa);
  return true;
}

static bool tv_exception(struct cpu *cpu, struct cpu_regs *regs, uint32_t vector,
                         uint32_t error_code) {
  struct pal_run *run = &tv.run[cpu->index];
  if (run->pal < 0) {
    return false;
  }
  log_printf("trustvisor: CPU %u: PAL %d took exception %u (error 0x%x) at rip 0x%llx: ended\n",
             cpu->index, run->pal, vector, error_code,
             (unsigned long long)guest_reg(GUEST_REG_RIP));
  /* Leaving may destroy a revoked PAL (the pool, the registry, the EPT): as every exit, quiesced. */
  quiesce_begin(cpu);
  pal_leave(cpu, regs, TV_ERR_PAL_FAULT);
  quiesce_end(cpu);
  return true;
}

static void tv_shutdown(struct cpu *cpu) {
  /*
   * PALs still registered at power-off or reset leave nothing behind in
   * their writable pages (RAM survives a warm reset). One running on a
   * parked CPU is ended as a revoked one is: scrubbed and given back now,
   * its slot freed if its CPU ever leaves it (it will not: the machine ends).
   */
  uint32_t left = 0;
  for (uint32_t id = 0; id < REG_MAX_PALS; id++) {
    struct reg_pal *pal = registry_get(tv.registry, id);
    if (pal == 0) {
      continue;
    }
    if (pal->running_cpu == REG_NO_CPU) {
      pal_destroy(pal, true);
    } else {
      tv.extra[pal->id].revoked = true;
      return_pages(pal, true);
      /* Its registers too: they sit in its CPU's exit frame, in RAM a reset keeps. */
      struct cpu *c = cpu_by_index((uint32_t)pal->running_cpu);
      if (c != 0 && c->exit_regs != 0) {
        memset(c->exit_regs, 0, sizeof(*c->exit_regs));
      }
    }
    left++;
  }
  guest_ept_changed();
  log_printf("trustvisor: CPU %u: shutdown: %u registrations, %u PAL calls, %u PALs scrubbed, "
             "%u revoked\n",
             cpu->index, tv.registrations, tv.entries, left, tv.revocations);
}

/*
 * The guest INITed a CPU in the middle of a PAL: the PAL's run ends there,
 * with no caller to return to (its context is gone with the INIT); the PAL
 * stays registered, free for its next call. Nothing of it stays on the CPU:
 * the regular EPT and the caller's exception bitmap come back, and the INIT
 * state the CPU is given next has nothing of the PAL's registers.
 */
static void tv_cpu_reset(struct cpu *cpu) {
  struct pal_run *run = &tv.run[cpu->index];
  if (run->pal < 0) {
    return;
  }
  quiesce_begin(cpu);
  struct reg_pal *pal = registry_get(tv.registry, (uint32_t)run->pal);
  log_printf("trustvisor: CPU %u: INIT while PAL %u ran: its call is abandoned\n", cpu->index,
             pal->id);
  guest_event_cancel(cpu);
  guest_set_eptp(guest_regular_eptp());
  guest_set_exception_bitmap(run->exception_bitmap);
  reg_pal_release(pal, (int32_t)cpu->index);
  run->pal = -1;
  if (tv.extra[pal->id].revoked) {
    pal_destroy(pal, true);
  }
  guest_nmi_hold(cpu, false);
  quiesce_end(cpu);
}

const struct hypapp xhv_hypapp = {
    .name = "trustvisor",
    .init = tv_init,
    .hypercall = tv_hypercall,
    .cpuid = tv_cpuid,
    .ept_violation = tv_ept_violation,
    .exception = tv_exception,
    .cpu_reset = tv_cpu_reset,
    .shutdown = tv_shutdown,
};
