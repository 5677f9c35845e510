// SPDX-License-Identifier: Apache-2.0
// The real quiesce code on simulated CPUs (threads) with simulated NMIs.
//
// Each thread is a CPU. An NMI is a per-CPU latch (hardware keeps at most
// one pending); a CPU takes a latched NMI at every step of the protocol
// (quiesce.c's QUIESCE_STEP, before each access to shared state), at every
// pause and between steps of its own loop, unless its NMIs are blocked: from
// taking one to the IRET at its handler's end, or to cpu_nmi_unblock (the
// IRET-to-self the fixed park does). Sending to a set latch is a merge, and
// the NMI is gone, as in hardware.
//
// Who sends, and when, keeps out the merges no protocol could avoid, so
// every merge that still happens is the protocol's doing and counts as a
// lost NMI:
//  - a CPU with NMIs open takes a latched NMI at once in hardware, so no
//    sender adds a second NMI to it meanwhile (it waits, or the guest source
//    picks again);
//  - the guest's NMI sources send to no CPU inside a hypervisor NMI handler
//    with NMIs blocked (a few instructions long: an NMI sent then could only
//    wait in the latch, where the next one would merge with it whatever the
//    protocol did), except to a CPU whose park itself keeps NMIs blocked: to
//    the guest it is a running CPU, and how long it stays unable to take
//    NMIs is the protocol's choice.
#include "xhv/quiesce.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "testing/fakes/fake_cpu.h"
#include "testing/fakes/fake_hv.h"

namespace {

struct SimCpu {
  struct cpu cpu {};
  std::mutex mu;          // guards the state below against senders
  bool latched = false;   // the hardware's pending-NMI bit
  bool blocked = false;   // NMIs blocked
  int depth = 0;          // NMI handlers running, nested ones included
  int in_park = 0;        // ghost: between announcing the park and leaving it
  int park_depth = 0;     // the handler depth the park runs at
  std::atomic<uint64_t> guest_counted{0};
  std::vector<std::string> trace;  // steps, when tracing
};

struct Sim {
  explicit Sim(uint32_t n) : cpus(n) {
    for (uint32_t i = 0; i < n; i++) {
      cpus[i] = std::make_unique<SimCpu>();
      cpus[i]->cpu.index = i;
    }
  }
  std::vector<std::unique_ptr<SimCpu>> cpus;
  std::atomic<uint64_t> merges{0};
  std::atomic<uint64_t> guest_sent{0};
  std::atomic<uint64_t> rounds{0};
  std::atomic<bool> in_callback{false};
  std::atomic<bool> violation{false};
  std::atomic<bool> stop{false};
  std::atomic<size_t> done{0};
  bool tracing = false;
};

Sim *sim;
thread_local SimCpu *me;

// Latches an NMI at `target` as the rules above allow. A guest NMI the
// rules do not allow now is not sent (false); a quiesce NMI waits.
bool Send(SimCpu *target, bool guest) {
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(target->mu);
      bool taken_at_once = target->latched && !target->blocked;
      // Blocked by the park itself, not by a (nested) handler's few instructions.
      bool parked_blocked =
          target->blocked && target->in_park > 0 && target->depth == target->park_depth;
      bool hardware_limit = target->blocked && !parked_blocked;
      if (!(guest && hardware_limit) && !taken_at_once) {
        if (target->latched) {
          sim->merges++;
        }
        target->latched = true;
        if (guest) {
          sim->guest_sent++;
        }
        return true;
      }
    }
    if (guest) {
      return false;
    }
    std::this_thread::yield();
  }
}

// The CPU's NMI entry: takes latched NMIs while its NMIs are open.
void TakeNmis() {
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(me->mu);
      if (me->blocked || !me->latched) {
        return;
      }
      me->latched = false;
      me->blocked = true;
      me->depth++;
    }
    me->cpu.in_nmi++;
    if (!quiesce_nmi(&me->cpu)) {
      me->guest_counted++;
    }
    me->cpu.in_nmi--;
    std::lock_guard<std::mutex> lock(me->mu);
    me->depth--;
    me->blocked = false;  // the IRET; a latched NMI is taken on the next turn
  }
}

