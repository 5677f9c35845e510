/* SPDX-License-Identifier: Apache-2.0 */
/*
 * reset METHOD: registers a PAL that writes a secret over its DATA page,
 * writes the same words over an ordinary page of this process (the canary),
 * and resets the machine the way METHOD names, as a guest's reboot does:
 *   cf9     the reset control register (0x02, then 0x06, as Linux writes it)
 *   kbd     the keyboard controller's reset pulse (0xFE to port 0x64)
 *   port92  fast reset (bit 0 of port 0x92)
 * RAM keeps its contents across a warm reset: xhv must scrub the PAL's pages
 * before the machine resets. Both pages' guest-physical addresses go to the
 * console (XHV-GUEST: dump_at_reset=NAME 0xGPA) for the emulator runner to
 * read them at the reset: the canary must still hold the secret (the reset
 * kept RAM, and the runner read the right pages), the DATA page must not.
 * Returns (XHV-RESULT: FAIL) if it could not set this up (usage, iopl, the
 * pages, the console) or if the machine did not reset.
 */
#define _FILE_OFFSET_BITS 64
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <sys/mman.h>
#include <termios.h>
#include <unistd.h>

#include "pal_demo/caller.h"
#include "pal_demo/pagemap.h"
#include "pal_demo/pal.h"
#include "pal_demo/vmcall.h"

#define WORDS (4096U / sizeof(uintptr_t))
#define SECRET ((uintptr_t)0x5E7E5E7E5E7E5E7EULL & ~(uintptr_t)PAL_FLAG_MASK)

static int fail(const char *what) {
  printf("XHV-RESULT: FAIL reset: %s\n", what);
  return 1;
}

int main(int argc, char **argv) {
  const char *method = argc > 1 ? argv[1] : "";
  if (strcmp(method, "cf9") && strcmp(method, "kbd") && strcmp(method, "port92")) {
    return fail("usage: reset cf9|kbd|port92");
  }
  tv_require_present();
  if (iopl(3) != 0) {
    return fail("iopl(3) failed: not root?");
  }
  uintptr_t *canary = aligned_alloc(4096U, 4096U);
  if (!canary || mlock(canary, 4096U) != 0) {
    return fail("cannot pin the canary page");
  }
  struct tv_pal_params params = {3, 0, {{TV_PAL_ARG_INTEGER, 0, 0}, {TV_PAL_ARG_INTEGER, 0, 0},
                                        {TV_PAL_ARG_INTEGER, 0, 0}}};
  struct pal_handle pal;
  register_pal(&pal, &params, (uintptr_t)pal_stash, (uintptr_t)begin_pal_c, (uintptr_t)end_pal_c,
               false);
  uintptr_t *data = pal.pages[PAL_PAGE_DATA];
  uintptr_t expect = 0;
  for (uintptr_t i = 0; i < WORDS; i++) {
    canary[i] = SECRET ^ i;
    expect += SECRET ^ i;
  }
  if (((pal_stash_fn)pal.entry)(SECRET | PAL_FLAG_MASK, data, WORDS) != expect) {
    return fail("the PAL did not store its secret");
  }
  uint64_t data_gpa = gpa_of(data);
  uint64_t canary_gpa = gpa_of(canary);
  if (data_gpa == 0 || canary_gpa == 0) {
    return fail("no guest-physical address for the DATA page or the canary");
  }
  /*
   * Straight to the console, not stdout: a cell script's output goes
   * through a pipe (init.sh tees it), whose reader the reset would cut
   * off; the console's tty can be drained to the last byte first.
   */
  int fd = open("/dev/console", O_WRONLY | O_NOCTTY);
  FILE *con = fd >= 0 ? fdopen(fd, "w") : 0;
  if (!con) {
    return fail("cannot open /dev/console");
  }
  fprintf(con, "XHV-GUEST: reset_secret=0x%llx, %u-byte words, word i is the secret ^ i\n",
          (unsigned long long)SECRET, (unsigned)sizeof(uintptr_t));
  fprintf(con, "XHV-GUEST: dump_at_reset=pal_data 0x%llx\n", (unsigned long long)data_gpa);
  fprintf(con, "XHV-GUEST: dump_at_reset=canary 0x%llx\n", (unsigned long long)canary_gpa);
  fprintf(con, "XHV-GUEST: reset_via=%s\n", method);
  fprintf(con, "XHV-RESULT: PASS the machine is reset with a PAL registered\n");
  if (fflush(con) != 0 || tcdrain(fd) != 0) {
    return fail("cannot drain the console before the reset");
  }
  sync();
  if (strcmp(method, "cf9") == 0) {
    outb(0x02, 0xCF9);
    outb(0x06, 0xCF9);
  } else if (strcmp(method, "kbd") == 0) {
    outb(0xFE, 0x64);
  } else {
    outb(inb(0x92) | 0x01, 0x92);
  }
  sleep(5);
  return fail("the machine did not reset");
}
