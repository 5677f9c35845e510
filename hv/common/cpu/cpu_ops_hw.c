/* SPDX-License-Identifier: Apache-2.0 */
/* Privileged CPU operations on real (or emulated) hardware, for both bitnesses. */
#include "xhv/cpu_ops.h"

void cpu_cpuid(uint32_t leaf, uint32_t subleaf, struct cpuid_regs *out) {
  __asm__ volatile("cpuid"
                   : "=a"(out->eax), "=b"(out->ebx), "=c"(out->ecx), "=d"(out->edx)
                   : "a"(leaf), "c"(subleaf));
}

uint8_t cpu_inb(uint16_t port) {
  uint8_t value;
  __asm__ volatile("inb %1, %0" : "=a"(value) : "Nd"(port));
  return value;
}

uint16_t cpu_inw(uint16_t port) {
  uint16_t value;
  __asm__ volatile("inw %1, %0" : "=a"(value) : "Nd"(port));
  return value;
}

uint32_t cpu_inl(uint16_t port) {
  uint32_t value;
  __asm__ volatile("inl %1, %0" : "=a"(value) : "Nd"(port));
  return value;
}

void cpu_outb(uint16_t port, uint8_t value) {
  __asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port));
}

void cpu_outw(uint16_t port, uint16_t value) {
  __asm__ volatile("outw %0, %1" : : "a"(value), "Nd"(port));
}

void cpu_outl(uint16_t port, uint32_t value) {
  __asm__ volatile("outl %0, %1" : : "a"(value), "Nd"(port));
}

uint64_t cpu_rdmsr(uint32_t msr) {
  uint32_t lo, hi;
  __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
  return ((uint64_t)hi << 32) | lo;
}

void cpu_wrmsr(uint32_t msr, uint64_t value) {
  __asm__ volatile("wrmsr"
                   :
                   : "c"(msr), "a"((uint32_t)value), "d"((uint32_t)(value >> 32))
                   : "memory");
}

uint64_t cpu_rdtsc(void) {
  uint32_t lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return ((uint64_t)hi << 32) | lo;
}

uword_t cpu_read_cr0(void) {
  uword_t value;
  __asm__ volatile("mov %%cr0, %0" : "=r"(value));
  return value;
}

uword_t cpu_read_cr3(void) {
  uword_t value;
  __asm__ volatile("mov %%cr3, %0" : "=r"(value));
  return value;
}

uword_t cpu_read_cr4(void) {
  uword_t value;
  __asm__ volatile("mov %%cr4, %0" : "=r"(value));
  return value;
}

void cpu_write_cr0(uword_t value) {
  __asm__ volatile("mov %0, %%cr0" : : "r"(value) : "memory");
}

void cpu_write_cr3(uword_t value) {
  __asm__ volatile("mov %0, %%cr3" : : "r"(value) : "memory");
}

void cpu_write_cr4(uword_t value) {
  __asm__ volatile("mov %0, %%cr4" : : "r"(value) : "memory");
}

void cpu_pause(void) { __asm__ volatile("pause" ::: "memory"); }

void cpu_halt_forever(void) {
  for (;;) {
    __asm__ volatile("cli; hlt" ::: "memory");
  }
}
