/* SPDX-License-Identifier: Apache-2.0 */
/* PAL call marshalling: cdecl and SysV arguments, PARAM-area records, copy-back, scrubbing. */
#include "hypapps/trustvisor/marshal.h"

#include <stddef.h>

#include "xhv/string.h"

#define FOUR_GIB 0x100000000ULL
#define LOW32 0xFFFFFFFFULL
/* Both ABIs want rsp + word 16-byte aligned at a function's first instruction. */
#define CALL_ALIGN_MASK 0xFULL
/* Copies go through a buffer on the hypervisor stack, this many bytes at a time. */
#define COPY_CHUNK 256U

static const char *const status_names[] = {
    [MARSHAL_OK] = "MARSHAL_OK",
    [MARSHAL_ERR_BAD_PARAMS] = "MARSHAL_ERR_BAD_PARAMS",
    [MARSHAL_ERR_BAD_LAYOUT] = "MARSHAL_ERR_BAD_LAYOUT",
    [MARSHAL_ERR_NO_PARAM_AREA] = "MARSHAL_ERR_NO_PARAM_AREA",
    [MARSHAL_ERR_AREA_OVERFLOW] = "MARSHAL_ERR_AREA_OVERFLOW",
    [MARSHAL_ERR_RETURN_ADDR] = "MARSHAL_ERR_RETURN_ADDR",
    [MARSHAL_ERR_ARG_READ] = "MARSHAL_ERR_ARG_READ",
    [MARSHAL_ERR_CALLER_READ] = "MARSHAL_ERR_CALLER_READ",
    [MARSHAL_ERR_CALLER_WRITE] = "MARSHAL_ERR_CALLER_WRITE",
    [MARSHAL_ERR_PAL_READ] = "MARSHAL_ERR_PAL_READ",
    [MARSHAL_ERR_PAL_WRITE] = "MARSHAL_ERR_PAL_WRITE",
};

const char *marshal_status_name(enum marshal_status s) {
  if ((unsigned)s >= XHV_ARRAY_SIZE(status_names) || status_names[s] == NULL) {
    return "MARSHAL_ERR_?";
  }
  return status_names[s];
}

static uint32_t word_bytes(bool g64) { return g64 ? 8U : 4U; }

static bool params_valid(const struct tv_pal_params *p) {
  uint32_t i;
  if (p->num_params > TV_MAX_PARAMS) {
    return false;
  }
  for (i = 0; i < p->num_params; i++) {
    if (p->params[i].type != TV_PAL_ARG_INTEGER && p->params[i].type != TV_PAL_ARG_POINTER) {
      return false;
    }
  }
  return true;
}

/* A POINTER's payload in bytes, UINT64_MAX when absurd (kept far from overflow by the padding). */
static uint64_t payload_bytes(uint64_t size_words, bool g64) {
  if (size_words > (UINT64_MAX >> 4)) {
    return UINT64_MAX;
  }
  return size_words << (g64 ? 3U : 2U);
}

static uint64_t pad8(uint64_t bytes) { return (bytes + 7U) & ~7ULL; }

uint64_t marshal_area_bytes(const struct tv_pal_params *params, bool g64) {
  uint64_t total = MARSHAL_COUNT_BYTES;
  uint32_t i;

  if (!params_valid(params)) {
    return UINT64_MAX;
  }
  for (i = 0; i < params->num_params; i++) {
    uint64_t add = MARSHAL_RECORD_BYTES;
    if (params->params[i].type == TV_PAL_ARG_POINTER) {
      const uint64_t bytes = payload_bytes(params->params[i].size, g64);
      if (bytes == UINT64_MAX) {
        return UINT64_MAX;
      }
      add += pad8(bytes);
    }
    if (total > UINT64_MAX - add) {
      return UINT64_MAX;
    }
    total += add;
  }
  return total;
}

static bool read_word(const struct mem_io *m, uint64_t gva, uint32_t word, uint64_t *value) {
  if (word == 4U) {
    uint32_t v = 0;
    if (!m->read(m->ctx, gva, &v, sizeof(v))) {
      return false;
    }
    *value = v;
    return true;
  }
  return m->read(m->ctx, gva, value, sizeof(*value));
}

static bool write_word(const struct mem_io *m, uint64_t gva, uint32_t word, uint64_t value) {
  if (word == 4U) {
    const uint32_t v = (uint32_t)value;
    return m->write(m->ctx, gva, &v, sizeof(v));
  }
  return m->write(m->ctx, gva, &value, sizeof(value));
}

