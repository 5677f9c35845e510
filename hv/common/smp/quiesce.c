/* SPDX-License-Identifier: Apache-2.0 */
/* The quiesce protocol; its contract and the reasons for its order are in xhv/quiesce.h. */
#include "xhv/quiesce.h"

#include "xhv/cpu_ops.h"
#include "xhv/smp.h"

#ifdef XHV_QUIESCE_LEGACY_ORDER
#include "xhv/log.h"
#endif

/*
 * QUIESCE_STEP(name): the point before one step of the protocol touches
 * shared state. Nothing in the hypervisor, where an NMI can arrive between
 * any two instructions anyway; the host tests (quiesce_test.cc) deliver
 * their simulated NMIs there, at every step, and record the steps' order.
 * The legacy build's names are those of the seed's protocol in README.md.
 */
#ifdef QUIESCE_TEST_HOOKS
void quiesce_test_step(const char *name);
#define QUIESCE_STEP(name) quiesce_test_step(name)
#else
#define QUIESCE_STEP(name) ((void)0)
#endif

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

#ifndef XHV_QUIESCE_LEGACY_ORDER

static void protocol_begin(struct cpu *self) {
  QUIESCE_STEP("lock");
  while (__atomic_exchange_n(&q.lock, 1U, __ATOMIC_ACQUIRE) != 0U) {
    cpu_pause();
    QUIESCE_STEP("lock");
  }
  QUIESCE_STEP("mark self");
  store(&self->quiesced, 1U);
  QUIESCE_STEP("parked=0");
  store(&q.parked, 0U);
  QUIESCE_STEP("resumed=0");
  store(&q.resumed, 0U);
  QUIESCE_STEP("flag=1");
  store(&q.flag, 1U);
  uint32_t others = smp_cpu_count() - 1U;
  if (others == 0U) {
    return;
  }
  QUIESCE_STEP("send NMIs");
  cpu_send_nmi_all_but_self();
  QUIESCE_STEP("wait parked");
  while (load(&q.parked) != others) {
    cpu_pause();
    QUIESCE_STEP("wait parked");
  }
}

static void protocol_end(struct cpu *self) {
  uint32_t others = smp_cpu_count() - 1U;
  /* The fix of the seed's bug: the flag comes down before the signal goes up. */
  QUIESCE_STEP("flag=0");
  store(&q.flag, 0U);
  QUIESCE_STEP("resume=1");
  store(&q.resume, 1U);
  QUIESCE_STEP("wait resumed");
  while (load(&q.resumed) != others) {
    cpu_pause();
    QUIESCE_STEP("wait resumed");
  }
  QUIESCE_STEP("resume=0");
  store(&q.resume, 0U);
  q.rounds++;
  QUIESCE_STEP("unmark self");
  store(&self->quiesced, 0U);
  QUIESCE_STEP("unlock");
  __atomic_store_n(&q.lock, 0U, __ATOMIC_RELEASE);
}

bool quiesce_nmi(struct cpu *self) {
  uint32_t expected = 0U;
  QUIESCE_STEP("read flag");
  if (!load(&q.flag)) {
    return false;
  }
  QUIESCE_STEP("claim mark");
  if (!__atomic_compare_exchange_n(&self->quiesced, &expected, 1U, false, __ATOMIC_ACQ_REL,
                                   __ATOMIC_ACQUIRE)) {
    return false;
  }
  /*
   * Park with NMIs open: an NMI that arrives now (the guest's, or the
   * quiescer's own when a guest NMI made us park) is taken at once, nested,
   * and counted as the guest's, since quiesced is already ours. Parking
   * with NMIs blocked would leave it latched, to merge with the next
   * round's NMI and vanish.
   */
  QUIESCE_STEP("unblock NMIs");
  cpu_nmi_unblock();
  self->quiesce_parks++;
  QUIESCE_STEP("parked++");
  __atomic_add_fetch(&q.parked, 1U, __ATOMIC_ACQ_REL);
  QUIESCE_STEP("wait resume");
  while (!load(&q.resume)) {
    cpu_pause();
    QUIESCE_STEP("wait resume");
  }
  /*
   * Unmark before counting ourselves resumed: once counted, the quiescer may
   * start the next round at once, and its NMI, nested here, must be able to
   * park us (a mark still set would make it count as the guest's, and the
   * quiescer would wait for our park for ever; the model found this too).
   */
  QUIESCE_STEP("unmark");
  store(&self->quiesced, 0U);
  QUIESCE_STEP("resumed++");
  __atomic_add_fetch(&q.resumed, 1U, __ATOMIC_ACQ_REL);
  return true;
}

