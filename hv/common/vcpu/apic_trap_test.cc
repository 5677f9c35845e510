// SPDX-License-Identifier: Apache-2.0
// The APIC trap on simulated CPUs: which start-up IPIs it virtualises, which
// it forwards, and what a step of one trapped access leaves behind.
#include "xhv/apic_trap.h"

#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "testing/fakes/fake_cpu.h"
#include "testing/fakes/fake_vmcs.h"
#include "xhv/ept.h"
#include "xhv/guest.h"
#include "xhv/guest_ept.h"
#include "xhv/heap.h"
#include "xhv/log.h"
#include "xhv/quiesce.h"
#include "xhv/smp.h"
#include "xhv/vmcs.h"

namespace {

// The local APIC registers and ICR encodings the guest uses, written out
// from the SDM ("Interrupt Command Register") rather than taken from
// apic_trap.c, so a wrong constant there cannot agree with itself.
constexpr uint32_t kApicId = 0x020, kTpr = 0x080, kEoi = 0x0B0, kIcrLow = 0x300,
                   kIcrHigh = 0x310;
constexpr uint32_t kInit = 0x0000C500U;  // INIT, level assert, physical, no shorthand
constexpr uint32_t kSipi = 0x00004600U;  // start-up, | vector
constexpr uint32_t kFixed = 0x00004000U;  // fixed, | vector
constexpr uint32_t kLogical = 1U << 11;
constexpr uint32_t kAllButSelf = 3U << 18;
constexpr uint32_t kGpVector = 13;
// RFLAGS: bit 1 is always set; ZF stands for any flag an instruction changes.
constexpr uint32_t kRflagsFixed = 1U << 1, kRflagsZf = 1U << 6, kRflagsTf = 1U << 8,
                   kRflagsIf = 1U << 9;

// Physical address the fake heap gives the stand-in page: anything the
// APIC page (a host pointer here) cannot be.
constexpr uint64_t kShadowPa = 0x9F000;

constexpr uint32_t kMaxCpus = 4;
// APIC IDs that are not the CPUs' indexes, so a destination matched
// against the wrong one goes to no CPU.
constexpr uint32_t kApicIds[kMaxCpus] = {0, 2, 4, 6};

// The other side of apic_trap.c's seams: the CPUs, the regular EPT's entry
// for the APIC page, the guest's exceptions and the quiesce.
struct World {
  struct cpu cpus[kMaxCpus];
  uint32_t count = 1;
  struct cpu *current = nullptr;
  std::string log;
  struct Map {
    uint64_t gpa, hpa;
    uint32_t prot;
    uint8_t memtype;
    bool quiesced;  // the calling code held the quiesce
  };
  std::vector<Map> maps;  // guest_ept_map_page calls, in order
  struct Injection {
    uint32_t vector;
    bool has_error;
    uint32_t error;
  };
  std::vector<Injection> injected;
  // Runs once, at the next outermost quiesce_begin, before it stops the
  // others: what another CPU that got the quiesce first does meanwhile.
  std::function<void()> before_quiesce;
};

World &w() {
  static World world;
  return world;
}

// The local APIC and the RAM stand-in as host pages: apic_trap.c reaches
// the APIC through its physical address, identity-mapped in the
// hypervisor, so the page's host address is the APIC base here.
alignas(PAGE_SIZE) uint32_t apic_page[PAGE_SIZE / 4];
alignas(PAGE_SIZE) uint32_t shadow_page[PAGE_SIZE / 4];
// Every CPU has a local APIC of its own at the same address: apic_page
// holds the APIC of the CPU that last ran an access (Load), the others
// wait here.
uint32_t other_apics[kMaxCpus][PAGE_SIZE / 4];
uint32_t loaded_apic = 0;

void Load(const struct cpu *c) {
  if (c->index != loaded_apic) {
    std::memcpy(other_apics[loaded_apic], apic_page, sizeof(apic_page));
    std::memcpy(apic_page, other_apics[c->index], sizeof(apic_page));
    loaded_apic = c->index;
  }
}

uint64_t Base() { return reinterpret_cast<uintptr_t>(apic_page); }

bool Quiesced() {
  for (const struct cpu &c : w().cpus) {
    if (c.quiesce_depth != 0U) {
      return true;
    }
  }
  return false;
}

}  // namespace

extern "C" {

void log_printf(const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  w().log += buf;
}

struct cpu *this_cpu(void) { return w().current; }

struct cpu *cpu_by_index(uint32_t index) {
  return index < w().count ? &w().cpus[index] : nullptr;
}

uint32_t smp_cpu_count(void) { return w().count; }

void *heap_alloc_pages(uint32_t count, uint32_t align_pages, uint64_t *pa) {
  EXPECT_EQ(count, 1U);
  EXPECT_LE(align_pages, 1U);
  std::memset(shadow_page, 0, sizeof(shadow_page));
  *pa = kShadowPa;
  return shadow_page;
}

void guest_ept_map_page(uint64_t gpa, uint64_t hpa, uint32_t prot, uint8_t memtype) {
  w().maps.push_back({gpa, hpa, prot, memtype, Quiesced()});
}

void guest_inject_exception(uint32_t vector, bool has_error, uint32_t error) {
  w().injected.push_back({vector, has_error, error});
}

void guest_nmi_hold(struct cpu *cpu, bool hold) { cpu->guest_nmi_held = hold; }

// quiesce.c's nesting, without its protocol (which would wait for the
// simulated CPUs to park in NMI handlers they never run). What it checks
// instead: balanced calls, and never two CPUs quiescing at once (on
// hardware each would wait for the other to park).
void quiesce_begin(struct cpu *self) {
  if (self->quiesce_depth == 0U && w().before_quiesce) {
    std::function<void()> first = std::move(w().before_quiesce);
    w().before_quiesce = nullptr;
    first();
  }
  if (self->quiesce_depth++ != 0U) {
    return;
  }
  for (const struct cpu &c : w().cpus) {
    if (&c != self && c.quiesce_depth != 0U) {
      ADD_FAILURE() << "CPU " << self->index << " quiesces while CPU " << c.index
                    << " holds the quiesce";
    }
  }
}

void quiesce_end(struct cpu *self) {
  if (self->quiesce_depth == 0U) {
    ADD_FAILURE() << "CPU " << self->index << " ends a quiesce it does not hold";
    return;
  }
  self->quiesce_depth--;
}

}  // extern "C"

