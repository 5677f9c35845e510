/* SPDX-License-Identifier: Apache-2.0 */
/*
 * com1_forgery: root writes forged hypervisor log lines to COM1.
 *
 * The judge trusts COM1 for the hypervisor's banner, its panics, its NMI
 * figures and TrustVisor's counts. This program gets port access (iopl),
 * checks the UART there, and writes lines that would pass for the
 * hypervisor's, each carrying a marker, byte by byte and with REP OUTSB,
 * in plain text and in the log's multiplexed encoding. The hypervisor
 * intercepts COM1: the guest sees no UART, and nothing it writes reaches
 * the log; the judge checks the marker is not in COM1 and that the
 * hypervisor counted at least these writes as dropped.
 */
#include <stdio.h>
#include <string.h>
#include <sys/io.h>
#include <unistd.h>

#include "redteam/rt.h"

#define COM1 0x3F8
#define COM1_LSR (COM1 + 5)

static unsigned writes;

static void out_bytes(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    outb((unsigned char)s[i], COM1);
    writes++;
  }
}

static void outs_bytes(const char *s, size_t n) {
  const char *p = s;
  size_t count = n;
  __asm__ volatile("cld; rep outsb" : "+S"(p), "+c"(count) : "d"(COM1) : "memory");
  writes += (unsigned)n;
}

/* A line as the hypervisor's log multiplexer would encode it for CPU 0. */
static size_t mux(const char *line, char *out) {
  size_t n = 0;
  for (const char *c = line; *c; c++) {
    out[n++] = (char)(0x80 | ((unsigned char)*c >> 4));
    out[n++] = (char)((unsigned char)*c & 0xF);
  }
  return n;
}

int main(void) {
  if (iopl(3) != 0) {
    rt_fail("com1_forgery", "iopl(3) failed: not root?");
  }
  char marker[32], line[160], encoded[320];
  snprintf(marker, sizeof(marker), "XHVFORGED%d", (int)getpid());
  unsigned char lsr = inb(COM1_LSR);
  if (lsr != 0xFF) {
    /* A UART answers: the guest reaches the hypervisor's log port. Write anyway, for the judge. */
    printf("XHV-GUEST: redteam_com1_uart_answers=0x%02x\n", lsr);
  }
  snprintf(line, sizeof(line), "\r\nxhv: PANIC: %s forged by the guest\r\n", marker);
  out_bytes(line, strlen(line));
  snprintf(line, sizeof(line),
           "trustvisor: CPU 0: shutdown: 999 registrations, 999 PAL calls, 0 PALs scrubbed, 0 "
           "revoked %s\r\n",
           marker);
  outs_bytes(line, strlen(line));
  snprintf(line, sizeof(line), "nmi: cpu=0 guest=0 injected=0 merged=0 owed=0 parks=0 %s\n",
           marker);
  size_t n = mux(line, encoded);
  out_bytes(encoded, n);
  rt_evidence("com1_forgery", "dropped", "writes=%u marker=%s uart_lsr=0x%02x", writes, marker,
              lsr);
  return 0;
}