void SetInPark(int delta) {
  std::lock_guard<std::mutex> lock(me->mu);
  me->in_park += delta;
  me->park_depth = me->depth;
}

void CpuThread(SimCpu *self, uint64_t target_rounds, uint32_t seed) {
  me = self;
  xhv_fake::FakeHv::current = &self->cpu;
  std::mt19937 rng(seed);
  while (sim->rounds.load() < target_rounds) {
    TakeNmis();
    if (rng() % 4U == 0U) {
      quiesce_begin(&self->cpu);
      // The callback: nobody else may run one, and every other CPU must be
      // parked: marked, and inside its park, not running guest code.
      if (sim->in_callback.exchange(true)) {
        sim->violation = true;
      }
      for (auto &other : sim->cpus) {
        if (other.get() == self) {
          continue;
        }
        std::lock_guard<std::mutex> lock(other->mu);
        if (__atomic_load_n(&other->cpu.quiesced, __ATOMIC_ACQUIRE) != 1U ||
            other->in_park == 0) {
          sim->violation = true;
        }
      }
      // Hypapp work takes a while: guest NMIs land on the parked CPUs.
      for (uint32_t i = rng() % 16U; i > 0; i--) {
        cpu_pause();
      }
      sim->in_callback = false;
      quiesce_end(&self->cpu);
      sim->rounds++;
    } else {
      for (uint32_t i = rng() % 8U; i > 0; i--) {
        cpu_pause();
      }
    }
  }
  // Keep answering NMIs until every CPU is done: a quiescer still waits for us.
  sim->done++;
  while (sim->done.load() < sim->cpus.size()) {
    TakeNmis();
    std::this_thread::yield();
  }
}

void GuestNmiSource(uint32_t seed) {
  std::mt19937 rng(seed);
  while (!sim->stop.load()) {
    Send(sim->cpus[rng() % sim->cpus.size()].get(), /*guest=*/true);
    std::this_thread::yield();
  }
}

void InstallHooks(bool unblock_in_park) {
  xhv_fake::cpu().pause_hook = [] {
    if (me != nullptr) {
      TakeNmis();
      std::this_thread::yield();
    }
  };
  if (unblock_in_park) {
    xhv_fake::cpu().nmi_unblock_hook = [] {
      std::lock_guard<std::mutex> lock(me->mu);
      me->blocked = false;
    };
  } else {
    xhv_fake::cpu().nmi_unblock_hook = [] {};
  }
  xhv_fake::cpu().send_nmi_hook = [] {
    for (auto &c : sim->cpus) {
      if (c.get() != me) {
        Send(c.get(), /*guest=*/false);
      }
    }
  };
}