namespace {

class ApicTrapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    xhv_fake::cpu().Reset();
    xhv_fake::cpu().pause_hook = GiveUp;
    xhv_fake::vmcs().Reset();
    w().log.clear();
    w().maps.clear();
    w().injected.clear();
    w().before_quiesce = nullptr;
    std::memset(apic_page, 0, sizeof(apic_page));
    std::memset(other_apics, 0, sizeof(other_apics));
    loaded_apic = 0;
  }

  // apic_trap.c keeps its state for the life of the process, as the
  // hypervisor does: start every CPU still waiting, so the next test finds
  // no CPU counted and the page handed back.
  void TearDown() override {
    xhv_fake::cpu().pause_hook = GiveUp;
    for (uint32_t i = 0; i < w().count; i++) {
      if (w().cpus[i].apic_step) {
        apic_trap_step_end(&w().cpus[i], false);
      }
    }
    if (Waiting(1) || Waiting(2) || Waiting(3)) {
      Write(Cpu(0), kIcrLow, kSipi | kAllButSelf);
    }
    for (uint32_t i = 0; i < w().count; i++) {
      EXPECT_FALSE(w().cpus[i].awaiting_sipi) << "CPU " << i << " left waiting";
      EXPECT_EQ(w().cpus[i].quiesce_depth, 0U) << "CPU " << i << " left quiesced";
    }
    bool armed = apic_trap_ept_violation(Cpu(0), Base(), EPT_READ, false);
    if (armed) {
      apic_trap_step_end(Cpu(0), false);
    }
    EXPECT_FALSE(armed) << "the trap stayed armed";
  }

  // `n` CPUs, CPU 0 the BSP, and the trap armed on it as at boot.
  void Init(uint32_t n) {
    std::memset(w().cpus, 0, sizeof(w().cpus));
    for (uint32_t i = 0; i < kMaxCpus; i++) {
      w().cpus[i].index = i;
      w().cpus[i].apic_id = kApicIds[i];
    }
    w().cpus[0].is_bsp = true;
    w().count = n;
    w().current = Cpu(0);
    apic_trap_init(Base(), n);
  }

  static struct cpu *Cpu(uint32_t i) { return &w().cpus[i]; }
  // A wait that should have ended already: fail, and end it (a start-up
  // IPI of vector 0xFF for every CPU), so the test reports instead of
  // spinning for ever. Every wait pauses, so this is the default pause.
  static void GiveUp() {
    ADD_FAILURE() << "a CPU still waits for its SIPI";
    for (struct cpu &c : w().cpus) {
      c.sipi_vector = 0xFF;
      __atomic_store_n(&c.sipi_received, 1U, __ATOMIC_RELEASE);
    }
  }
  static bool Waiting(uint32_t i) { return i < w().count && w().cpus[i].awaiting_sipi; }

  // The regular EPT's entry for the APIC page: identity, read-write, until
  // the trap changes it.
  static World::Map Entry() {
    for (auto m = w().maps.rbegin(); m != w().maps.rend(); ++m) {
      if (m->gpa == Base()) {
        return *m;
      }
    }
    return {Base(), Base(), EPT_READ | EPT_WRITE, 0, false};
  }
  static bool Trapped() { return Entry().prot == 0U && Entry().hpa == Base(); }
  static bool HandedBack() {
    return Entry().prot == (EPT_READ | EPT_WRITE) && Entry().hpa == Base();
  }

  // One guest instruction of `c` reading or writing the APIC register at
  // `offset`, as the hardware runs it: an EPT violation if the page is
  // trapped, the access on whatever the EPT then maps there, and the #DB
  // of the step's trap flag. True if it was trapped (stepped).
  bool Access(struct cpu *c, uint32_t offset, uint32_t access, uint32_t *value) {
    struct cpu *was = w().current;
    w().current = c;
    Load(c);
    bool stepped = apic_trap_ept_violation(c, Base() + offset, access, false);
    if (stepped) {
      EXPECT_TRUE(c->apic_step) << "a trapped data access is stepped";
      EXPECT_TRUE(Quiesced()) << "the step runs with the other CPUs quiesced";
    }
    World::Map m = Entry();
    uint32_t *page = m.hpa == kShadowPa ? shadow_page : m.hpa == Base() ? apic_page : nullptr;
    if (page == nullptr || (m.prot & access) != access) {
      ADD_FAILURE() << "the access would fault again: hpa 0x" << std::hex << m.hpa << " prot "
                    << m.prot;
    } else if (access & EPT_WRITE) {
      page[offset / 4] = *value;
    } else {
      *value = page[offset / 4];
    }
    if (stepped) {
      Retire();
      EXPECT_TRUE(apic_trap_step_end(c, true));
      EXPECT_FALSE(c->apic_step);
    }
    EXPECT_EQ(c->quiesce_depth, 0U) << "the step released its quiesce";
    w().current = was;
    return stepped;
  }
  bool Write(struct cpu *c, uint32_t offset, uint32_t value) {
    return Access(c, offset, EPT_WRITE, &value);
  }
  uint32_t Read(struct cpu *c, uint32_t offset) {
    uint32_t value = 0;
    Access(c, offset, EPT_READ, &value);
    return value;
  }
  // An IPI as xAPIC drivers send one: destination first, then the command.
  void SendIpi(struct cpu *from, uint32_t dest_apic_id, uint32_t icr_low) {
    Write(from, kIcrHigh, dest_apic_id << 24);
    Write(from, kIcrLow, icr_low);
  }
  // The usual start-up: INIT, then a SIPI.
  void Start(struct cpu *from, uint32_t i, uint32_t vector) {
    SendIpi(from, kApicIds[i], kInit);
    SendIpi(from, kApicIds[i], kSipi | vector);
  }
  // The stepped instruction retires: RIP moves past it (then its #DB).
  static void Retire() {
    xhv_fake::vmcs().Set(VMCS_GUEST_RIP, xhv_fake::vmcs().Get(VMCS_GUEST_RIP) + 3U);
  }
  // What the guest's CPU sent for real through its own local APIC.
  static uint32_t SentLow() { return apic_page[kIcrLow / 4]; }
  static uint32_t SentHigh() { return apic_page[kIcrHigh / 4]; }
};

