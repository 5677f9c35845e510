/* SPDX-License-Identifier: Apache-2.0 */
/*
 * trustvisor: TrustVisor-style PAL isolation as an xhv hypapp.
 *
 * A guest program registers a PAL (TV_HC_REG): its code, data, stack and
 * parameter pages. From then on the rest of the guest sees a blank page in
 * their place (the regular EPT maps each lent page to the hypervisor's
 * shared blank page, readable and writable, never executable), and the PAL
 * gets an EPT of its own that maps only its pages and its private page
 * tables. Calling the PAL's entry point is an instruction fetch the regular
 * EPT refuses: the EPT violation switches this CPU to the PAL's EPT, page
 * tables and stack, with the arguments marshalled into its PARAM section.
 * The PAL returns to the sentinel address 0x4, which its page tables map
 * but its EPT does not: that EPT violation copies pointer arguments back
 * and switches to the caller. Unregistering (TV_HC_UNREG) scrubs the
 * writable sections and gives the pages back.
 *
 * The pure logic lives in gpt.c (guest page tables), pal_req.c (request
 * checks), marshal.c (arguments) and registry.c (the PAL table); this file
 * is the glue to the hypervisor. Registration, entry and exit run with
 * every other CPU quiesced (hypercalls and EPT violations, xhv/hypapp.h),
 * so the table and the EPTs need no locks of their own.
 */
#include "hypapps/trustvisor/trustvisor.h"

#include "hypapps/trustvisor/gpt.h"
#include "hypapps/trustvisor/marshal.h"
#include "hypapps/trustvisor/pal_req.h"
#include "hypapps/trustvisor/registry.h"
#include "pal_demo/tv_abi.h"
#include "xhv/ept.h"
#include "xhv/guest.h"
#include "xhv/heap.h"
#include "xhv/hypapp.h"
#include "xhv/log.h"
#include "xhv/smp.h"
#include "xhv/string.h"

#define TV_PAGE 0x1000ULL
#define TV_PAGE_MASK (~(TV_PAGE - 1U))
#define HOST_MAP_LIMIT 0x100000000ULL
#define CR4_PSE (1ULL << 4)
#define CR0_WP (1ULL << 16)
#define EFER_NXE (1ULL << 11)
#define RFLAGS_IF (1ULL << 9)
#define RFLAGS_TF (1ULL << 8)
#define MEMTYPE_WB 6U
/* What a 32-bit kernel (Debian's i386, 3G/1G split) leaves to user space. */
#define USER_LIMIT_32BIT_KERNEL 0xC0000000ULL
/* A 32-bit process under a 64-bit kernel may use nearly all of its 4 GiB. */
#define USER_LIMIT_COMPAT 0xFFFFF000ULL
#define ALL_EXCEPTIONS 0xFFFFFFFFU
#define VECTOR_GP 13U

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
};

/* Per PAL slot, beside the registry entry: its EPT, its pages, how its pages were mapped. */
struct pal_extra {
  struct ept ept;
  uint64_t eptp;
  struct pal_pages pages;
  enum gpt_mode mode;
  uint8_t memtype[PAL_REQ_MAX_TOTAL_PAGES];
};

/* What a CPU running a PAL must put back when it leaves. */
struct pal_run {
  int32_t pal; /* registry id, -1 when this CPU runs no PAL */
  uint64_t regular_cr3;
  uint64_t regular_pdptes[4]; /* PAE: what the CPU had cached for regular_cr3 */
  uint32_t exception_bitmap;
};

static struct {
  struct pal_registry *registry;
  struct pal_extra *extra; /* REG_MAX_PALS entries */
  struct page_pool *pool;
  struct pal_run run[XHV_MAX_CPUS];
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
  memset((void *)(uword_t)*pa, 0, TV_PAGE);
  return true;
}

static void pool_give(uint64_t pa) { tv.pool->free[tv.pool->free_count++] = pa; }

static void *pal_ept_alloc(void *ctx, uint64_t *pa) {
  struct pal_pages *p = ctx;
  if (p->ept_count == PAL_MAX_TABLE_PAGES || !pool_take(pa)) {
    return 0;
  }
  p->ept_pages[p->ept_count++] = *pa;
  return (void *)(uword_t)*pa;
}

static void *identity(void *ctx, uint64_t pa) {
  (void)ctx;
  return (void *)(uword_t)pa;
}

