/* SPDX-License-Identifier: Apache-2.0 */
/* The regular guest's EPT: built once at boot, edited under one lock, flushed on every CPU. */
#include "xhv/cpu_ops.h"
#include "xhv/ept.h"
#include "xhv/guest.h"
#include "xhv/guest_ept.h"
#include "xhv/heap.h"
#include "xhv/panic.h"
#include "xhv/percpu.h"
#include "xhv/quiesce.h"
#include "xhv/string.h"
#include "xhv/vmcs.h"

#define INVEPT_SINGLE_CONTEXT 1U
#define INVEPT_ALL_CONTEXTS 2U
#define GUEST_HIDDEN_RANGES 2U

static struct ept regular_ept;
static struct ept_pages ept_pool;
static uint64_t regular_eptp;
static uint64_t hidden[GUEST_HIDDEN_RANGES][2]; /* [base, size) */
static uint64_t hidden_zero_pa;                 /* what hidden memory reads as */
static struct mtrr_state memory_types;          /* the MTRRs at boot */
static uint64_t mapped_top;                     /* [0, mapped_top) mapped at boot */
static volatile uint32_t ept_lock;              /* ept_map is not reentrant */
static volatile uint32_t ept_generation;

static void *pool_alloc(void *ctx, uint64_t *pa) {
  (void)ctx;
  return heap_alloc_pages(1, 1, pa);
}

static void *pool_pa_to_va(void *ctx, uint64_t pa) {
  (void)ctx;
  return cpu_phys_ptr(pa, PAGE_SIZE);
}

void guest_ept_init(uint64_t top, const struct mtrr_state *mtrr, uint64_t hide_base,
                    uint64_t hide_size, uint64_t second_base, uint64_t second_size) {
  ept_pool.alloc = pool_alloc;
  ept_pool.pa_to_va = pool_pa_to_va;
  ept_pool.ctx = 0;
  hidden[0][0] = hide_base;
  hidden[0][1] = hide_size;
  hidden[1][0] = second_base;
  hidden[1][1] = second_size;
  if (ept_init(&regular_ept, &ept_pool) != EPT_OK) {
    xhv_panic("ept: cannot allocate the root table");
  }
  memory_types = *mtrr;
  mapped_top = top;
  if (ept_identity_map(&regular_ept, top, mtrr) != EPT_OK) {
    xhv_panic("ept: building the guest's identity map failed");
  }
  for (uint32_t i = 0; i < GUEST_HIDDEN_RANGES; i++) {
    if (hidden[i][1] != 0U && ept_set_prot(&regular_ept, hidden[i][0], hidden[i][1], 0) != EPT_OK) {
      xhv_panic("ept: hiding the hypervisor from the guest failed");
    }
  }
  regular_eptp = ept_eptp(&regular_ept);
  /* Zeroed by the heap; mapped only read-only, anywhere, so it stays zero. */
  heap_alloc_pages(1, 1, &hidden_zero_pa);
}

void guest_ept_hypervisor_image(uint64_t *base, uint64_t *size) {
  *base = hidden[1][0];
  *size = hidden[1][1];
}

#define DEVICE_REGION (2ULL << 20)

bool guest_ept_map_device(uint64_t gpa) {
  uint32_t bits = memory_types.phys_addr_bits;
  uint64_t limit = bits != 0U && bits < 64U ? 1ULL << bits : EPT_GPA_LIMIT;
  if (gpa < mapped_top || gpa >= limit || gpa >= EPT_GPA_LIMIT || guest_hidden_gpa(gpa)) {
    return false;
  }
  uint64_t base = gpa & ~(DEVICE_REGION - 1U);
  struct cpu *self = this_cpu();
  quiesce_begin(self);
  guest_ept_lock();
  uint32_t prot = 0;
  bool mapped = ept_lookup(&regular_ept, gpa, &prot, 0, 0) != EPT_NOT_PRESENT;
  int rc = mapped ? EPT_OK
                  : ept_identity_map_range(&regular_ept, base, base + DEVICE_REGION, &memory_types);
  guest_ept_unlock();
  guest_ept_changed();
  quiesce_end(self);
  if (rc != EPT_OK) {
    xhv_panic("ept: cannot map device region 0x%llx (error %d)", (unsigned long long)base, rc);
  }
  return true;
}

bool guest_hidden_gpa(uint64_t gpa) {
  for (uint32_t i = 0; i < GUEST_HIDDEN_RANGES; i++) {
    if (gpa >= hidden[i][0] && gpa - hidden[i][0] < hidden[i][1]) {
      return true;
    }
  }
  return false;
}

struct ept *guest_ept(void) { return &regular_ept; }

const struct ept_pages *guest_ept_pages(void) { return &ept_pool; }

uint64_t guest_regular_eptp(void) { return regular_eptp; }

void guest_ept_lock(void) {
  while (__atomic_exchange_n(&ept_lock, 1U, __ATOMIC_ACQUIRE) != 0U) {
    cpu_pause();
  }
}

void guest_ept_unlock(void) { __atomic_store_n(&ept_lock, 0U, __ATOMIC_RELEASE); }

void guest_ept_map_page(uint64_t gpa, uint64_t hpa, uint32_t prot, uint8_t memtype) {
  uint64_t page = gpa & ~(uint64_t)(PAGE_SIZE - 1U);
  struct cpu *self = this_cpu();
  quiesce_begin(self); /* nests when the caller has quiesced already */
  guest_ept_lock();
  int rc = ept_map(&regular_ept, page, hpa & ~(uint64_t)(PAGE_SIZE - 1U), PAGE_SIZE, prot, memtype);
  guest_ept_unlock();
  /* Before the others go on: each flushes as it resumes from its park. */
  guest_ept_changed();
  quiesce_end(self);
  if (rc != EPT_OK) {
    xhv_panic("ept: cannot map guest page 0x%llx (error %d)", (unsigned long long)page, rc);
  }
}

void guest_ept_show_hidden_as_zero(uint64_t gpa) {
  guest_ept_map_page(gpa, hidden_zero_pa, EPT_READ, MTRR_TYPE_WB);
}

uint64_t guest_eptp(void) { return vmcs_read64(VMCS_EPT_POINTER); }

void guest_set_eptp(uint64_t eptp) {
  vmcs_write64(VMCS_EPT_POINTER, eptp);
  cpu_invept(INVEPT_SINGLE_CONTEXT, eptp);
}

void guest_ept_changed(void) { __atomic_add_fetch(&ept_generation, 1U, __ATOMIC_ACQ_REL); }

void guest_ept_sync(struct cpu *cpu) {
  uint32_t now = __atomic_load_n(&ept_generation, __ATOMIC_ACQUIRE);
  if (cpu->ept_generation != now) {
    cpu_invept(INVEPT_ALL_CONTEXTS, 0);
    cpu->ept_generation = now;
  }
}