TEST_F(ApicTrapTest, BootTrapsTheApicPageForEveryApButNeverCountsTheBsp) {
  Init(3);
  EXPECT_FALSE(Cpu(0)->awaiting_sipi) << "the BSP runs the guest from the start";
  EXPECT_TRUE(Cpu(1)->awaiting_sipi);
  EXPECT_TRUE(Cpu(2)->awaiting_sipi);
  EXPECT_TRUE(Trapped());
  EXPECT_EQ(Entry().memtype, 0U) << "uncacheable, as the APIC is";
  EXPECT_TRUE(Entry().quiesced) << "no CPU runs on a half-made change";
  EXPECT_NE(w().log.find("until 2 AP(s) get their SIPI"), std::string::npos) << w().log;
}

TEST_F(ApicTrapTest, ASingleCpuNeverTrapsItsApic) {
  Init(1);
  EXPECT_TRUE(w().maps.empty());
  EXPECT_FALSE(Write(Cpu(0), kIcrLow, kFixed | 0x30)) << "straight to the APIC";
  EXPECT_EQ(SentLow(), kFixed | 0x30);
}

TEST_F(ApicTrapTest, AnInitToAnApWaitingForItsSipiIsConsumedNotForwarded) {
  Init(2);
  SendIpi(Cpu(0), kApicIds[1], kInit);
  EXPECT_EQ(SentLow(), 0U) << "an INIT now would reach the AP in VMX root, and be lost";
  EXPECT_TRUE(Cpu(1)->awaiting_sipi);
  EXPECT_EQ(Cpu(1)->sipi_received, 0U);
  EXPECT_TRUE(Trapped());
}

TEST_F(ApicTrapTest, ASipiReleasesTheApWaitingAtBootWithItsVector) {
  Init(2);
  // The AP waits in the hypervisor; the BSP's INIT-SIPI comes meanwhile.
  int pauses = 0;
  xhv_fake::cpu().pause_hook = [&] {
    if (pauses++ == 0) {
      Start(Cpu(0), 1, 0x9A);
    } else {
      GiveUp();
    }
  };
  // Its vector: the caller starts the AP in real mode at vector * 0x1000.
  EXPECT_EQ(apic_trap_wait_for_sipi(Cpu(1)), 0x9AU);
  EXPECT_EQ(Cpu(1)->sipi_received, 0U) << "consumed";
  EXPECT_FALSE(Cpu(1)->awaiting_sipi);
  EXPECT_EQ(SentLow(), 0U) << "neither the INIT nor the SIPI reached the hardware";
  // The last AP started: the guest owns its APIC again.
  EXPECT_TRUE(HandedBack());
  EXPECT_NE(w().log.find("the guest owns its local APIC again"), std::string::npos) << w().log;
  EXPECT_FALSE(Write(Cpu(0), kIcrLow, kFixed | 0x31));
  EXPECT_EQ(SentLow(), kFixed | 0x31);
}

TEST_F(ApicTrapTest, OnlyTheFirstSipiOfThePairCounts) {
  Init(3);
  Start(Cpu(0), 1, 0x10);
  SendIpi(Cpu(0), kApicIds[1], kSipi | 0x20);  // drivers send two
  EXPECT_EQ(Cpu(1)->sipi_vector, 0x10U) << "a SIPI means nothing to a CPU that does not wait";
  EXPECT_FALSE(Cpu(1)->awaiting_sipi);
  EXPECT_TRUE(Cpu(2)->awaiting_sipi);
  EXPECT_EQ(Cpu(2)->sipi_received, 0U) << "not the AP it named";
  EXPECT_TRUE(Trapped()) << "CPU 2 still waits";
}

TEST_F(ApicTrapTest, AnInitOrSipiToTheBspChangesNothing) {
  Init(3);
  Start(Cpu(0), 1, 0x10);
  SendIpi(Cpu(1), kApicIds[0], kInit);
  SendIpi(Cpu(1), kApicIds[0], kSipi | 0x30);
  EXPECT_FALSE(Cpu(0)->awaiting_sipi);
  EXPECT_EQ(Cpu(0)->sipi_received, 0U);
  EXPECT_EQ(SentLow(), 0U) << "the INIT was not sent to the BSP either";
  // Counted, the BSP would keep the page trapped after the last AP starts.
  Start(Cpu(0), 2, 0x10);
  EXPECT_TRUE(HandedBack());
}

TEST_F(ApicTrapTest, AnInitToARunningApIsForwardedAndAnEarlySipiCounts) {
  Init(3);
  Start(Cpu(0), 1, 0x10);
  ASSERT_EQ(apic_trap_wait_for_sipi(Cpu(1)), 0x10U);
  // CPU 2 still waits, so the page is trapped; CPU 1 runs the guest.
  SendIpi(Cpu(0), kApicIds[1], kInit);
  EXPECT_EQ(SentHigh(), kApicIds[1] << 24);
  EXPECT_EQ(SentLow(), kInit) << "sent for real: CPU 1 takes it as an INIT exit";
  EXPECT_TRUE(Cpu(1)->awaiting_sipi) << "from now on, not from its INIT exit";
  // The SIPI, microseconds later, before CPU 1 gets to its INIT exit.
  SendIpi(Cpu(0), kApicIds[1], kSipi | 0x9C);
  EXPECT_EQ(SentLow(), kInit) << "the SIPI is the hypervisor's to deliver";
  EXPECT_FALSE(Cpu(1)->awaiting_sipi);
  // The INIT exit parks the CPU: its SIPI is there already (no pause).
  uint32_t vector = 0;
  EXPECT_TRUE(apic_trap_park(Cpu(1), true, &vector));
  EXPECT_EQ(vector, 0x9CU);
  EXPECT_EQ(Cpu(1)->sipi_received, 0U) << "consumed";
}

