// SPDX-License-Identifier: Apache-2.0
// A guest's memory for host tests of the core's real guest services (xhv/guest_mem.h, xhv/guest_ept.h).
#ifndef XHV_TESTING_FAKES_FAKE_MACHINE_H
#define XHV_TESTING_FAKES_FAKE_MACHINE_H

#include <cstdint>

namespace xhv_fake {

// A guest with `ram` bytes of usable RAM from 0 in its E820 map, under a
// regular EPT built by the real guest_ept_init (identity map of the low
// 4 GiB, all write-back) with [hidden, hidden + hidden_size) hidden. The fake
// physical memory is ram + heap bytes: the heap (EPT tables and other
// hypervisor pages, heap_alloc_pages) sits above the guest's RAM.
void GuestMemory(uint64_t ram, uint64_t hidden, uint64_t hidden_size, uint64_t heap = 8U << 20);

}  // namespace xhv_fake

#endif  // XHV_TESTING_FAKES_FAKE_MACHINE_H
