/* SPDX-License-Identifier: Apache-2.0 */
/* PAL registration request checks: section shapes and placement, entry point, parameter fit. */
#include "hypapps/trustvisor/pal_req.h"

#include <stddef.h>

#include "hypapps/trustvisor/marshal.h"

#define PAGE_SHIFT 12U
#define PAGE_OFFSET_MASK 0xFFFULL

static const char *const status_names[] = {
    [PAL_REQ_OK] = "PAL_REQ_OK",
    [PAL_REQ_ERR_NUM_SECTIONS] = "PAL_REQ_ERR_NUM_SECTIONS",
    [PAL_REQ_ERR_SECTION_TYPE] = "PAL_REQ_ERR_SECTION_TYPE",
    [PAL_REQ_ERR_SECTION_PAGES] = "PAL_REQ_ERR_SECTION_PAGES",
    [PAL_REQ_ERR_SECTION_ALIGN] = "PAL_REQ_ERR_SECTION_ALIGN",
    [PAL_REQ_ERR_SECTION_WRAP] = "PAL_REQ_ERR_SECTION_WRAP",
    [PAL_REQ_ERR_SECTION_PAGE0] = "PAL_REQ_ERR_SECTION_PAGE0",
    [PAL_REQ_ERR_SECTION_KERNEL] = "PAL_REQ_ERR_SECTION_KERNEL",
    [PAL_REQ_ERR_TOTAL_PAGES] = "PAL_REQ_ERR_TOTAL_PAGES",
    [PAL_REQ_ERR_SECTION_OVERLAP] = "PAL_REQ_ERR_SECTION_OVERLAP",
    [PAL_REQ_ERR_SECTION_DUPLICATE] = "PAL_REQ_ERR_SECTION_DUPLICATE",
    [PAL_REQ_ERR_NO_CODE] = "PAL_REQ_ERR_NO_CODE",
    [PAL_REQ_ERR_NO_STACK] = "PAL_REQ_ERR_NO_STACK",
    [PAL_REQ_ERR_ENTRY] = "PAL_REQ_ERR_ENTRY",
    [PAL_REQ_ERR_NUM_PARAMS] = "PAL_REQ_ERR_NUM_PARAMS",
    [PAL_REQ_ERR_PARAM_TYPE] = "PAL_REQ_ERR_PARAM_TYPE",
    [PAL_REQ_ERR_NO_PARAM] = "PAL_REQ_ERR_NO_PARAM",
    [PAL_REQ_ERR_PARAM_OVERFLOW] = "PAL_REQ_ERR_PARAM_OVERFLOW",
};

const char *pal_req_status_name(enum pal_req_status s) {
  if ((unsigned)s >= XHV_ARRAY_SIZE(status_names) || status_names[s] == NULL) {
    return "PAL_REQ_ERR_?";
  }
  return status_names[s];
}

static bool caller_section_type(uint32_t type) {
  return type == TV_PAL_SECTION_CODE || type == TV_PAL_SECTION_DATA ||
         type == TV_PAL_SECTION_PARAM || type == TV_PAL_SECTION_STACK ||
         type == TV_PAL_SECTION_SHARED_CODE;
}

static uint64_t section_bytes(const struct tv_pal_section *s) {
  return (uint64_t)s->page_num << PAGE_SHIFT;
}

/* Only valid once check_section accepted s: the end cannot wrap. */
static uint64_t section_end(const struct tv_pal_section *s) {
  return s->start_addr + section_bytes(s);
}

static enum pal_req_status check_section(const struct tv_pal_section *s, uint64_t limit) {
  if (!caller_section_type(s->type)) {
    return PAL_REQ_ERR_SECTION_TYPE;
  }
  if (s->page_num == 0U || s->page_num > PAL_REQ_MAX_SECTION_PAGES) {
    return PAL_REQ_ERR_SECTION_PAGES;
  }
  if ((s->start_addr & PAGE_OFFSET_MASK) != 0U) {
    return PAL_REQ_ERR_SECTION_ALIGN;
  }
  if (s->start_addr > UINT64_MAX - section_bytes(s)) {
    return PAL_REQ_ERR_SECTION_WRAP;
  }
  if (s->start_addr == 0U) {
    return PAL_REQ_ERR_SECTION_PAGE0;
  }
  if (section_end(s) > limit) {
    return PAL_REQ_ERR_SECTION_KERNEL;
  }
  return PAL_REQ_OK;
}