static bool write_u64(const struct mem_io *m, uint64_t gva, uint64_t value) {
  return m->write(m->ctx, gva, &value, sizeof(value));
}

static enum marshal_status copy_mem(const struct mem_io *from, uint64_t from_gva,
                                    const struct mem_io *to, uint64_t to_gva, uint64_t bytes,
                                    enum marshal_status read_err, enum marshal_status write_err) {
  uint8_t buf[COPY_CHUNK];
  while (bytes > 0U) {
    const uint32_t n = bytes < COPY_CHUNK ? (uint32_t)bytes : COPY_CHUNK;
    if (!from->read(from->ctx, from_gva, buf, n)) {
      return read_err;
    }
    if (!to->write(to->ctx, to_gva, buf, n)) {
      return write_err;
    }
    from_gva += n;
    to_gva += n;
    bytes -= n;
  }
  return MARSHAL_OK;
}

/* Checks that need no memory access; see marshal_enter. */
static enum marshal_status check_call(const struct marshal_pal *pal) {
  if (!params_valid(pal->params)) {
    return MARSHAL_ERR_BAD_PARAMS;
  }
  /* A 32-bit PAL can only be handed 32-bit stack and payload addresses. */
  if (!pal->g64 && (pal->stack_top > FOUR_GIB || pal->param_area > FOUR_GIB ||
                    pal->param_area_bytes > FOUR_GIB - pal->param_area)) {
    return MARSHAL_ERR_BAD_LAYOUT;
  }
  if (pal->param_area_bytes == 0U) {
    return pal->params->num_params > 0U ? MARSHAL_ERR_NO_PARAM_AREA : MARSHAL_OK;
  }
  if (marshal_area_bytes(pal->params, pal->g64) > pal->param_area_bytes) {
    return MARSHAL_ERR_AREA_OVERFLOW;
  }
  return MARSHAL_OK;
}

/*
 * Writes the PARAM area for args and records the POINTER copies in f. pass
 * gets what the PAL is handed for each argument.
 */
static enum marshal_status fill_param_area(const struct marshal_pal *pal,
                                           const struct mem_io *caller,
                                           const struct mem_io *pal_mem, const uint64_t *args,
                                           uint64_t *pass, struct marshal_frame *f) {
  const struct tv_pal_params *p = pal->params;
  uint64_t off = MARSHAL_COUNT_BYTES;
  uint32_t i;

  if (!write_u64(pal_mem, pal->param_area, p->num_params)) {
    return MARSHAL_ERR_PAL_WRITE;
  }
  for (i = 0; i < p->num_params; i++) {
    const uint64_t rec = pal->param_area + off;
    const uint64_t payload = rec + MARSHAL_RECORD_BYTES;
    uint64_t bytes = 0;

    if (p->params[i].type == TV_PAL_ARG_POINTER) {
      enum marshal_status st;
      bytes = payload_bytes(p->params[i].size, pal->g64);
      /* check_call sized the area already; this guards the arithmetic. */
      if (bytes == UINT64_MAX || off + MARSHAL_RECORD_BYTES + bytes > pal->param_area_bytes) {
        return MARSHAL_ERR_AREA_OVERFLOW;
      }
      st = copy_mem(caller, args[i], pal_mem, payload, bytes, MARSHAL_ERR_CALLER_READ,
                    MARSHAL_ERR_PAL_WRITE);
      if (st != MARSHAL_OK) {
        return st;
      }
      f->copies[f->num_copies].caller_gva = args[i];
      f->copies[f->num_copies].pal_gva = payload;
      f->copies[f->num_copies].bytes = bytes;
      f->num_copies++;
      pass[i] = payload;
    } else {
      pass[i] = args[i];
    }
    if (!write_u64(pal_mem, rec, p->params[i].type) || !write_u64(pal_mem, rec + 8U, bytes) ||
        !write_u64(pal_mem, rec + 16U, args[i])) {
      return MARSHAL_ERR_PAL_WRITE;
    }
    off += MARSHAL_RECORD_BYTES + pad8(bytes);
  }
  return MARSHAL_OK;
}