static bool pal_gpt_alloc(void *ctx, uint64_t *gpa) {
  struct pal_pages *p = ctx;
  if (p->gpt_count == PAL_MAX_TABLE_PAGES || !pool_take(gpa)) {
    return false;
  }
  p->gpt_pages[p->gpt_count++] = *gpa;
  return true;
}

static void pal_pages_init(struct pal_pages *p) {
  p->ept_count = 0;
  p->gpt_count = 0;
  p->ept_source.alloc = pal_ept_alloc;
  p->ept_source.pa_to_va = identity;
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

/* ---- memory accessors ---------------------------------------------------- */

/*
 * The regular guest's memory, as the guest may name it: ordinary guest RAM,
 * never hypervisor memory, never a page lent to a PAL (a caller must not be
 * able to have another PAL's pages copied into its own).
 */
static bool regular_phys_rw(uint64_t gpa, void *buf, uint32_t len, bool write) {
  uint8_t *b = buf;
  while (len != 0U) {
    uint32_t chunk = (uint32_t)(TV_PAGE - (gpa & (TV_PAGE - 1U)));
    chunk = chunk < len ? chunk : len;
    uint8_t *p = guest_phys(gpa, chunk);
    if (p == 0 || registry_find_lent_gpa(tv.registry, gpa, 0) != 0) {
      return false;
    }
    if (write) {
      memcpy(p, b, chunk);
    } else {
      memcpy(b, p, chunk);
    }
    gpa += chunk;
    b += chunk;
    len -= chunk;
  }
  return true;
}

static bool regular_phys_read(void *ctx, uint64_t gpa, void *buf, uint32_t len) {
  (void)ctx;
  return regular_phys_rw(gpa, buf, len, false);
}

static bool regular_phys_write(void *ctx, uint64_t gpa, const void *buf, uint32_t len) {
  (void)ctx;
  return regular_phys_rw(gpa, (void *)(uword_t)buf, len, true);
}

static const struct tv_mem regular_phys = {regular_phys_read, regular_phys_write, 0};

/*
 * A PAL's memory: its page tables (hypervisor pages) and its lent pages,
 * reached only through tables the hypervisor built, so any address below
 * the hypervisor's map is trusted.
 */
static bool pal_phys_read(void *ctx, uint64_t gpa, void *buf, uint32_t len) {
  (void)ctx;
  if (gpa >= HOST_MAP_LIMIT || HOST_MAP_LIMIT - gpa < len) {
    return false;
  }
  memcpy(buf, (const void *)(uword_t)gpa, len);
  return true;
}

static bool pal_phys_write(void *ctx, uint64_t gpa, const void *buf, uint32_t len) {
  (void)ctx;
  if (gpa >= HOST_MAP_LIMIT || HOST_MAP_LIMIT - gpa < len) {
    return false;
  }
  memcpy((void *)(uword_t)gpa, buf, len);
  return true;
}

static const struct tv_mem pal_phys = {pal_phys_read, pal_phys_write, 0};

static enum gpt_mode gpt_mode_of(enum guest_paging p) {
  switch (p) {
  case GUEST_PAGING_32:
    return GPT_MODE_32;
  case GUEST_PAGING_PAE:
    return GPT_MODE_PAE;
  case GUEST_PAGING_LONG:
    return GPT_MODE_LONG4;
  default:
    return GPT_MODE_NONE;
  }
}

/* The current guest's page tables, as its registers say. */
static void regular_gpt(struct gpt_ctx *g, uint64_t cr3) {
  g->mode = gpt_mode_of(guest_paging_mode());
  g->cr3 = cr3;
  g->pse = (guest_reg(GUEST_REG_CR4) & CR4_PSE) != 0;
  g->nxe = (guest_reg(GUEST_REG_EFER) & EFER_NXE) != 0;
  g->wp = (guest_reg(GUEST_REG_CR0) & CR0_WP) != 0;
  g->maxphyaddr = 0;
  g->mem = &regular_phys;
}

static void pal_gpt(struct gpt_ctx *g, const struct reg_pal *pal, enum gpt_mode mode) {
  g->mode = mode;
  g->cr3 = pal->pal_cr3;
  g->pse = false;
  g->nxe = false;
  g->wp = true;
  g->maxphyaddr = 0;
  g->mem = &pal_phys;
}

/* ---- registration -------------------------------------------------------- */

static uint64_t regular_cr3_key(void) {
  return gpt_cr3_base(gpt_mode_of(guest_paging_mode()), guest_reg(GUEST_REG_CR3));
}

/* Access the PAL needs to a section's pages, and what the regular guest keeps. */
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
 * The regular view of a lent page: the shared blank page, read-only. A
 * fetch there is a call into the PAL (or a fault); a write means the guest
 * has taken the page back behind TrustVisor's back (its kernel freed or
 * migrated it, even mlocked pages move under compaction): see revoke().
 */