TEST_F(ApicTrapTest, ABroadcastInitIsForwardedToEachRunningApByItsOwnId) {
  Init(3);
  Start(Cpu(0), 1, 0x10);
  Write(Cpu(0), kIcrLow, kInit | kAllButSelf);
  EXPECT_EQ(SentHigh(), kApicIds[1] << 24);
  EXPECT_EQ(SentLow(), kInit) << "physical, no shorthand: the BSP must not get it";
  EXPECT_TRUE(Cpu(1)->awaiting_sipi);
  EXPECT_TRUE(Cpu(2)->awaiting_sipi) << "waited already";
  EXPECT_FALSE(Cpu(0)->awaiting_sipi);
}

TEST_F(ApicTrapTest, ALogicalDestinationInitOrSipiIsDropped) {
  Init(2);
  Write(Cpu(0), kIcrHigh, 1U << 24);  // a logical mask that could mean CPU 1
  Write(Cpu(0), kIcrLow, kInit | kLogical);
  Write(Cpu(0), kIcrLow, kSipi | kLogical | 0x10);
  EXPECT_TRUE(Cpu(1)->awaiting_sipi);
  EXPECT_EQ(Cpu(1)->sipi_received, 0U);
  EXPECT_EQ(SentLow(), 0U) << "not obeyed blindly either";
  EXPECT_NE(w().log.find("logical destination"), std::string::npos) << w().log;
  EXPECT_TRUE(Trapped());
}

TEST_F(ApicTrapTest, AnyOtherIpiIsSentAsTheGuestWroteIt) {
  Init(2);
  EXPECT_TRUE(Write(Cpu(0), kIcrHigh, kApicIds[1] << 24));
  EXPECT_EQ(SentHigh(), kApicIds[1] << 24) << "the destination: the CPU's own register";
  EXPECT_EQ(SentLow(), 0U) << "nothing sent yet";
  Write(Cpu(0), kIcrLow, kFixed | 0xF1 | kLogical);
  EXPECT_EQ(SentHigh(), kApicIds[1] << 24);
  EXPECT_EQ(SentLow(), kFixed | 0xF1 | kLogical);
  EXPECT_TRUE(Cpu(1)->awaiting_sipi);
}

TEST_F(ApicTrapTest, EveryAccessButAnIcrWriteIsSteppedOnTheRealApic) {
  Init(2);
  apic_page[kApicId / 4] = 0x05000000U;
  apic_page[kIcrLow / 4] = 0x000008F1U;
  EXPECT_EQ(Read(Cpu(0), kApicId), 0x05000000U);
  EXPECT_EQ(Entry().hpa, Base()) << "trapped again after the step";
  EXPECT_EQ(w().maps[w().maps.size() - 2].hpa, Base()) << "the real APIC during the step";
  EXPECT_EQ(Read(Cpu(0), kIcrLow), 0x000008F1U) << "an ICR read: its delivery status";
  EXPECT_TRUE(Write(Cpu(0), kTpr, 0x20));
  EXPECT_TRUE(Write(Cpu(0), kEoi, 0));
  EXPECT_EQ(apic_page[kTpr / 4], 0x20U);
  EXPECT_TRUE(Cpu(1)->awaiting_sipi);
  EXPECT_TRUE(Trapped());
}

TEST_F(ApicTrapTest, AStepRunsOneInstructionWithInterruptsAndGuestNmisHeldOff) {
  Init(2);
  Write(Cpu(0), kIcrHigh, kApicIds[1] << 24);
  xhv_fake::vmcs().Set(VMCS_GUEST_RFLAGS, kRflagsFixed | kRflagsIf);
  xhv_fake::vmcs().Set(VMCS_EXCEPTION_BITMAP, 1U << 18);
  ASSERT_TRUE(apic_trap_ept_violation(Cpu(0), Base() + kIcrLow, EPT_WRITE, false));
  EXPECT_EQ(xhv_fake::vmcs().Get(VMCS_GUEST_RFLAGS), kRflagsFixed | kRflagsTf) << "TF on, IF off";
  EXPECT_EQ(xhv_fake::vmcs().Get(VMCS_EXCEPTION_BITMAP), 0xFFFFFFFFU);
  EXPECT_TRUE(Cpu(0)->guest_nmi_held);
  EXPECT_EQ(Cpu(0)->quiesce_depth, 1U);
  EXPECT_EQ(Entry().hpa, kShadowPa) << "an ICR write lands in the stand-in";
  EXPECT_EQ(Entry().prot, EPT_READ | EPT_WRITE);
  // The instruction runs and changes flags of its own (ZF).
  xhv_fake::vmcs().Set(VMCS_GUEST_RFLAGS, kRflagsFixed | kRflagsTf | kRflagsZf);
  shadow_page[kIcrLow / 4] = kFixed | 0x40;
  Retire();
  ASSERT_TRUE(apic_trap_step_end(Cpu(0), true));
  EXPECT_EQ(xhv_fake::vmcs().Get(VMCS_GUEST_RFLAGS), kRflagsFixed | kRflagsZf | kRflagsIf)
      << "its flags, the guest's IF";
  EXPECT_EQ(xhv_fake::vmcs().Get(VMCS_EXCEPTION_BITMAP), 1U << 18);
  EXPECT_FALSE(Cpu(0)->guest_nmi_held);
  EXPECT_EQ(Cpu(0)->quiesce_depth, 0U);
  EXPECT_EQ(SentLow(), kFixed | 0x40);
  EXPECT_TRUE(Trapped());
}

TEST_F(ApicTrapTest, TheGuestsOwnTrapFlagOutlivesTheStep) {
  Init(2);
  xhv_fake::vmcs().Set(VMCS_GUEST_RFLAGS, kRflagsFixed | kRflagsTf);  // the guest single-steps
  ASSERT_TRUE(apic_trap_ept_violation(Cpu(0), Base() + kTpr, EPT_READ, false));
  Retire();
  ASSERT_TRUE(apic_trap_step_end(Cpu(0), true));
  EXPECT_EQ(xhv_fake::vmcs().Get(VMCS_GUEST_RFLAGS), kRflagsFixed | kRflagsTf);
}