// Runs the simulation in a death-test child and exits with 0 (every round
// done, every NMI accounted for), 42 (no round completed for `stall`: the
// protocol deadlocked) or 43 (an invariant broke). Deadlocked threads never
// return, which is why this runs in a child process. unblock_in_park false
// makes cpu_nmi_unblock do nothing: the fixed code, parking with NMIs
// blocked, as if the fix had left that out.
[[noreturn]] void RunAndExit(uint32_t ncpus, uint64_t target_rounds, bool unblock_in_park,
                             std::chrono::milliseconds stall) {
  xhv_fake::cpu().Reset();
  xhv_fake::hv().Clear();
  xhv_fake::hv().cpu_count = ncpus;
  Sim *s = new Sim(ncpus);
  sim = s;
  InstallHooks(unblock_in_park);
  std::vector<std::thread> threads;
  for (uint32_t i = 0; i < ncpus; i++) {
    threads.emplace_back(CpuThread, s->cpus[i].get(), target_rounds, 1000U + i);
  }
  std::thread source(GuestNmiSource, 7U);

  uint64_t last = 0;
  auto last_progress = std::chrono::steady_clock::now();
  while (s->rounds.load() < target_rounds) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    uint64_t now_rounds = s->rounds.load();
    if (now_rounds != last) {
      last = now_rounds;
      last_progress = std::chrono::steady_clock::now();
    } else if (std::chrono::steady_clock::now() - last_progress > stall) {
      std::fprintf(stderr, "quiesce stalled after %llu rounds\n",
                   static_cast<unsigned long long>(now_rounds));
      std::_Exit(42);
    }
  }
  for (auto &t : threads) t.join();
  s->stop = true;
  source.join();

  // NMIs still latched would be taken next, with no quiesce on: the guest's.
  uint64_t parks = 0, guest = 0, pending = 0;
  for (auto &c : s->cpus) {
    parks += c->cpu.quiesce_parks;
    guest += c->guest_counted;
    pending += c->latched ? 1U : 0U;
  }
  uint64_t rounds = s->rounds;
  std::fprintf(stderr,
               "quiesce rounds: %llu, parks: %llu, guest NMIs sent: %llu, counted: %llu, "
               "still latched: %llu, lost in a merge: %llu\n",
               (unsigned long long)rounds, (unsigned long long)parks,
               (unsigned long long)s->guest_sent.load(), (unsigned long long)guest,
               (unsigned long long)pending, (unsigned long long)s->merges.load());
  // Every quiesce NMI parked exactly one CPU once, and every guest NMI was
  // counted or is still pending: none merged away, none counted twice.
  bool ok = !s->violation && parks == rounds * (ncpus - 1U) && s->merges == 0 &&
            guest + pending == s->guest_sent;
  std::_Exit(ok ? 0 : 43);
}

// A step of the protocol: where NMIs are taken (and, tracing, recorded).
// Spin loops repeat their step; the trace keeps it once per run of repeats.
extern "C" void quiesce_test_step(const char *name) {
  if (me == nullptr) {
    return;
  }
  if (sim->tracing && (me->trace.empty() || me->trace.back() != name)) {
    me->trace.push_back(name);
  }
  const char *steps_in_park[] = {"parked++", "H4 parked++"};
  const char *steps_out_of_park[] = {"unmark", "H6 resumed++"};
  for (const char *n : steps_in_park) {
    if (std::strcmp(name, n) == 0) {
      SetInPark(1);
    }
  }
  for (const char *n : steps_out_of_park) {
    if (std::strcmp(name, n) == 0) {
      SetInPark(-1);
    }
  }
  TakeNmis();
}

// One quiesce by CPU 0 of two, traced: what each CPU did, step by step, and
// then an NMI to CPU 0 while it holds the quiesce, and one with none on.
struct Traced {
  std::vector<std::string> quiescer, parked, nmi_to_quiescer, nmi_outside;
  uint64_t quiescer_guest_nmis = 0;
};

Traced TraceOneRound() {
  xhv_fake::cpu().Reset();
  xhv_fake::hv().Clear();
  xhv_fake::hv().cpu_count = 2;
  Sim *s = new Sim(2);
  sim = s;
  s->tracing = true;
  InstallHooks(true);
  std::thread other([s] {
    me = s->cpus[1].get();
    xhv_fake::FakeHv::current = &me->cpu;
    while (!s->stop.load()) {
      TakeNmis();
      std::this_thread::yield();
    }
  });
  me = s->cpus[0].get();
  xhv_fake::FakeHv::current = &me->cpu;
  Traced t;
  quiesce_begin(&me->cpu);
  t.quiescer = me->trace;
  me->trace.clear();
  Send(me, /*guest=*/true);  // taken at once: this CPU's NMIs are open
  TakeNmis();
  t.nmi_to_quiescer = me->trace;
  me->trace.clear();
  quiesce_end(&me->cpu);
  t.quiescer.insert(t.quiescer.end(), me->trace.begin(), me->trace.end());
  me->trace.clear();
  t.quiescer_guest_nmis = me->guest_counted;
  Send(me, /*guest=*/true);
  TakeNmis();
  t.nmi_outside = me->trace;
  s->stop = true;
  other.join();
  t.parked = s->cpus[1]->trace;
  me = nullptr;
  return t;
}