#else /* XHV_QUIESCE_LEGACY_ORDER */

/*
 * The seed's protocol, step for step as hv/common/smp/README.md states it
 * (Q1-Q8, E1-E7, H1-H7), kept only to prove the tests see its bug (build
 * setting //hv/common/smp:legacy_quiesce_order). Never the default.
 */

static void protocol_begin(struct cpu *self) {
  QUIESCE_STEP("Q1 line lock");
  log_line_lock();
  QUIESCE_STEP("Q2 lock");
  while (__atomic_exchange_n(&q.lock, 1U, __ATOMIC_ACQUIRE) != 0U) {
    cpu_pause();
    QUIESCE_STEP("Q2 lock");
  }
  QUIESCE_STEP("Q3 mark self");
  store(&self->quiesced, 1U);
  QUIESCE_STEP("Q4 parked=0");
  store(&q.parked, 0U);
  QUIESCE_STEP("Q5 flag=1");
  store(&q.flag, 1U);
  uint32_t others = smp_cpu_count() - 1U;
  if (others != 0U) {
    QUIESCE_STEP("Q6 send NMIs");
    cpu_send_nmi_all_but_self();
    QUIESCE_STEP("Q7 wait parked");
    while (load(&q.parked) < others) {
      cpu_pause();
      QUIESCE_STEP("Q7 wait parked");
    }
  }
  QUIESCE_STEP("Q8 line unlock");
  log_line_unlock();
}

static void protocol_end(struct cpu *self) {
  uint32_t others = smp_cpu_count() - 1U;
  QUIESCE_STEP("E1 resumed=0");
  store(&q.resumed, 0U);
  QUIESCE_STEP("E2 resume=1");
  store(&q.resume, 1U);
  QUIESCE_STEP("E3 wait resumed");
  while (load(&q.resumed) < others) {
    cpu_pause();
    QUIESCE_STEP("E3 wait resumed");
  }
  QUIESCE_STEP("E4 unmark self");
  store(&self->quiesced, 0U);
  QUIESCE_STEP("E5 flag=0");
  store(&q.flag, 0U);
  QUIESCE_STEP("E6 resume=0");
  store(&q.resume, 0U);
  q.rounds++;
  QUIESCE_STEP("E7 unlock");
  __atomic_store_n(&q.lock, 0U, __ATOMIC_RELEASE);
}

bool quiesce_nmi(struct cpu *self) {
  QUIESCE_STEP("H1 read flag");
  if (!load(&q.flag)) {
    return false; /* the guest's NMI */
  }
  /* H2 and H3: a plain test, then a plain set, not one atomic step. */
  QUIESCE_STEP("H2 read mark");
  if (load(&self->quiesced)) {
    return true; /* dropped: neither a park nor the guest's */
  }
  QUIESCE_STEP("H3 mark");
  store(&self->quiesced, 1U);
  /* NMIs stay blocked from here to the handler's end. */
  self->quiesce_parks++;
  QUIESCE_STEP("H4 parked++");
  __atomic_add_fetch(&q.parked, 1U, __ATOMIC_ACQ_REL);
  QUIESCE_STEP("H5 wait resume");
  while (!load(&q.resume)) {
    cpu_pause();
    QUIESCE_STEP("H5 wait resume");
  }
  QUIESCE_STEP("H6 resumed++");
  __atomic_add_fetch(&q.resumed, 1U, __ATOMIC_ACQ_REL);
  QUIESCE_STEP("H7 unmark");
  store(&self->quiesced, 0U);
  return true;
}

#endif /* XHV_QUIESCE_LEGACY_ORDER */

/*
 * Nested calls on the quiescing CPU (a hypercall's handler that edits the
 * EPT, an access the APIC trap steps with the others quiesced) only count:
 * the others are stopped already, and taking the quiesce lock again would
 * wait for ever on this very CPU.
 */
void quiesce_begin(struct cpu *self) {
  if (self->quiesce_depth++ == 0U) {
    protocol_begin(self);
  }
}

void quiesce_end(struct cpu *self) {
  if (--self->quiesce_depth == 0U) {
    protocol_end(self);
  }
}

uint64_t quiesce_rounds(void) { return q.rounds; }