// The step's #DB exit also took in the guest's own traps of that
// instruction: they are the guest's, with DR6 saying which, as the CPU
// would have delivered them.
TEST_F(ApicTrapTest, TheGuestsOwnSingleStepTrapOfTheSteppedInstructionIsDelivered) {
  Init(2);
  xhv_fake::vmcs().Set(VMCS_GUEST_RFLAGS, kRflagsFixed | kRflagsTf);  // the guest single-steps
  ASSERT_TRUE(apic_trap_ept_violation(Cpu(0), Base() + kTpr, EPT_READ, false));
  Retire();
  xhv_fake::vmcs().Set(VMCS_EXIT_QUALIFICATION, 1U << 14);  // BS
  xhv_fake::cpu().dr6 = 0xFFFF2FF1U;  // BD and B0 from earlier #DBs the guest did not clear
  ASSERT_TRUE(apic_trap_step_end(Cpu(0), true));
  ASSERT_EQ(w().injected.size(), 1U);
  EXPECT_EQ(w().injected[0].vector, 1U);
  EXPECT_FALSE(w().injected[0].has_error);
  EXPECT_EQ(xhv_fake::cpu().dr6, 0xFFFF6FF0U) << "BS; BD kept, as the CPU keeps it; B0 anew";
}

// A REP string iteration traps with RIP still at the instruction: its
// single step is the guest's all the same.
TEST_F(ApicTrapTest, TheGuestsSingleStepOfAnIterationThatLeftRipWhereItWasIsDeliveredToo) {
  Init(2);
  xhv_fake::vmcs().Set(VMCS_GUEST_RFLAGS, kRflagsFixed | kRflagsTf);
  ASSERT_TRUE(apic_trap_ept_violation(Cpu(0), Base() + kTpr, EPT_WRITE, false));
  xhv_fake::vmcs().Set(VMCS_EXIT_QUALIFICATION, 1U << 14);
  ASSERT_TRUE(apic_trap_step_end(Cpu(0), true));
  ASSERT_EQ(w().injected.size(), 1U);
  EXPECT_EQ(w().injected[0].vector, 1U);
}

TEST_F(ApicTrapTest, UnderBtfTheGuestsTrapFlagTrapsOnlyBranchesSoTheAccessGetsNoStep) {
  Init(2);
  xhv_fake::vmcs().Set(VMCS_GUEST_RFLAGS, kRflagsFixed | kRflagsTf);
  xhv_fake::vmcs().Set(VMCS_GUEST_IA32_DEBUGCTL, 1U << 1);  // BTF
  ASSERT_TRUE(apic_trap_ept_violation(Cpu(0), Base() + kTpr, EPT_READ, false));
  Retire();
  xhv_fake::vmcs().Set(VMCS_EXIT_QUALIFICATION, 1U << 14);
  ASSERT_TRUE(apic_trap_step_end(Cpu(0), true));
  EXPECT_TRUE(w().injected.empty());
  EXPECT_EQ(xhv_fake::vmcs().Get(VMCS_GUEST_IA32_DEBUGCTL) & 2U, 2U) << "BTF is the guest's again";
}

// A stepped MOV SS defers the step's trap past the next instruction; when
// that one exits instead, the CPU may leave the step's BS pending behind
// MOV SS blocking. VM entry then wants BS exactly as the guest's own TF
// says (else the entry fails: a guest-made halt). This ends a step of an
// APIC read so, and returns what is pending then.
uint64_t PendingAfterAStepBehindMovSs(struct cpu *c, uint64_t base, bool guest_tf) {
  xhv_fake::vmcs().Set(VMCS_GUEST_RFLAGS, kRflagsFixed | (guest_tf ? kRflagsTf : 0U));
  EXPECT_TRUE(apic_trap_ept_violation(c, base + kTpr, EPT_READ, false));
  xhv_fake::vmcs().Set(VMCS_GUEST_RIP, xhv_fake::vmcs().Get(VMCS_GUEST_RIP) + 6U);
  xhv_fake::vmcs().Set(VMCS_GUEST_INTERRUPTIBILITY_INFO, 2U);        // blocking by MOV SS
  xhv_fake::vmcs().Set(VMCS_GUEST_PENDING_DBG_EXCEPTIONS, 1U << 14);  // the step's BS
  EXPECT_TRUE(apic_trap_step_end(c, false));  // the next instruction exited
  return xhv_fake::vmcs().Get(VMCS_GUEST_PENDING_DBG_EXCEPTIONS);
}

TEST_F(ApicTrapTest, APendingStepBehindMovSsBlockingIsDroppedForAGuestThatDoesNotStep) {
  Init(2);
  EXPECT_EQ(PendingAfterAStepBehindMovSs(Cpu(0), Base(), false), 0U);
  EXPECT_TRUE(w().injected.empty());
}

TEST_F(ApicTrapTest, APendingStepBehindMovSsBlockingStaysForAGuestThatSteps) {
  Init(2);
  EXPECT_EQ(PendingAfterAStepBehindMovSs(Cpu(0), Base(), true), 1U << 14);
}

TEST_F(ApicTrapTest, AnEnabledDataBreakpointTheAccessHitIsDeliveredAndADisabledOneIsNot) {
  Init(2);
  xhv_fake::vmcs().Set(VMCS_GUEST_RFLAGS, kRflagsFixed);
  // DR1: enabled (L1), a data write breakpoint (R/W1 = 01); DR2: disabled.
  xhv_fake::vmcs().Set(VMCS_GUEST_DR7, (1U << 2) | (1U << 20) | (1U << 24));
  ASSERT_TRUE(apic_trap_ept_violation(Cpu(0), Base() + kTpr, EPT_WRITE, false));
  Retire();
  xhv_fake::vmcs().Set(VMCS_EXIT_QUALIFICATION, (1U << 14) | (1U << 1) | (1U << 2));
  ASSERT_TRUE(apic_trap_step_end(Cpu(0), true));
  ASSERT_EQ(w().injected.size(), 1U);
  EXPECT_EQ(w().injected[0].vector, 1U);
  EXPECT_EQ(xhv_fake::cpu().dr6, 0xFFFF0FF2U) << "B1 only: the step's own BS is not the guest's";
}

