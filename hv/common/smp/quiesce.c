/* SPDX-License-Identifier: Apache-2.0 */
/* The quiesce protocol; its contract and the reasons for its order are in xhv/quiesce.h. */
#include "xhv/quiesce.h"

#include "xhv/cpu_ops.h"
#include "xhv/smp.h"

static struct {
  uint32_t lock;
  uint32_t flag;    /* a quiesce is in progress */
  uint32_t resume;  /* parked CPUs may go */
  uint32_t parked;  /* CPUs that parked in this round */
  uint32_t resumed; /* CPUs that left the park in this round */
  uint64_t rounds;
} q;

static uint32_t load(const uint32_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static void store(uint32_t *p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }

void quiesce_begin(struct cpu *self) {
  while (__atomic_exchange_n(&q.lock, 1U, __ATOMIC_ACQUIRE) != 0U) {
    cpu_pause();
  }
  store(&self->quiesced, 1U);
  store(&q.parked, 0U);
  store(&q.resumed, 0U);
  store(&q.flag, 1U);
  uint32_t others = smp_cpu_count() - 1U;
  if (others == 0U) {
    return;
  }
  cpu_send_nmi_all_but_self();
  while (load(&q.parked) != others) {
    cpu_pause();
  }
}

void quiesce_end(struct cpu *self) {
  uint32_t others = smp_cpu_count() - 1U;
#ifndef XHV_QUIESCE_LEGACY_ORDER
  store(&q.flag, 0U);
  store(&q.resume, 1U);
  while (load(&q.resumed) != others) {
    cpu_pause();
  }
#else
  /*
   * The seed's protocol, kept only to prove the tests see its bug (build
   * setting //hv/common/smp:legacy_quiesce_order): the resume signal goes up
   * before the flag comes down, and parked CPUs spin with NMIs blocked, so
   * an NMI latched during the park re-parks its CPU while the flag is still
   * up. Never the default.
   */
  store(&q.resume, 1U);
  while (load(&q.resumed) != others) {
    cpu_pause();
  }
  store(&q.flag, 0U);
#endif
  store(&q.resume, 0U);
  q.rounds++;
  store(&self->quiesced, 0U);
  __atomic_store_n(&q.lock, 0U, __ATOMIC_RELEASE);
}

bool quiesce_nmi(struct cpu *self) {
  uint32_t expected = 0U;
  if (!load(&q.flag) ||
      !__atomic_compare_exchange_n(&self->quiesced, &expected, 1U, false, __ATOMIC_ACQ_REL,
                                   __ATOMIC_ACQUIRE)) {
    return false;
  }
  /*
   * Park with NMIs open: an NMI that arrives now (the guest's, or the
   * quiescer's own when a guest NMI made us park) is taken at once, nested,
   * and counted as the guest's, since quiesced is already ours. Parking
   * with NMIs blocked would leave it latched, to merge with the next
   * round's NMI and vanish. (The legacy build parks with NMIs blocked, as
   * the seed's protocol did.)
   */
#ifndef XHV_QUIESCE_LEGACY_ORDER
  cpu_nmi_unblock();
#endif
  self->quiesce_parks++;
  __atomic_add_fetch(&q.parked, 1U, __ATOMIC_ACQ_REL);
  while (!load(&q.resume)) {
    cpu_pause();
  }
  /*
   * Unmark before counting ourselves resumed: once counted, the quiescer may
   * start the next round at once, and its NMI, nested here, must be able to
   * park us (a mark still set would make it count as the guest's, and the
   * quiescer would wait for our park for ever; the model found this too).
   */
  store(&self->quiesced, 0U);
  __atomic_add_fetch(&q.resumed, 1U, __ATOMIC_ACQ_REL);
  return true;
}

uint64_t quiesce_rounds(void) { return q.rounds; }