static bool sections_overlap(const struct tv_pal_section *a, const struct tv_pal_section *b) {
  return a->start_addr < section_end(b) && b->start_addr < section_end(a);
}

static enum pal_req_status check_params(const struct tv_pal_params *params) {
  uint32_t i;
  if (params->num_params > TV_MAX_PARAMS) {
    return PAL_REQ_ERR_NUM_PARAMS;
  }
  for (i = 0; i < params->num_params; i++) {
    const uint32_t t = params->params[i].type;
    if (t != TV_PAL_ARG_INTEGER && t != TV_PAL_ARG_POINTER) {
      return PAL_REQ_ERR_PARAM_TYPE;
    }
  }
  return PAL_REQ_OK;
}

enum pal_req_status pal_req_check(const struct tv_pal_sections *sections,
                                  const struct tv_pal_params *params, uint64_t entry_gva, bool g64,
                                  uint64_t user_limit, struct pal_req_layout *layout) {
  const uint64_t cap = g64 ? PAL_REQ_LIMIT_64 : PAL_REQ_LIMIT_32;
  const uint64_t limit = user_limit < cap ? user_limit : cap;
  const uint32_t n = sections->num_sections;
  struct pal_req_layout out;
  int32_t stack = -1;
  int32_t param = -1;
  int32_t code = -1;
  bool have_code = false;
  uint32_t i;
  uint32_t j;
  enum pal_req_status st;

  if (n == 0U || n > TV_MAX_SECTIONS) {
    return PAL_REQ_ERR_NUM_SECTIONS;
  }

  out.total_pages = 0;
  for (i = 0; i < n; i++) {
    st = check_section(&sections->sections[i], limit);
    if (st != PAL_REQ_OK) {
      return st;
    }
    out.total_pages += sections->sections[i].page_num;
  }
  if (out.total_pages > PAL_REQ_MAX_TOTAL_PAGES) {
    return PAL_REQ_ERR_TOTAL_PAGES;
  }

  for (i = 0; i < n; i++) {
    for (j = i + 1U; j < n; j++) {
      if (sections_overlap(&sections->sections[i], &sections->sections[j])) {
        return PAL_REQ_ERR_SECTION_OVERLAP;
      }
    }
  }

  for (i = 0; i < n; i++) {
    const struct tv_pal_section *s = &sections->sections[i];
    if (s->type == TV_PAL_SECTION_STACK || s->type == TV_PAL_SECTION_PARAM) {
      int32_t *slot = s->type == TV_PAL_SECTION_STACK ? &stack : &param;
      if (*slot >= 0) {
        return PAL_REQ_ERR_SECTION_DUPLICATE;
      }
      *slot = (int32_t)i;
    } else if (s->type == TV_PAL_SECTION_CODE) {
      have_code = true;
      if (entry_gva >= s->start_addr && entry_gva < section_end(s)) {
        code = (int32_t)i;
      }
    }
  }
  if (!have_code) {
    return PAL_REQ_ERR_NO_CODE;
  }
  if (stack < 0) {
    return PAL_REQ_ERR_NO_STACK;
  }
  if (code < 0) {
    return PAL_REQ_ERR_ENTRY;
  }

  st = check_params(params);
  if (st != PAL_REQ_OK) {
    return st;
  }
  if (param < 0 && params->num_params > 0U) {
    return PAL_REQ_ERR_NO_PARAM;
  }

  out.code_section = (uint32_t)code;
  out.stack_section = (uint32_t)stack;
  out.param_section = param;
  out.stack_top = section_end(&sections->sections[stack]) - MARSHAL_STACK_GAP;
  out.param_area = 0;
  out.param_area_bytes = 0;
  if (param >= 0) {
    const struct tv_pal_section *s = &sections->sections[param];
    out.param_area = s->start_addr + MARSHAL_AREA_OFFSET;
    out.param_area_bytes = section_bytes(s) - MARSHAL_AREA_OFFSET;
    if (marshal_area_bytes(params, g64) > out.param_area_bytes) {
      return PAL_REQ_ERR_PARAM_OVERFLOW;
    }
  }
  if (layout != NULL) {
    *layout = out;
  }
  return PAL_REQ_OK;
}