TEST_F(ApicTrapTest, WithoutTrapsOfItsOwnTheGuestGetsNoDebugException) {
  Init(2);
  xhv_fake::vmcs().Set(VMCS_GUEST_RFLAGS, kRflagsFixed);
  ASSERT_TRUE(apic_trap_ept_violation(Cpu(0), Base() + kTpr, EPT_READ, false));
  Retire();
  xhv_fake::vmcs().Set(VMCS_EXIT_QUALIFICATION, 1U << 14);  // the step's own BS
  xhv_fake::cpu().dr6 = 0xFFFF0FF1U;
  ASSERT_TRUE(apic_trap_step_end(Cpu(0), true));
  EXPECT_TRUE(w().injected.empty());
  EXPECT_EQ(xhv_fake::cpu().dr6, 0xFFFF0FF1U) << "DR6 untouched";
  EXPECT_EQ(xhv_fake::vmcs().Get(VMCS_GUEST_PENDING_DBG_EXCEPTIONS), 0U) << "nothing pending";
}

TEST_F(ApicTrapTest, AStepEndedByAnyOtherExitReleasesItsQuiesceAndDropsTheWrite) {
  Init(2);
  xhv_fake::vmcs().Set(VMCS_GUEST_RFLAGS, kRflagsFixed | kRflagsIf);
  xhv_fake::vmcs().Set(VMCS_EXCEPTION_BITMAP, 1U << 14);
  Write(Cpu(0), kIcrHigh, kApicIds[1] << 24);
  // An exception, an interrupt, any exit before the step's #DB: the write
  // may be in the stand-in already, but its instruction did not complete.
  ASSERT_TRUE(apic_trap_ept_violation(Cpu(0), Base() + kIcrLow, EPT_WRITE, false));
  ASSERT_EQ(Cpu(0)->quiesce_depth, 1U);
  shadow_page[kIcrLow / 4] = kSipi | 0x10;
  EXPECT_TRUE(apic_trap_step_end(Cpu(0), false));
  EXPECT_EQ(Cpu(0)->quiesce_depth, 0U);
  EXPECT_FALSE(Cpu(0)->apic_step);
  EXPECT_FALSE(Cpu(0)->guest_nmi_held);
  EXPECT_EQ(xhv_fake::vmcs().Get(VMCS_GUEST_RFLAGS), kRflagsFixed | kRflagsIf);
  EXPECT_EQ(xhv_fake::vmcs().Get(VMCS_EXCEPTION_BITMAP), 1U << 14);
  EXPECT_EQ(Cpu(1)->sipi_received, 0U) << "dropped";
  EXPECT_TRUE(Cpu(1)->awaiting_sipi);
  EXPECT_TRUE(Trapped());
  // The dispatcher asks at every exit: with no step open, nothing to end.
  EXPECT_FALSE(apic_trap_step_end(Cpu(0), false));
  EXPECT_FALSE(apic_trap_step_end(Cpu(0), true));
  EXPECT_EQ(Cpu(0)->quiesce_depth, 0U);
  // The guest gets back to the write: it runs again, and counts, sent
  // where the last completed write of the destination said.
  Write(Cpu(0), kIcrLow, kSipi | 0x11);
  EXPECT_EQ(Cpu(1)->sipi_received, 1U);
  EXPECT_EQ(Cpu(1)->sipi_vector, 0x11U);
}

TEST_F(ApicTrapTest, AFetchOrAnEventDeliveryOnTheApicPageGetsGeneralProtection) {
  Init(2);
  size_t maps = w().maps.size();
  EXPECT_TRUE(apic_trap_ept_violation(Cpu(0), Base() + 0x100, EPT_READ | EPT_EXEC, false));
  EXPECT_TRUE(apic_trap_ept_violation(Cpu(0), Base() + 0xFF8, EPT_WRITE, true))
      << "a stack an event pushes to";
  ASSERT_EQ(w().injected.size(), 2U);
  for (const World::Injection &i : w().injected) {
    EXPECT_EQ(i.vector, kGpVector);
    EXPECT_TRUE(i.has_error);
    EXPECT_EQ(i.error, 0U);
  }
  EXPECT_FALSE(Cpu(0)->apic_step) << "no step could contain it";
  EXPECT_EQ(Cpu(0)->quiesce_depth, 0U);
  EXPECT_EQ(w().maps.size(), maps) << "the page stays trapped";
  EXPECT_FALSE(apic_trap_step_end(Cpu(0), false));
}

TEST_F(ApicTrapTest, AccessesBesideTheApicPageAreNotTheTraps) {
  Init(2);
  EXPECT_FALSE(apic_trap_ept_violation(Cpu(0), Base() + PAGE_SIZE, EPT_WRITE, false));
  EXPECT_FALSE(apic_trap_ept_violation(Cpu(0), Base() - 4, EPT_WRITE, false));
  EXPECT_FALSE(apic_trap_ept_violation(Cpu(0), Base() - 4, EPT_EXEC, false));
  EXPECT_TRUE(w().injected.empty());
  EXPECT_EQ(Cpu(0)->quiesce_depth, 0U);
}

TEST_F(ApicTrapTest, AnAccessTrappedAsTheLastApStartedJustRunsAgain) {
  Init(3);
  Start(Cpu(0), 1, 0x10);
  xhv_fake::vmcs().Set(VMCS_GUEST_RFLAGS, kRflagsFixed | kRflagsIf);
  // CPU 1's access faults on the trapped page; CPU 0, quiescing first,
  // starts the last AP, and the page is the guest's again.
  w().before_quiesce = [this] { Start(Cpu(0), 2, 0x10); };
  EXPECT_TRUE(apic_trap_ept_violation(Cpu(1), Base() + kTpr, EPT_WRITE, false));
  ASSERT_EQ(Cpu(2)->sipi_vector, 0x10U);
  EXPECT_FALSE(Cpu(1)->apic_step) << "nothing to step: the page is mapped";
  EXPECT_EQ(Cpu(1)->quiesce_depth, 0U);
  EXPECT_EQ(xhv_fake::vmcs().Get(VMCS_GUEST_RFLAGS), kRflagsFixed | kRflagsIf);
  EXPECT_TRUE(HandedBack());
  EXPECT_FALSE(apic_trap_step_end(Cpu(1), false));
}