using Steps = std::vector<std::string>;

constexpr uint64_t kRounds = 50000;

#ifndef QUIESCE_EXPECT_LEGACY

TEST(QuiesceDeathTest, FiftyThousandRoundsWithGuestNmisNeitherDeadlockNorLoseAnNmi) {
  EXPECT_EXIT(RunAndExit(4, kRounds, /*unblock_in_park=*/true, std::chrono::seconds(5)),
              ::testing::ExitedWithCode(0), "quiesce rounds: [0-9]+");
}

TEST(QuiesceDeathTest, TwoCpusAlsoHold) {
  EXPECT_EXIT(RunAndExit(2, 20000, true, std::chrono::seconds(5)), ::testing::ExitedWithCode(0),
              "quiesce rounds: [0-9]+");
}

// The simulation must see what parking with NMIs blocked costs: a guest NMI
// that reaches a parked CPU waits in the latch, the next one merges with it
// and is lost. (The seed's protocol parks that way; the fix unblocks.)
TEST(QuiesceDeathTest, ParkingWithNmisBlockedLosesGuestNmis) {
  EXPECT_EXIT(RunAndExit(4, kRounds, /*unblock_in_park=*/false, std::chrono::seconds(5)),
              ::testing::ExitedWithCode(43), "lost in a merge: [1-9][0-9]*");
}

TEST(QuiesceTrace, FixedProtocolStepOrder) {
  Traced t = TraceOneRound();
  EXPECT_EQ(t.quiescer, (Steps{"lock", "mark self", "parked=0", "resumed=0", "flag=1",
                               "send NMIs", "wait parked", "flag=0", "resume=1", "wait resumed",
                               "resume=0", "unmark self", "unlock"}));
  EXPECT_EQ(t.parked, (Steps{"read flag", "claim mark", "unblock NMIs", "parked++",
                             "wait resume", "unmark", "resumed++"}));
  // The quiescer's mark is taken: an NMI to it is the guest's, and counted.
  EXPECT_EQ(t.nmi_to_quiescer, (Steps{"read flag", "claim mark"}));
  EXPECT_EQ(t.quiescer_guest_nmis, 1U);
  EXPECT_EQ(t.nmi_outside, (Steps{"read flag"}));
}

#else

// The seed's protocol (README.md) must be caught: a CPU that resumes and at
// once takes a latched NMI parks again on a round that is ending.
TEST(QuiesceDeathTest, LegacyOrderingDeadlocks) {
  EXPECT_EXIT(RunAndExit(4, kRounds, true, std::chrono::seconds(2)),
              ::testing::ExitedWithCode(42), "quiesce stalled after");
}

// The legacy build runs the seed's protocol exactly as README.md states it.
TEST(QuiesceTrace, SeedProtocolStepOrder) {
  Traced t = TraceOneRound();
  EXPECT_EQ(t.quiescer, (Steps{"Q1 line lock", "Q2 lock", "Q3 mark self", "Q4 parked=0",
                               "Q5 flag=1", "Q6 send NMIs", "Q7 wait parked", "Q8 line unlock",
                               "E1 resumed=0", "E2 resume=1", "E3 wait resumed",
                               "E4 unmark self", "E5 flag=0", "E6 resume=0", "E7 unlock"}));
  EXPECT_EQ(t.parked, (Steps{"H1 read flag", "H2 read mark", "H3 mark", "H4 parked++",
                             "H5 wait resume", "H6 resumed++", "H7 unmark"}));
  // H2: an NMI to a CPU already marked (the quiescer) is dropped, not counted.
  EXPECT_EQ(t.nmi_to_quiescer, (Steps{"H1 read flag", "H2 read mark"}));
  EXPECT_EQ(t.quiescer_guest_nmis, 0U);
  EXPECT_EQ(t.nmi_outside, (Steps{"H1 read flag"}));
}

#endif

}  // namespace
