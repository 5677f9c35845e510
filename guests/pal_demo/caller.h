/* SPDX-License-Identifier: Apache-2.0 */
/* The regular-world harness: registers a copy of the PAL code with TrustVisor, and unregisters. */
#ifndef PAL_DEMO_CALLER_H
#define PAL_DEMO_CALLER_H

#include <stdbool.h>
#include <stdint.h>

#include "hypapps/trustvisor/tv_abi.h"

/* A PAL's sections, one page each, in this order. */
enum pal_page { PAL_PAGE_CODE, PAL_PAGE_DATA, PAL_PAGE_STACK, PAL_PAGE_PARAM, PAL_PAGE_COUNT };

struct pal_handle {
  void *pages[PAL_PAGE_COUNT];
  uintptr_t entry; /* where to call the PAL; the key TV_HC_UNREG wants */
};

/*
 * Maps fresh CODE, DATA, STACK and PARAM pages, copies the code bytes
 * [begin, end) into CODE and registers the PAL whose entry is the copy of
 * `entry` (which must lie in [begin, end)), with `params` describing its
 * arguments. SIGINT stays blocked while any PAL is registered. Returns the
 * PAL's entry address (also in pal->entry). On any failure prints why and
 * exits with status 1. The pages are the hypervisor's until unregister_pal.
 */
uintptr_t register_pal(struct pal_handle *pal, const struct tv_pal_params *params, uintptr_t entry,
                       uintptr_t begin, uintptr_t end, bool verbose);

/* Unregisters and unmaps a PAL from register_pal; on failure prints why and exits with status 1. */
void unregister_pal(struct pal_handle *pal);

/* Whether a SIGINT arrived while blocked: callers stop early and unregister, which delivers it. */
bool pal_interrupt_pending(void);

#endif /* PAL_DEMO_CALLER_H */
