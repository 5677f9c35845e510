/* SPDX-License-Identifier: Apache-2.0 */
/* PAL table: fixed slots, lookups by key, by section address and by lent page. */
#include "hypapps/trustvisor/registry.h"

#include <stddef.h>

#include "xhv/string.h"

#define PAGE_SHIFT 12U
#define PAGE_OFFSET_MASK 0xFFFULL

static const char *const status_names[] = {
    [REG_OK] = "REG_OK",
    [REG_ERR_FULL] = "REG_ERR_FULL",
    [REG_ERR_DUPLICATE] = "REG_ERR_DUPLICATE",
    [REG_ERR_OVERLAP] = "REG_ERR_OVERLAP",
    [REG_ERR_INVALID] = "REG_ERR_INVALID",
    [REG_ERR_NOT_FOUND] = "REG_ERR_NOT_FOUND",
    [REG_ERR_GPA_LENT] = "REG_ERR_GPA_LENT",
    [REG_ERR_BUSY] = "REG_ERR_BUSY",
    [REG_ERR_NOT_RUNNING] = "REG_ERR_NOT_RUNNING",
};

const char *reg_status_name(enum reg_status s) {
  if ((unsigned)s >= XHV_ARRAY_SIZE(status_names) || status_names[s] == NULL) {
    return "REG_ERR_?";
  }
  return status_names[s];
}

static uint64_t section_end(const struct reg_section *s) {
  return s->start_gva + ((uint64_t)s->page_num << PAGE_SHIFT);
}

static bool section_holds(const struct reg_section *s, uint64_t gva) {
  return gva >= s->start_gva && gva < section_end(s);
}

void registry_init(struct pal_registry *r) {
  uint32_t i;
  memset(r, 0, sizeof(*r));
  for (i = 0; i < REG_MAX_PALS; i++) {
    r->pals[i].id = i;
    r->pals[i].running_cpu = REG_NO_CPU;
  }
}

/* Enough of pal_req_check again that a bad request cannot corrupt the table. */
static bool request_fits(const struct tv_pal_sections *sections,
                         const struct pal_req_layout *layout) {
  uint64_t pages = 0;
  uint32_t i;

  if (sections->num_sections == 0U || sections->num_sections > TV_MAX_SECTIONS) {
    return false;
  }
  for (i = 0; i < sections->num_sections; i++) {
    const struct tv_pal_section *s = &sections->sections[i];
    const uint64_t bytes = (uint64_t)s->page_num << PAGE_SHIFT;
    if (s->page_num == 0U || (s->start_addr & PAGE_OFFSET_MASK) != 0U ||
        s->start_addr > UINT64_MAX - bytes) {
      return false;
    }
    pages += s->page_num;
  }
  return pages <= REG_MAX_PAGES && layout->stack_section < sections->num_sections &&
         layout->code_section < sections->num_sections;
}

static bool overlaps_pal(const struct reg_pal *p, const struct tv_pal_sections *sections) {
  uint32_t i;
  uint32_t j;
  for (i = 0; i < p->num_sections; i++) {
    for (j = 0; j < sections->num_sections; j++) {
      const struct tv_pal_section *s = &sections->sections[j];
      const uint64_t end = s->start_addr + ((uint64_t)s->page_num << PAGE_SHIFT);
      if (p->sections[i].start_gva < end && s->start_addr < section_end(&p->sections[i])) {
        return true;
      }
    }
  }
  return false;
}

enum reg_status registry_add(struct pal_registry *r, uint64_t cr3, bool g64, uint64_t entry_gva,
                             const struct tv_pal_sections *sections,
                             const struct tv_pal_params *params,
                             const struct pal_req_layout *layout, struct reg_pal **out) {
  struct reg_pal *free_slot = NULL;
  struct reg_pal *p;
  uint32_t first_page = 0;
  uint32_t i;

  if (!request_fits(sections, layout) || params->num_params > TV_MAX_PARAMS) {
    return REG_ERR_INVALID;
  }
  for (i = 0; i < REG_MAX_PALS; i++) {
    p = &r->pals[i];
    if (!p->in_use) {
      if (free_slot == NULL) {
        free_slot = p;
      }
      continue;
    }
    if (p->cr3 != cr3) {
      continue;
    }
    if (p->g64 == g64 && p->entry_gva == entry_gva) {
      return REG_ERR_DUPLICATE;
    }
    if (overlaps_pal(p, sections)) {
      return REG_ERR_OVERLAP;
    }
  }
  if (free_slot == NULL) {
    return REG_ERR_FULL;
  }

  p = free_slot;
  i = p->id;
  memset(p, 0, sizeof(*p));
  p->id = i;
  p->in_use = true;
  p->cr3 = cr3;
  p->g64 = g64;
  p->entry_gva = entry_gva;
  p->stack_top = layout->stack_top;
  p->param_area = layout->param_area;
  p->param_area_bytes = layout->param_area_bytes;
  p->params = *params;
  p->num_sections = sections->num_sections;
  for (i = 0; i < sections->num_sections; i++) {
    p->sections[i].type = sections->sections[i].type;
    p->sections[i].page_num = sections->sections[i].page_num;
    p->sections[i].start_gva = sections->sections[i].start_addr;
    p->sections[i].first_page = first_page;
    first_page += sections->sections[i].page_num;
  }
  p->num_pages = first_page;
  for (i = 0; i < REG_MAX_PAGES; i++) {
    p->page_gpa[i] = REG_NO_GPA;
  }
  p->running_cpu = REG_NO_CPU;
  if (out != NULL) {
    *out = p;
  }
  return REG_OK;
}

