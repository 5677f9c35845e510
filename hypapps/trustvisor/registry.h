/* SPDX-License-Identifier: Apache-2.0 */
/* The table of registered PALs: keys, sections and their lent pages, and who runs each PAL. */
#ifndef HYPAPPS_TRUSTVISOR_REGISTRY_H
#define HYPAPPS_TRUSTVISOR_REGISTRY_H

#include <stdbool.h>
#include <stdint.h>

#include "hypapps/trustvisor/marshal.h"
#include "hypapps/trustvisor/pal_req.h"
#include "hypapps/trustvisor/tv_abi.h"
#include "xhv/compiler.h"

XHV_BEGIN_DECLS

/*
 * Capacity: REG_MAX_PALS PALs of up to REG_MAX_PAGES lent pages each. The
 * whole table is about 305 KiB (sizeof(struct pal_registry)); allocate it
 * once, e.g. from the page heap. Nothing here locks: every caller runs with
 * the other CPUs quiesced (registration is a VMCALL, entry and exit are EPT
 * violations). Finding a lent gpa scans every lent page (at most 32768).
 */
#define REG_MAX_PALS 64U
#define REG_MAX_PAGES PAL_REQ_MAX_TOTAL_PAGES

#define REG_NO_CPU (-1)
/* A page of a registered PAL that has not been lent (yet). */
#define REG_NO_GPA UINT64_MAX

enum reg_status {
  REG_OK = 0,
  REG_ERR_FULL,        /* all REG_MAX_PALS slots taken */
  REG_ERR_DUPLICATE,   /* a PAL with this (cr3, g64, entry) is registered */
  REG_ERR_OVERLAP,     /* a section overlaps one of another PAL in the same address space */
  REG_ERR_INVALID,     /* request or argument out of range (run pal_req_check first) */
  REG_ERR_NOT_FOUND,   /* no such PAL (e.g. unregistered twice) */
  REG_ERR_GPA_LENT,    /* the gpa is already lent to a PAL (this one included) */
  REG_ERR_BUSY,        /* the PAL is running */
  REG_ERR_NOT_RUNNING, /* release by a CPU that is not running the PAL */
};

/* "REG_OK", "REG_ERR_FULL", ...; "REG_ERR_?" outside the enum. */
const char *reg_status_name(enum reg_status s);

struct reg_section {
  uint32_t type; /* TV_PAL_SECTION_* */
  uint32_t page_num;
  uint64_t start_gva;
  uint32_t first_page; /* its first page's index in reg_pal.page_gpa */
};

/*
 * One registered PAL. Keys: cr3 (the root-table address as gpt_cr3_base
 * gives it, so PCID and flags never split one process in two), g64, and
 * entry_gva. Fields the library does not set are the glue's to fill after
 * registry_add: entry_gpa, pal_pt_root, pal_cr3.
 */
struct reg_pal {
  bool in_use;
  uint32_t id; /* slot index; what CPUID reports inside the PAL */
  uint64_t cr3;
  bool g64;
  uint64_t entry_gva;
  uint64_t entry_gpa;
  uint64_t stack_top;  /* STACK end - 0x10 */
  uint64_t param_area; /* PARAM start + 0x10, 0 without PARAM */
  uint64_t param_area_bytes;
  struct tv_pal_params params;
  uint32_t num_sections;
  struct reg_section sections[TV_MAX_SECTIONS];
  uint32_t num_pages;
  uint64_t page_gpa[REG_MAX_PAGES]; /* per page, REG_NO_GPA until lent */
  uint64_t pal_pt_root;             /* gpa of the PAL's page-table root */
  uint64_t pal_cr3;                 /* the CR3 the PAL runs with */
  int32_t running_cpu;              /* REG_NO_CPU when idle */
  struct marshal_frame frame;       /* saved rsp, return gva, copy-backs; valid while running */
};

struct pal_registry {
  struct reg_pal pals[REG_MAX_PALS];
};

/* Empties the table. */
void registry_init(struct pal_registry *r);

/*
 * Registers a PAL from a request pal_req_check accepted with layout: fills a
 * free slot (lowest id first) with the keys, sections, stack and PARAM
 * geometry and params, every page unlent and the PAL idle; *out (may be
 * NULL) gets it. Sections may not overlap those of another PAL with the
 * same cr3 (either width): entry and exit find a PAL by address alone.
 */
enum reg_status registry_add(struct pal_registry *r, uint64_t cr3, bool g64, uint64_t entry_gva,
                             const struct tv_pal_sections *sections,
                             const struct tv_pal_params *params,
                             const struct pal_req_layout *layout, struct reg_pal **out);

/*
 * Frees the PAL's slot. REG_ERR_NOT_FOUND if there is none, REG_ERR_BUSY
 * while it runs. Returning the lent pages is the caller's job, before this.
 */
enum reg_status registry_remove(struct pal_registry *r, uint64_t cr3, bool g64, uint64_t entry_gva);

/* The PAL with exactly these keys, or NULL. */
struct reg_pal *registry_find(struct pal_registry *r, uint64_t cr3, bool g64, uint64_t entry_gva);

/* The PAL of (cr3, g64) with a section holding gva, or NULL; *section (may be NULL) its index. */
struct reg_pal *registry_find_by_gva(struct pal_registry *r, uint64_t cr3, bool g64, uint64_t gva,
                                     uint32_t *section);

/* The PAL a 4 KiB page (gpa rounded down) is lent to, or NULL; *page (may be NULL) its index. */
struct reg_pal *registry_find_lent_gpa(struct pal_registry *r, uint64_t gpa, uint32_t *page);

/* The PAL in slot id, or NULL if the slot is free or id out of range. */
struct reg_pal *registry_get(struct pal_registry *r, uint32_t id);

/*
 * Records that page `page` of pal (sections[s].first_page + k for page k of
 * section s) is backed by gpa (4 KiB aligned). REG_ERR_GPA_LENT if any PAL
 * already has it, REG_ERR_INVALID for a bad index or gpa or a page already
 * recorded.
 */
enum reg_status registry_lend_page(struct pal_registry *r, struct reg_pal *pal, uint32_t page,
                                   uint64_t gpa);

/* The gva of page `page` of pal, or UINT64_MAX for a bad index. */
uint64_t reg_pal_page_gva(const struct reg_pal *pal, uint32_t page);

/* Marks pal running on cpu (>= 0): REG_ERR_BUSY if it runs anywhere, REG_ERR_INVALID for cpu < 0.
 */
enum reg_status reg_pal_claim(struct reg_pal *pal, int32_t cpu);

/* Marks pal idle again. REG_ERR_NOT_RUNNING unless cpu is the one running it. */
enum reg_status reg_pal_release(struct reg_pal *pal, int32_t cpu);

/* The marshalling view of pal; out->params points into pal. */
void reg_pal_marshal_target(const struct reg_pal *pal, struct marshal_pal *out);

XHV_END_DECLS

#endif /* HYPAPPS_TRUSTVISOR_REGISTRY_H */