static int hide_page(uint64_t gpa) {
  guest_ept_lock();
  int rc = ept_map(guest_ept(), gpa, guest_blank_page(), TV_PAGE, EPT_READ, MEMTYPE_WB);
  guest_ept_unlock();
  return rc;
}

static void show_page(uint64_t gpa, uint8_t memtype) {
  guest_ept_lock();
  int rc = ept_map(guest_ept(), gpa, gpa, TV_PAGE, EPT_RWX, memtype);
  guest_ept_unlock();
  if (rc != EPT_OK) {
    log_printf("trustvisor: cannot give guest page 0x%llx back (EPT error %d)\n",
               (unsigned long long)gpa, rc);
  }
}

/* Undoes a registration at any stage: scrub, give pages back, free the slot. */
static void pal_destroy(struct reg_pal *pal, bool scrub) {
  struct pal_extra *x = &tv.extra[pal->id];
  for (uint32_t s = 0; s < pal->num_sections; s++) {
    const struct reg_section *sec = &pal->sections[s];
    for (uint32_t k = 0; k < sec->page_num; k++) {
      uint32_t page = sec->first_page + k;
      uint64_t gpa = pal->page_gpa[page];
      if (gpa == REG_NO_GPA) {
        continue;
      }
      if (scrub && pal_writable(sec->type)) {
        memset((void *)(uword_t)gpa, 0, TV_PAGE);
      }
      show_page(gpa, x->memtype[page]);
    }
  }
  pal_pages_free(&x->pages);
  registry_remove(tv.registry, pal->cr3, pal->g64, pal->entry_gva);
  guest_ept_changed();
}

/*
 * The guest wrote to a page it lent: the page is no longer the PAL's in the
 * guest's eyes. Keeping it hidden would alias the new owner's data with the
 * shared blank page, so the PAL is revoked: scrubbed and its pages given
 * back, and the write is retried on the guest's own page. A PAL running on
 * another (parked) CPU keeps its pages until it returns; only this page is
 * given back now.
 */
static void revoke(struct cpu *cpu, struct reg_pal *pal, uint64_t gpa, uint32_t page) {
  log_printf("trustvisor: CPU %u: the guest wrote to page 0x%llx lent to PAL %u: it took the "
             "page back, the PAL is revoked\n",
             cpu->index, (unsigned long long)gpa, pal->id);
  tv.revocations++;
  if (pal->running_cpu != REG_NO_CPU) {
    show_page(gpa & TV_PAGE_MASK, tv.extra[pal->id].memtype[page]);
    /* No longer the PAL's: never scrubbed or given back again on its behalf. */
    pal->page_gpa[page] = REG_NO_GPA;
    guest_ept_changed();
    return;
  }
  pal_destroy(pal, true);
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
      if (guest_phys(gpa, (uint32_t)TV_PAGE) == 0) {
        return TV_ERR_NOT_RAM;
      }
      uint32_t prot;
      uint8_t memtype;
      int level;
      uint64_t hpa = ept_lookup(guest_ept(), gpa, &prot, &memtype, &level);
      if (hpa != gpa || prot != EPT_RWX) {
        return TV_ERR_EPT; /* not plain guest RAM (APIC page, hidden, lent) */
      }
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
      if (sec->type != TV_PAL_SECTION_SHARED_CODE && hide_page(gpa) != EPT_OK) {
        return TV_ERR_NOMEM;
      }
    }
  }
  return TV_OK;
}