enum reg_status registry_remove(struct pal_registry *r, uint64_t cr3, bool g64,
                                uint64_t entry_gva) {
  struct reg_pal *p = registry_find(r, cr3, g64, entry_gva);
  uint32_t id;

  if (p == NULL) {
    return REG_ERR_NOT_FOUND;
  }
  if (p->running_cpu != REG_NO_CPU) {
    return REG_ERR_BUSY;
  }
  id = p->id;
  memset(p, 0, sizeof(*p));
  p->id = id;
  p->running_cpu = REG_NO_CPU;
  return REG_OK;
}

struct reg_pal *registry_find(struct pal_registry *r, uint64_t cr3, bool g64, uint64_t entry_gva) {
  uint32_t i;
  for (i = 0; i < REG_MAX_PALS; i++) {
    struct reg_pal *p = &r->pals[i];
    if (p->in_use && p->cr3 == cr3 && p->g64 == g64 && p->entry_gva == entry_gva) {
      return p;
    }
  }
  return NULL;
}

struct reg_pal *registry_find_by_gva(struct pal_registry *r, uint64_t cr3, bool g64, uint64_t gva,
                                     uint32_t *section) {
  uint32_t i;
  uint32_t s;
  for (i = 0; i < REG_MAX_PALS; i++) {
    struct reg_pal *p = &r->pals[i];
    if (!p->in_use || p->cr3 != cr3 || p->g64 != g64) {
      continue;
    }
    for (s = 0; s < p->num_sections; s++) {
      if (section_holds(&p->sections[s], gva)) {
        if (section != NULL) {
          *section = s;
        }
        return p;
      }
    }
  }
  return NULL;
}

struct reg_pal *registry_find_lent_gpa(struct pal_registry *r, uint64_t gpa, uint32_t *page) {
  const uint64_t frame = gpa & ~PAGE_OFFSET_MASK;
  uint32_t i;
  uint32_t k;
  for (i = 0; i < REG_MAX_PALS; i++) {
    struct reg_pal *p = &r->pals[i];
    if (!p->in_use) {
      continue;
    }
    for (k = 0; k < p->num_pages; k++) {
      if (p->page_gpa[k] == frame) {
        if (page != NULL) {
          *page = k;
        }
        return p;
      }
    }
  }
  return NULL;
}

struct reg_pal *registry_get(struct pal_registry *r, uint32_t id) {
  if (id >= REG_MAX_PALS || !r->pals[id].in_use) {
    return NULL;
  }
  return &r->pals[id];
}

enum reg_status registry_lend_page(struct pal_registry *r, struct reg_pal *pal, uint32_t page,
                                   uint64_t gpa) {
  if (!pal->in_use || page >= pal->num_pages || pal->page_gpa[page] != REG_NO_GPA ||
      (gpa & PAGE_OFFSET_MASK) != 0U) {
    return REG_ERR_INVALID;
  }
  if (registry_find_lent_gpa(r, gpa, NULL) != NULL) {
    return REG_ERR_GPA_LENT;
  }
  pal->page_gpa[page] = gpa;
  return REG_OK;
}

uint64_t reg_pal_page_gva(const struct reg_pal *pal, uint32_t page) {
  uint32_t s;
  for (s = 0; s < pal->num_sections; s++) {
    const struct reg_section *sec = &pal->sections[s];
    if (page >= sec->first_page && page - sec->first_page < sec->page_num) {
      return sec->start_gva + ((uint64_t)(page - sec->first_page) << PAGE_SHIFT);
    }
  }
  return UINT64_MAX;
}

enum reg_status reg_pal_claim(struct reg_pal *pal, int32_t cpu) {
  if (!pal->in_use || cpu < 0) {
    return REG_ERR_INVALID;
  }
  if (pal->running_cpu != REG_NO_CPU) {
    return REG_ERR_BUSY;
  }
  pal->running_cpu = cpu;
  return REG_OK;
}

enum reg_status reg_pal_release(struct reg_pal *pal, int32_t cpu) {
  if (!pal->in_use || cpu < 0 || pal->running_cpu != cpu) {
    return REG_ERR_NOT_RUNNING;
  }
  pal->running_cpu = REG_NO_CPU;
  return REG_OK;
}

void reg_pal_marshal_target(const struct reg_pal *pal, struct marshal_pal *out) {
  out->g64 = pal->g64;
  out->stack_top = pal->stack_top;
  out->param_area = pal->param_area;
  out->param_area_bytes = pal->param_area_bytes;
  out->params = &pal->params;
}
