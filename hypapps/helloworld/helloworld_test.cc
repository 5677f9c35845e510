// SPDX-License-Identifier: Apache-2.0
// helloworld's hypercalls on the host: what they report about the other CPUs.
#include <cstdarg>
#include <cstdint>

#include "gtest/gtest.h"
#include "testing/fakes/fake_cpu.h"
#include "xhv/guest.h"
#include "xhv/guest_mem.h"
#include "xhv/hypapp.h"
#include "xhv/smp.h"

namespace {

constexpr uint32_t kQuiesce = 0x58480001U;
constexpr uint32_t kStopped = 0x58480002U;
constexpr uint64_t kCounterGpa = 0x5000U;

struct cpu cpus[3];
uint32_t guest_page[1024];

}  // namespace

// What helloworld.c calls besides the fake CPU: three CPUs, one guest page.
extern "C" {
void log_printf(const char *, ...) {}
uint32_t smp_cpu_count(void) { return 3; }
struct cpu *cpu_by_index(uint32_t index) { return index < 3 ? &cpus[index] : nullptr; }
// The checked accessor over one guest page at kCounterGpa; elsewhere refused.
bool guest_mem_read(const struct ept *, uint64_t gpa, void *buf, uint32_t len) {
  if (gpa < kCounterGpa || gpa + len > kCounterGpa + sizeof(guest_page)) {
    return false;
  }
  __atomic_load(reinterpret_cast<uint32_t *>(reinterpret_cast<uint8_t *>(guest_page) +
                                             (gpa - kCounterGpa)),
                static_cast<uint32_t *>(buf), __ATOMIC_RELAXED);
  return len == sizeof(uint32_t);
}
}

namespace {

class HelloworldTest : public ::testing::Test {
 protected:
  void SetUp() override {
    xhv_fake::cpu().Reset();
    for (uint32_t i = 0; i < 3; i++) {
      cpus[i] = {};
      cpus[i].index = i;
      cpus[i].quiesced = 1;  // what quiesce_begin leaves behind
    }
    guest_page[0] = 41;
  }

  struct cpu_regs Call(uint32_t nr, uint64_t bx = 0, uint64_t cx = 0) {
    struct cpu_regs regs {};
    regs.ax = nr;
    regs.bx = static_cast<uword_t>(bx);
    regs.cx = static_cast<uword_t>(cx);
    EXPECT_TRUE(xhv_hypapp.hypercall(&cpus[0], &regs));
    return regs;
  }
};

TEST_F(HelloworldTest, QuiesceCountsTheOtherCpusMarkedQuiesced) {
  cpus[2].quiesced = 0;
  EXPECT_EQ(Call(kQuiesce).ax, 1U);
}

TEST_F(HelloworldTest, StoppedReportsACounterNobodyMovedAsStill) {
  struct cpu_regs r = Call(kStopped, kCounterGpa, 1000);
  EXPECT_EQ(r.ax, 2U);
  EXPECT_EQ(r.bx, 0U);
  EXPECT_EQ(r.cx, 41U);
  EXPECT_GE(xhv_fake::cpu().tsc, 1000U) << "it must watch for the ticks it was given";
}

TEST_F(HelloworldTest, StoppedSeesACpuThatStillRunsGuestCodeDespiteItsMark) {
  // A CPU marked quiesced but not stopped keeps incrementing the counter
  // while helloworld waits: the marks say 2, the counter says otherwise.
  xhv_fake::cpu().pause_hook = [] { __atomic_add_fetch(&guest_page[0], 1U, __ATOMIC_RELAXED); };
  struct cpu_regs r = Call(kStopped, kCounterGpa, 1000);
  EXPECT_EQ(r.ax, 2U);
  EXPECT_GT(r.bx, 0U);
  EXPECT_EQ(r.cx, 41U);
}

TEST_F(HelloworldTest, StoppedRefusesAnAddressOutsideGuestMemory) {
  EXPECT_EQ(Call(kStopped, 0x100000U, 1000).ax, static_cast<uword_t>(-2));
  EXPECT_EQ(Call(kStopped, kCounterGpa + 2, 1000).ax, static_cast<uword_t>(-2));
}

TEST_F(HelloworldTest, OtherNumbersAreNotHelloworlds) {
  struct cpu_regs regs {};
  regs.ax = 0x58480003U;
  EXPECT_FALSE(xhv_hypapp.hypercall(&cpus[0], &regs));
}

}  // namespace