static uint32_t tv_register(struct cpu *cpu, uint64_t sections_gva, uint64_t params_gva,
                            uint64_t entry_gva) {
  enum guest_paging paging = guest_paging_mode();
  if (paging == GUEST_PAGING_NONE) {
    return TV_ERR_MODE;
  }
  bool g64 = guest_code_64bit();
  struct gpt_ctx regular;
  regular_gpt(&regular, guest_reg(GUEST_REG_CR3));
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
  pal_pages_init(&x->pages);
  x->mode = regular.mode;
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
  struct gpt_ctx palg;
  if (err == TV_OK) {
    pal->pal_cr3 = gpt_cr3_with_base(x->mode, guest_reg(GUEST_REG_CR3), pal->pal_pt_root);
    pal_gpt(&palg, pal, x->mode);
    err = lend_section_pages(pal, &regular, &palg);
  }
  if (err == TV_OK) {
    /*
     * The return sentinel: page 0 is mapped in the PAL's page tables but
     * not in its EPT, so `ret` to 0x4 exits. Then the CPU must be able to
     * walk the PAL's tables through its EPT: map them, read/write (A/D bits).
     */
    g = gpt_map_page(&palg, &x->pages.gpt_source, 0, 0, GPT_MAP_USER);
    if (g != GPT_OK) {
      err = g == GPT_ERR_NO_PAGE ? TV_ERR_NOMEM : TV_ERR_WALK | g;
    }
    for (uint32_t i = 0; err == TV_OK && i < x->pages.gpt_count; i++) {
      if (ept_map(&x->ept, x->pages.gpt_pages[i], x->pages.gpt_pages[i], TV_PAGE,
                  EPT_READ | EPT_WRITE, MEMTYPE_WB) != EPT_OK) {
        err = TV_ERR_NOMEM;
      }
    }
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

static uint32_t tv_unregister(struct cpu *cpu, uint64_t entry_gva) {
  struct reg_pal *pal =
      registry_find(tv.registry, regular_cr3_key(), guest_code_64bit(), entry_gva);
  if (pal == 0) {
    return TV_ERR_TABLE | REG_ERR_NOT_FOUND;
  }
  if (pal->running_cpu != REG_NO_CPU) {
    return TV_ERR_TABLE | REG_ERR_BUSY;
  }
  (void)cpu;
  pal_destroy(pal, true);
  return TV_OK;
}

/* ---- entry and exit ------------------------------------------------------- */

static void regs_to_marshal(const struct cpu_regs *regs, struct marshal_regs *m) {
  m->rsp = guest_reg(GUEST_REG_RSP);
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
 * The caller's and the PAL's memory by guest-virtual address (user access),
 * through the caller's page tables at regular_cr3 and the PAL's own: what
 * marshalling reads and writes on entry and exit.
 */
struct call_views {
  struct gpt_ctx regular_gpt, pal_gpt;
  struct gpt_virt regular_virt, pal_virt;
  struct tv_mem caller, pal;
};

static void call_views(struct call_views *v, const struct reg_pal *pal, uint64_t regular_cr3) {
  regular_gpt(&v->regular_gpt, regular_cr3);
  pal_gpt(&v->pal_gpt, pal, tv.extra[pal->id].mode);
  v->regular_virt.gpt = &v->regular_gpt;
  v->regular_virt.access = GPT_ACC_USER;
  v->pal_virt.gpt = &v->pal_gpt;
  v->pal_virt.access = GPT_ACC_USER;
  v->caller = gpt_virt_mem(&v->regular_virt);
  v->pal = gpt_virt_mem(&v->pal_virt);
}

/* In PAE mode the CPU takes the PDPTEs from the VMCS: load the PAL's for its cr3. */
static void load_pal_pdptes(enum gpt_mode mode, uint64_t cr3) {
  if (mode != GPT_MODE_PAE) {
    return;
  }
  uint64_t pdpte[4] = {0, 0, 0, 0};
  pal_phys_read(0, cr3 & 0xFFFFFFE0ULL, pdpte, sizeof(pdpte));
  guest_set_pdptes(pdpte);
}

/*
 * Makes the regular caller return from its call to the PAL with `value`,
 * without running the PAL: pops the return address the call pushed. A
 * caller whose stack cannot be read gets a #GP instead.
 */
static bool return_to_caller(struct cpu_regs *regs, uint32_t value) {
  struct gpt_ctx regular;
  regular_gpt(&regular, guest_reg(GUEST_REG_CR3));
  uint64_t rsp = guest_reg(GUEST_REG_RSP);
  bool g64 = guest_code_64bit();
  uint64_t ret = 0;
  if (gpt_read_virt(&regular, rsp, &ret, g64 ? 8U : 4U, GPT_ACC_USER | GPT_ACC_READ) != GPT_OK) {
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
      guest_code_64bit() != pal->g64 || regular_cr3_key() != pal->cr3) {
    log_printf("trustvisor: CPU %u: fetch at 0x%llx in PAL %u that is not its entry: #GP\n",
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
  regs_to_marshal(regs, &m);
  enum marshal_status ms = marshal_enter(&target, &v.caller, &v.pal, &m, &pal->frame);
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
  if (x->mode == GPT_MODE_PAE) {
    guest_pdptes(run->regular_pdptes);
  }
  marshal_to_regs(&m, regs);
  /* Nothing of the regular guest runs until the PAL returns: no interrupts, no NMIs. */
  guest_nmi_hold(cpu, true);
  guest_set_reg(GUEST_REG_RFLAGS, guest_reg(GUEST_REG_RFLAGS) & ~(RFLAGS_IF | RFLAGS_TF));
  guest_set_exception_bitmap(ALL_EXCEPTIONS);
  guest_set_reg(GUEST_REG_CR3, pal->pal_cr3);
  load_pal_pdptes(x->mode, pal->pal_cr3);
  guest_set_eptp(x->eptp);
  tv.entries++;
  return true;
}

/* Back to the caller: after a normal return (result in RAX) or a PAL fault (`error`). */
static void pal_leave(struct cpu *cpu, struct cpu_regs *regs, uint32_t error) {
  struct pal_run *run = &tv.run[cpu->index];
  struct reg_pal *pal = registry_get(tv.registry, (uint32_t)run->pal);
  struct pal_extra *x = &tv.extra[pal->id];
  guest_set_eptp(guest_regular_eptp());
  guest_set_reg(GUEST_REG_CR3, run->regular_cr3);
  if (x->mode == GPT_MODE_PAE) {
    guest_set_pdptes(run->regular_pdptes);
  }
  guest_set_exception_bitmap(run->exception_bitmap);
  struct call_views v;
  call_views(&v, pal, run->regular_cr3);
  struct marshal_regs m;
  regs_to_marshal(regs, &m);
  if (error != TV_OK) {
    /* A faulting PAL's buffers are not copied back: the caller gets the error. */
    struct marshal_frame none = pal->frame;
    none.num_copies = 0;
    marshal_leave(&none, pal->g64, &v.caller, &v.pal, &m);
    m.rax = error;
  } else {
    enum marshal_status ms = marshal_leave(&pal->frame, pal->g64, &v.caller, &v.pal, &m);
    if (ms != MARSHAL_OK) {
      log_printf("trustvisor: CPU %u: PAL %u copy-back failed: %s\n", cpu->index, pal->id,
                 marshal_status_name(ms));
      m.rax = TV_ERR_MARSHAL | ms;
    }
  }
  marshal_to_regs(&m, regs);
  guest_set_reg(GUEST_REG_RIP, pal->frame.return_gva);
  guest_set_reg(GUEST_REG_RFLAGS, guest_reg(GUEST_REG_RFLAGS) | RFLAGS_IF);
  reg_pal_release(pal, (int32_t)cpu->index);
  run->pal = -1;
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
    regs->ax = tv_unregister(cpu, regs->cx & mask);
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
  uint32_t page;
  struct reg_pal *pal = registry_find_lent_gpa(tv.registry, gpa, &page);
  if (pal == 0) {
    return false; /* not ours: the core reports it */
  }
  if (access == EPT_EXEC) {
    return pal_enter(cpu, regs, pal, gpa);
  }
  /* Reads see the blank page without exiting: this is a write. */
  revoke(cpu, pal, gpa, page);
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
  pal_leave(cpu, regs, TV_ERR_PAL_FAULT);
  return true;
}

static void tv_shutdown(struct cpu *cpu) {
  /* PALs still registered at power-off leave nothing behind in their writable pages. */
  uint32_t left = 0;
  for (uint32_t id = 0; id < REG_MAX_PALS; id++) {
    struct reg_pal *pal = registry_get(tv.registry, id);
    if (pal != 0 && pal->running_cpu == REG_NO_CPU) {
      pal_destroy(pal, true);
      left++;
    }
  }
  log_printf("trustvisor: CPU %u: shutdown: %u registrations, %u PAL calls, %u PALs scrubbed, "
             "%u revoked\n",
             cpu->index, tv.registrations, tv.entries, left, tv.revocations);
}

const struct hypapp xhv_hypapp = {
    .name = "trustvisor",
    .init = tv_init,
    .hypercall = tv_hypercall,
    .cpuid = tv_cpuid,
    .ept_violation = tv_ept_violation,
    .exception = tv_exception,
    .shutdown = tv_shutdown,
};