enum marshal_status marshal_enter(const struct marshal_pal *pal, const struct mem_io *caller,
                                  const struct mem_io *pal_mem, struct marshal_regs *regs,
                                  struct marshal_frame *frame) {
  const bool g64 = pal->g64;
  const uint32_t word = word_bytes(g64);
  const uint64_t rsp = g64 ? regs->rsp : regs->rsp & LOW32;
  const uint64_t reg_args[MARSHAL_SYSV_REG_ARGS] = {regs->rdi, regs->rsi, regs->rdx,
                                                    regs->rcx, regs->r8,  regs->r9};
  uint64_t args[TV_MAX_PARAMS];
  uint64_t pass[TV_MAX_PARAMS];
  struct marshal_frame f;
  uint32_t n;
  uint32_t first_stack;
  uint32_t i;
  uint64_t args_base;
  uint64_t pal_rsp;
  enum marshal_status st;

  st = check_call(pal);
  if (st != MARSHAL_OK) {
    return st;
  }
  n = pal->params->num_params;
  memset(&f, 0, sizeof(f));
  memset(args, 0, sizeof(args));
  memset(pass, 0, sizeof(pass));

  f.saved_rsp = regs->rsp;
  if (!read_word(caller, rsp, word, &f.return_gva)) {
    return MARSHAL_ERR_RETURN_ADDR;
  }

  /* cdecl: every argument above the return address; SysV: the 7th on. */
  first_stack = g64 ? MARSHAL_SYSV_REG_ARGS : 0U;
  for (i = 0; i < n; i++) {
    if (i < first_stack) {
      args[i] = reg_args[i];
    } else if (!read_word(caller, rsp + word + (uint64_t)word * (i - first_stack), word,
                          &args[i])) {
      return MARSHAL_ERR_ARG_READ;
    }
  }

  if (pal->param_area_bytes != 0U) {
    st = fill_param_area(pal, caller, pal_mem, args, pass, &f);
    if (st != MARSHAL_OK) {
      return st;
    }
  }

  /* Stack arguments lowest-first above the sentinel return address. */
  args_base = pal->stack_top - (uint64_t)word * (n > first_stack ? n - first_stack : 0U);
  args_base &= ~CALL_ALIGN_MASK;
  for (i = first_stack; i < n; i++) {
    if (!write_word(pal_mem, args_base + (uint64_t)word * (i - first_stack), word, pass[i])) {
      return MARSHAL_ERR_PAL_WRITE;
    }
  }
  pal_rsp = args_base - word;
  if (!write_word(pal_mem, pal_rsp, word, MARSHAL_RETURN_SENTINEL)) {
    return MARSHAL_ERR_PAL_WRITE;
  }

  regs->rsp = pal_rsp;
  if (g64) {
    uint64_t *const dst[MARSHAL_SYSV_REG_ARGS] = {&regs->rdi, &regs->rsi, &regs->rdx,
                                                  &regs->rcx, &regs->r8,  &regs->r9};
    for (i = 0; i < n && i < MARSHAL_SYSV_REG_ARGS; i++) {
      *dst[i] = pass[i];
    }
  }
  *frame = f;
  return MARSHAL_OK;
}

enum marshal_status marshal_leave(const struct marshal_frame *frame, bool g64,
                                  const struct mem_io *caller, const struct mem_io *pal_mem,
                                  struct marshal_regs *regs) {
  enum marshal_status first_err = MARSHAL_OK;
  const uint32_t n = frame->num_copies < TV_MAX_PARAMS ? frame->num_copies : TV_MAX_PARAMS;
  uint32_t i;

  for (i = 0; i < n; i++) {
    const struct marshal_copy *c = &frame->copies[i];
    const enum marshal_status st = copy_mem(pal_mem, c->pal_gva, caller, c->caller_gva, c->bytes,
                                            MARSHAL_ERR_PAL_READ, MARSHAL_ERR_CALLER_WRITE);
    if (st != MARSHAL_OK && first_err == MARSHAL_OK) {
      first_err = st;
    }
  }

  marshal_scrub_regs(regs, g64);
  regs->rsp = frame->saved_rsp + word_bytes(g64);
  if (!g64) {
    regs->rsp &= LOW32;
  }
  return first_err;
}

void marshal_scrub_regs(struct marshal_regs *regs, bool g64) {
  regs->rcx = 0;
  regs->rdx = 0;
  if (g64) {
    regs->rsi = 0;
    regs->rdi = 0;
    regs->r8 = 0;
    regs->r9 = 0;
    regs->r10 = 0;
    regs->r11 = 0;
  }
}
