// SPDX-License-Identifier: Apache-2.0
// GuestMemory: fake RAM, the guest's E820 map and the real regular EPT over them.
#include "testing/fakes/fake_machine.h"

#include <cstring>

#include "testing/fakes/fake_cpu.h"
#include "testing/fakes/fake_hv.h"
#include "testing/fakes/fake_vmcs.h"
#include "xhv/guest.h"
#include "xhv/guest_ept.h"
#include "xhv/guest_mem.h"
#include "xhv/mtrr.h"

namespace xhv_fake {

void GuestMemory(uint64_t ram, uint64_t hidden, uint64_t hidden_size, uint64_t heap) {
  cpu().phys.assign(ram + heap, 0);
  hv().heap_next = ram;
  hv().heap_end = ram + heap;
  hv().guest_map.count = 1;
  hv().guest_map.entry[0] = {0, ram, E820_TYPE_USABLE};
  guest_mem_init(&hv().guest_map);
  struct mtrr_state mtrr;
  std::memset(&mtrr, 0, sizeof(mtrr));
  mtrr.def_type = MTRR_DEF_TYPE_E | MTRR_TYPE_WB;
  mtrr.phys_addr_bits = 36;
  guest_ept_init(1ULL << 32, &mtrr, hidden, hidden_size, 0, 0);
  vmcs().Set(VMCS_EPT_POINTER, guest_regular_eptp());  // the guest runs in it, as at launch
}

}  // namespace xhv_fake