TEST_F(ApicTrapTest, AParkedCpuWaitsWithThePageTrappedUntilItsNextSipi) {
  Init(2);
  Start(Cpu(0), 1, 0x10);
  ASSERT_EQ(apic_trap_wait_for_sipi(Cpu(1)), 0x10U);
  ASSERT_TRUE(HandedBack());
  // The guest takes CPU 1 offline (HLT with interrupts off), then online.
  int pauses = 0;
  xhv_fake::cpu().pause_hook = [&] {
    if (pauses++ == 0) {
      EXPECT_TRUE(Cpu(1)->awaiting_sipi);
      EXPECT_TRUE(Trapped());
      EXPECT_EQ(Cpu(1)->quiesce_depth, 0U) << "not held across the wait";
      Start(Cpu(0), 1, 0x9D);
    } else {
      GiveUp();
    }
  };
  uint32_t vector = 0;
  EXPECT_TRUE(apic_trap_park(Cpu(1), true, &vector));
  EXPECT_EQ(vector, 0x9DU);
  EXPECT_EQ(SentLow(), 0U) << "its INIT was the hypervisor's too";
  EXPECT_EQ(Cpu(1)->sipi_received, 0U) << "consumed";
  EXPECT_FALSE(Cpu(1)->awaiting_sipi);
  EXPECT_TRUE(HandedBack());
  EXPECT_EQ(Cpu(1)->quiesce_depth, 0U);
}

TEST_F(ApicTrapTest, AnNmiWakesAParkedCpuAndTheLastWaiterHandsThePageBack) {
  Init(2);
  Start(Cpu(0), 1, 0x10);
  ASSERT_EQ(apic_trap_wait_for_sipi(Cpu(1)), 0x10U);
  // Another CPU sends the guest an NMI (guest_nmi_note owes it to CPU 1).
  xhv_fake::cpu().pause_hook = [] {
    __atomic_store_n(&Cpu(1)->guest_nmi_owed, 1U, __ATOMIC_RELEASE);
  };
  uint32_t vector = 0xEE;
  EXPECT_FALSE(apic_trap_park(Cpu(1), true, &vector));
  EXPECT_EQ(vector, 0xEEU) << "no vector: the guest takes its NMI past the HLT";
  EXPECT_FALSE(Cpu(1)->awaiting_sipi);
  EXPECT_TRUE(HandedBack());
  EXPECT_EQ(Cpu(1)->quiesce_depth, 0U);
}

TEST_F(ApicTrapTest, EachCpuSendsToTheDestinationItWroteItself) {
  Init(4);
  Start(Cpu(0), 1, 0x10);
  Start(Cpu(0), 2, 0x10);  // CPU 3 still waits: every access is trapped
  // Another CPU's destination write comes between a CPU's two writes.
  Write(Cpu(0), kIcrHigh, kApicIds[2] << 24);
  Write(Cpu(1), kIcrHigh, kApicIds[0] << 24);
  Write(Cpu(0), kIcrLow, kFixed | 0x41);
  EXPECT_EQ(SentHigh(), kApicIds[2] << 24);
  EXPECT_EQ(SentLow(), kFixed | 0x41);
  // The same for a start-up IPI, which the hypervisor delivers itself.
  Write(Cpu(0), kIcrHigh, kApicIds[3] << 24);
  Write(Cpu(2), kIcrHigh, kApicIds[0] << 24);
  Write(Cpu(0), kIcrLow, kSipi | 0x42);
  EXPECT_EQ(Cpu(3)->sipi_received, 1U) << "the SIPI went to the CPU CPU 0 named";
  EXPECT_EQ(Cpu(3)->sipi_vector, 0x42U);
  EXPECT_EQ(Read(Cpu(1), kIcrHigh), kApicIds[0] << 24) << "each reads back its own";
}

TEST_F(ApicTrapTest, AfterAnInitOnlyTheSipiEndsTheWaitNotAnNmi) {
  Init(3);
  Start(Cpu(0), 1, 0x10);
  ASSERT_EQ(apic_trap_wait_for_sipi(Cpu(1)), 0x10U);
  SendIpi(Cpu(0), kApicIds[1], kInit);  // forwarded: CPU 1 runs the guest
  ASSERT_TRUE(Cpu(1)->awaiting_sipi);
  // At its INIT exit CPU 1 waits; an NMI for the guest comes, then the SIPI.
  int pauses = 0;
  xhv_fake::cpu().pause_hook = [&] {
    if (pauses == 0) {
      __atomic_store_n(&Cpu(1)->guest_nmi_owed, 1U, __ATOMIC_RELEASE);
    } else if (pauses == 1) {
      EXPECT_TRUE(Cpu(1)->awaiting_sipi) << "the NMI did not end the wait";
      SendIpi(Cpu(0), kApicIds[1], kSipi | 0x9E);
    } else {
      GiveUp();
    }
    pauses++;
  };
  uint32_t vector = 0;
  EXPECT_TRUE(apic_trap_park(Cpu(1), false, &vector));
  EXPECT_EQ(vector, 0x9EU);
  EXPECT_EQ(Cpu(1)->guest_nmi_owed, 1U) << "left for the caller to drop";
  EXPECT_EQ(Cpu(1)->quiesce_depth, 0U);
}

