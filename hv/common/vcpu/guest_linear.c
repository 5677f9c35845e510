/* SPDX-License-Identifier: Apache-2.0 */
/* Guest linear addresses: the guest's own page tables, walked the way its CPU walks them. */
#include "xhv/guest.h"
#include "xhv/guest_mem.h"

#define CR0_WP (1ULL << 16)
#define CR4_PSE (1ULL << 4)
#define EFER_NXE (1ULL << 11)
#define PAGE_BYTES 0x1000ULL
#define MAX_PIECES 2U /* an access of at most a page spans two */
#define VECTOR_GP 13U
/* #PF error code bits (SDM "Interrupt 14—Page-Fault Exception (#PF)"). */
#define PF_PRESENT (1U << 0)
#define PF_WRITE (1U << 1)
#define PF_USER (1U << 2)
#define PF_RESERVED (1U << 3)
#define PF_FETCH (1U << 4)

static enum gpt_mode mode_of(enum guest_paging p) {
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

void guest_gpt(struct gpt_ctx *g, uint64_t cr3, const struct mem_io *io) {
  g->mode = mode_of(guest_paging_mode());
  g->cr3 = cr3;
  g->pse = (guest_reg(GUEST_REG_CR4) & CR4_PSE) != 0;
  g->nxe = (guest_reg(GUEST_REG_EFER) & EFER_NXE) != 0;
  g->wp = (guest_reg(GUEST_REG_CR0) & CR0_WP) != 0;
  g->maxphyaddr = 0;
  g->mem = io;
}

/* The fault a failed walk is, injected. */
static void fault(uint64_t la, enum gpt_status st, uint32_t access) {
  uint32_t error = ((access & GPT_ACC_WRITE) ? PF_WRITE : 0U) |
                   ((access & GPT_ACC_USER) ? PF_USER : 0U) |
                   ((access & GPT_ACC_EXEC) ? PF_FETCH : 0U);
  switch (st) {
  case GPT_ERR_NOT_PRESENT:
    guest_inject_page_fault(la, error);
    return;
  case GPT_ERR_RESERVED:
    guest_inject_page_fault(la, error | PF_PRESENT | PF_RESERVED);
    return;
  case GPT_ERR_PROT_USER:
  case GPT_ERR_PROT_WRITE:
  case GPT_ERR_PROT_NX:
    guest_inject_page_fault(la, error | PF_PRESENT);
    return;
  default:
    /* Tables or data the hypervisor may not touch for the guest, or no such address. */
    guest_inject_exception(VECTOR_GP, true, 0);
    return;
  }
}

/* Translates [la, la + len) into at most MAX_PIECES guest-physical pieces. */
static bool translate(uint64_t la, uint32_t len, uint32_t access, uint64_t gpa[MAX_PIECES],
                      uint32_t n[MAX_PIECES]) {
  if (len == 0U || len > PAGE_BYTES) {
    guest_inject_exception(VECTOR_GP, true, 0);
    return false;
  }
  struct mem_io io = guest_mem_io(0);
  struct gpt_ctx g;
  guest_gpt(&g, guest_reg(GUEST_REG_CR3), &io);
  uint32_t done = 0;
  for (uint32_t i = 0; i < MAX_PIECES; i++) {
    n[i] = 0;
    if (done == len) {
      continue;
    }
    uint64_t at = la + done;
    uint32_t room = (uint32_t)(PAGE_BYTES - (at & (PAGE_BYTES - 1U)));
    n[i] = len - done < room ? len - done : room;
    enum gpt_status st = gpt_walk(&g, at, access, &gpa[i], 0);
    if (st != GPT_OK) {
      fault(at, st, access);
      return false;
    }
    done += n[i];
  }
  return true;
}

bool guest_linear_read(uint64_t la, void *buf, uint32_t len, uint32_t access) {
  uint64_t gpa[MAX_PIECES];
  uint32_t n[MAX_PIECES];
  if (!translate(la, len, access, gpa, n)) {
    return false;
  }
  if (!guest_mem_reachable(0, gpa[0], n[0], EPT_READ) ||
      (n[1] && !guest_mem_reachable(0, gpa[1], n[1], EPT_READ))) {
    guest_inject_exception(VECTOR_GP, true, 0);
    return false;
  }
  guest_mem_read(0, gpa[0], buf, n[0]);
  if (n[1]) {
    guest_mem_read(0, gpa[1], (uint8_t *)buf + n[0], n[1]);
  }
  return true;
}

bool guest_linear_write(uint64_t la, const void *buf, uint32_t len, uint32_t access) {
  uint64_t gpa[MAX_PIECES];
  uint32_t n[MAX_PIECES];
  access |= GPT_ACC_WRITE;
  if (!translate(la, len, access, gpa, n)) {
    return false;
  }
  if (!guest_mem_reachable(0, gpa[0], n[0], EPT_WRITE) ||
      (n[1] && !guest_mem_reachable(0, gpa[1], n[1], EPT_WRITE))) {
    guest_inject_exception(VECTOR_GP, true, 0);
    return false;
  }
  guest_mem_write(0, gpa[0], buf, n[0]);
  if (n[1]) {
    guest_mem_write(0, gpa[1], (const uint8_t *)buf + n[0], n[1]);
  }
  return true;
}
