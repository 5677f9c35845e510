// SPDX-License-Identifier: Apache-2.0
// The hypapp host tests of the core link: it knows no hypercall, so the core's own paths run.
#include "xhv/hypapp.h"

extern "C" {

static bool fake_hypercall(struct cpu *, struct cpu_regs *) { return false; }

const struct hypapp xhv_hypapp = {"fake", nullptr, fake_hypercall, nullptr, nullptr, nullptr,
                                  nullptr};

}  // extern "C"
