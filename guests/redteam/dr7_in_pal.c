/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dr7_in_pal: the OS arms hardware breakpoints in a PAL, then calls it.
 *
 * A child process registers a PAL that loops over `dec %ecx` and pushes on
 * its stack; the parent, as the OS's debugger (ptrace, i.e. the kernel's
 * DR0-DR7), arms three breakpoints: DR0 on a function of the child outside
 * any PAL (the control, which proves the breakpoints are armed and hit),
 * DR1 on the PAL's loop instruction and DR2 on writes to the PAL's stack.
 * The child calls the control, the PAL, and the control again. TrustVisor
 * runs a PAL with DR7 = 400H and DEBUGCTL = 0, and gives the caller its DR7
 * back afterwards: the control hits twice, the PAL never (it returns 42;
 * a #DB inside it would have ended it with TV_ERR_PAL_FAULT).
 */
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pal_demo/vmcall.h"
#include "redteam/rt.h"

/* push %rax; pop %rax; mov $256, %ecx; 1: dec %ecx; jnz 1b; mov $42, %eax; ret */
static const uint8_t pal_code[] = {0x50, 0x58, 0xB9, 0x00, 0x01, 0x00, 0x00, 0xFF, 0xC9,
                                   0x75, 0xFC, 0xB8, 0x2A, 0x00, 0x00, 0x00, 0xC3};
#define PAL_LOOP_OFFSET 7U
#define PAL_RESULT 42U
#define SI_CODE_HWBKPT 4 /* TRAP_HWBKPT */

/* DR7: L0, L1 execute; L2 write of 4 bytes (SDM "Debug Control Register (DR7)"). */
#define DR7_ARMED ((1UL << 0) | (1UL << 2) | (1UL << 4) | (1UL << 24) | (3UL << 26))

struct child_report {
  uintptr_t entry;
  uintptr_t stack_word; /* where the PAL's push lands */
};

__attribute__((noinline)) void control_target(void) { __asm__ volatile("nop"); }

static int child(int report_fd, int result_fd) {
  struct pal_handle pal;
  struct child_report r;
  r.entry = rt_register(&pal, pal_code, sizeof(pal_code), NULL);
  /* The PAL's first rsp is 16 + a word below the STACK end; its push goes a word lower. */
  r.stack_word = (uintptr_t)pal.pages[PAL_PAGE_STACK] + 4096U - 16U - 2U * sizeof(uintptr_t);
  if (write(report_fd, &r, sizeof(r)) != (ssize_t)sizeof(r)) {
    return 2;
  }
  ptrace(PTRACE_TRACEME, 0, 0, 0);
  raise(SIGSTOP);
  control_target();
  uintptr_t ret = ((uintptr_t(*)(void))r.entry)();
  control_target();
  unregister_pal(&pal);
  if (write(result_fd, &ret, sizeof(ret)) != (ssize_t)sizeof(ret)) {
    return 2;
  }
  return 0;
}

static void poke_dr(pid_t pid, int n, uintptr_t value) {
  long off = (long)(offsetof(struct user, u_debugreg) + (size_t)n * sizeof(long));
  if (ptrace(PTRACE_POKEUSER, pid, (void *)off, (void *)value) != 0) {
    rt_fail("dr7_in_pal", "ptrace could not set DR%d", n);
  }
}

int main(void) {
  tv_require_present();
  int report[2], result[2];
  if (pipe(report) != 0 || pipe(result) != 0) {
    rt_fail("dr7_in_pal", "pipe");
  }
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    _exit(child(report[1], result[1]));
  }
  struct child_report r;
  if (pid < 0 || read(report[0], &r, sizeof(r)) != (ssize_t)sizeof(r)) {
    rt_fail("dr7_in_pal", "the child did not register its PAL");
  }
  int status;
  waitpid(pid, &status, 0);
  if (!WIFSTOPPED(status)) {
    rt_fail("dr7_in_pal", "the child did not stop for the debugger");
  }
  poke_dr(pid, 0, (uintptr_t)control_target);
  poke_dr(pid, 1, r.entry + PAL_LOOP_OFFSET);
  poke_dr(pid, 2, r.stack_word & ~(uintptr_t)3U);
  poke_dr(pid, 7, DR7_ARMED);
  int control_hits = 0, other_traps = 0;
  ptrace(PTRACE_CONT, pid, 0, 0);
  for (;;) {
    waitpid(pid, &status, 0);
    if (WIFEXITED(status) || WIFSIGNALED(status)) {
      break;
    }
    siginfo_t si;
    ptrace(PTRACE_GETSIGINFO, pid, 0, &si);
    struct user_regs_struct regs;
    ptrace(PTRACE_GETREGS, pid, 0, &regs);
#if defined(__x86_64__)
    uintptr_t ip = regs.rip;
#else
    uintptr_t ip = (uintptr_t)regs.eip;
#endif
    int sig = WSTOPSIG(status);
    if (sig == SIGTRAP && si.si_code == SI_CODE_HWBKPT && ip == (uintptr_t)control_target) {
      control_hits++;
      sig = 0;
    } else if (sig == SIGTRAP) {
      other_traps++;
      sig = 0;
    }
    ptrace(PTRACE_CONT, pid, 0, (void *)(uintptr_t)sig);
  }
  uintptr_t ret = 0;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
      read(result[0], &ret, sizeof(ret)) != (ssize_t)sizeof(ret)) {
    rt_fail("dr7_in_pal", "the child did not finish (status 0x%x)", status);
  }
  if (control_hits != 2) {
    rt_fail("dr7_in_pal", "the control breakpoint outside the PAL hit %d times, not twice: the "
            "attack was %s",
            control_hits, control_hits == 1 ? "made, but the caller lost its DR7" : "not armed");
  }
  if (ret != PAL_RESULT || other_traps != 0) {
    rt_fail("dr7_in_pal", "the PAL returned 0x%lx with %d other traps: a breakpoint in it hit",
            (unsigned long)ret, other_traps);
  }
  rt_evidence("dr7_in_pal", "not_hit",
              "control_hits=%d pal_result=%lu dr7=0x%lx dr1=pal+%u dr2=pal_stack", control_hits,
              (unsigned long)ret, (unsigned long)DR7_ARMED, PAL_LOOP_OFFSET);
  return 0;
}