TEST_F(ApicTrapTest, AStepStartsWithoutTheInterruptShadowOrTheBranchTrapFlag) {
  Init(2);
  constexpr uint32_t kBlockingSti = 1U, kBlockingMovSs = 2U, kBlockingNmi = 8U;
  constexpr uint64_t kBtf = 1U << 1, kLbr = 1U << 0;
  // sti; mov eax, [apic+0x80] with the guest's DEBUGCTL.BTF set.
  xhv_fake::vmcs().Set(VMCS_GUEST_RFLAGS, kRflagsFixed | kRflagsIf);
  xhv_fake::vmcs().Set(VMCS_GUEST_INTERRUPTIBILITY_INFO, kBlockingSti | kBlockingNmi);
  xhv_fake::vmcs().Set(VMCS_GUEST_IA32_DEBUGCTL, kBtf | kLbr);
  ASSERT_TRUE(apic_trap_ept_violation(Cpu(0), Base() + kTpr, EPT_READ, false));
  // IF clear with blocking by STI fails VM entry; BTF would run to the next branch.
  EXPECT_EQ(xhv_fake::vmcs().Get(VMCS_GUEST_INTERRUPTIBILITY_INFO), kBlockingNmi);
  EXPECT_EQ(xhv_fake::vmcs().Get(VMCS_GUEST_IA32_DEBUGCTL), kLbr);
  Retire();
  ASSERT_TRUE(apic_trap_step_end(Cpu(0), true));
  EXPECT_EQ(xhv_fake::vmcs().Get(VMCS_GUEST_IA32_DEBUGCTL), kBtf | kLbr) << "the guest's again";
  // mov ss, ax; mov [apic+0x80], eax: blocking by MOV SS under TF wants BS pending.
  xhv_fake::vmcs().Set(VMCS_GUEST_INTERRUPTIBILITY_INFO, kBlockingMovSs);
  ASSERT_TRUE(apic_trap_ept_violation(Cpu(0), Base() + kTpr, EPT_WRITE, false));
  EXPECT_EQ(xhv_fake::vmcs().Get(VMCS_GUEST_INTERRUPTIBILITY_INFO), 0U);
  apic_trap_step_end(Cpu(0), false);
}

TEST_F(ApicTrapTest, ADebugExceptionBeforeTheWriteRetiresIsNoCompletion) {
  Init(2);
  Write(Cpu(0), kIcrHigh, kApicIds[1] << 24);
  // An instruction breakpoint on the write faults before it: RIP stays.
  ASSERT_TRUE(apic_trap_ept_violation(Cpu(0), Base() + kIcrLow, EPT_WRITE, false));
  shadow_page[kIcrLow / 4] = kSipi | 0x12;  // whatever the stand-in held
  EXPECT_TRUE(apic_trap_step_end(Cpu(0), true));
  EXPECT_EQ(Cpu(1)->sipi_received, 0U) << "not sent: the write never ran";
  EXPECT_EQ(Cpu(0)->quiesce_depth, 0U);
}

TEST_F(ApicTrapTest, ANarrowWriteIntoIcrLowIsAnIcrWriteMergedWithTheRest) {
  Init(3);  // CPU 2 keeps the page trapped after CPU 1 starts
  Write(Cpu(0), kIcrHigh, kApicIds[1] << 24);
  apic_page[kIcrLow / 4] = kSipi;  // what the register holds
  // A byte store of the vector alone, at 0x300: the stand-in, not the APIC.
  ASSERT_TRUE(apic_trap_ept_violation(Cpu(0), Base() + kIcrLow, EPT_WRITE, false));
  EXPECT_EQ(Entry().hpa, kShadowPa);
  reinterpret_cast<uint8_t *>(shadow_page)[kIcrLow] = 0x13;
  Retire();
  ASSERT_TRUE(apic_trap_step_end(Cpu(0), true));
  EXPECT_EQ(Cpu(1)->sipi_received, 1U);
  EXPECT_EQ(Cpu(1)->sipi_vector, 0x13U);
  // A byte store to ICR low's top byte, at 0x303, is one too.
  ASSERT_TRUE(apic_trap_ept_violation(Cpu(0), Base() + kIcrLow + 3U, EPT_WRITE, false));
  EXPECT_EQ(Entry().hpa, kShadowPa);
  apic_trap_step_end(Cpu(0), false);
}

TEST_F(ApicTrapTest, AReadStepMapsTheApicReadOnly) {
  Init(2);
  // movs from the APIC page to its ICR: the read's step cannot write.
  ASSERT_TRUE(apic_trap_ept_violation(Cpu(0), Base() + kTpr, EPT_READ, false));
  EXPECT_EQ(Entry().hpa, Base());
  EXPECT_EQ(Entry().prot, EPT_READ);
  apic_trap_step_end(Cpu(0), false);
}

TEST_F(ApicTrapTest, AnInitToAHaltedCpuMakesOnlyItsSipiEndTheWait) {
  Init(3);
  Start(Cpu(0), 1, 0x10);
  ASSERT_EQ(apic_trap_wait_for_sipi(Cpu(1)), 0x10U);
  // CPU 1 is halted offline (a park that an NMI may end); the guest's INIT
  // comes, then an NMI, then the SIPI: as in wait-for-SIPI, the NMI waits.
  int pauses = 0;
  xhv_fake::cpu().pause_hook = [&] {
    if (pauses == 0) {
      SendIpi(Cpu(0), kApicIds[1], kInit);
      __atomic_store_n(&Cpu(1)->guest_nmi_owed, 1U, __ATOMIC_RELEASE);
    } else if (pauses == 1) {
      SendIpi(Cpu(0), kApicIds[1], kSipi | 0x9F);
    } else {
      GiveUp();
    }
    pauses++;
  };
  uint32_t vector = 0;
  EXPECT_TRUE(apic_trap_park(Cpu(1), true, &vector));
  EXPECT_EQ(vector, 0x9FU);
  EXPECT_EQ(Cpu(1)->init_received, 0U) << "consumed with its SIPI";
  // Halted again later, without an INIT: an NMI wakes it as before.
  xhv_fake::cpu().pause_hook = [] {
    __atomic_store_n(&Cpu(1)->guest_nmi_owed, 1U, __ATOMIC_RELEASE);
  };
  EXPECT_FALSE(apic_trap_park(Cpu(1), true, &vector));
}

}  // namespace
