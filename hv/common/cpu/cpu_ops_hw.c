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

/* Both images boot with the low 4 GiB identity-mapped; cpu_map_phys may add more. */
static uint64_t phys_limit = 0x100000000ULL;

void cpu_set_phys_limit(uint64_t limit) { phys_limit = limit; }

void *cpu_phys_ptr(uint64_t pa, uint64_t len) {
  if (pa >= phys_limit || len > phys_limit - pa) {
    return 0;
  }
  return (void *)(uword_t)pa;
}

uword_t cpu_read_cr2(void) {
  uword_t value;
  __asm__ volatile("mov %%cr2, %0" : "=r"(value));
  return value;
}

void cpu_write_cr2(uword_t value) { __asm__ volatile("mov %0, %%cr2" : : "r"(value) : "memory"); }

uword_t cpu_read_dr6(void) {
  uword_t value;
  __asm__ volatile("mov %%dr6, %0" : "=r"(value));
  return value;
}

void cpu_write_dr6(uword_t value) { __asm__ volatile("mov %0, %%dr6" : : "r"(value) : "memory"); }

void cpu_xsetbv(uint32_t xcr, uint64_t value) {
  __asm__ volatile("xsetbv" : : "a"((uint32_t)value), "d"((uint32_t)(value >> 32)), "c"(xcr));
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

void cpu_wbinvd(void) { __asm__ volatile("wbinvd" ::: "memory"); }

void cpu_halt_forever(void) {
  for (;;) {
    __asm__ volatile("cli; hlt" ::: "memory");
  }
}

/*
 * VMX instructions report success or failure in RFLAGS (SDM "Conventions"
 * in "VMX Instruction Reference"): CF = 1 VMfailInvalid, ZF = 1 VMfailValid.
 */
static int vmx_status(uint8_t cf, uint8_t zf) {
  if (cf) {
    return CPU_VMX_FAIL_INVALID;
  }
  return zf ? CPU_VMX_FAIL_VALID : CPU_VMX_OK;
}

int cpu_vmread(uword_t enc, uword_t *value) {
  uword_t v = 0;
  uint8_t cf, zf;
  __asm__ volatile("vmread %[enc], %[val]"
                   : [val] "=r"(v), "=@ccc"(cf), "=@ccz"(zf)
                   : [enc] "r"(enc));
  int rc = vmx_status(cf, zf);
  if (rc == CPU_VMX_OK) {
    *value = v;
  }
  return rc;
}

int cpu_vmwrite(uword_t enc, uword_t value) {
  uint8_t cf, zf;
  __asm__ volatile("vmwrite %[val], %[enc]"
                   : "=@ccc"(cf), "=@ccz"(zf)
                   : [enc] "r"(enc), [val] "r"(value)
                   : "memory");
  return vmx_status(cf, zf);
}

int cpu_vmptrld(uint64_t vmcs_pa) {
  uint8_t cf, zf;
  __asm__ volatile("vmptrld %[pa]" : "=@ccc"(cf), "=@ccz"(zf) : [pa] "m"(vmcs_pa) : "memory");
  return vmx_status(cf, zf);
}

int cpu_vmclear(uint64_t vmcs_pa) {
  uint8_t cf, zf;
  __asm__ volatile("vmclear %[pa]" : "=@ccc"(cf), "=@ccz"(zf) : [pa] "m"(vmcs_pa) : "memory");
  return vmx_status(cf, zf);
}

int cpu_vmxon(uint64_t vmxon_pa) {
  uint8_t cf, zf;
  __asm__ volatile("vmxon %[pa]" : "=@ccc"(cf), "=@ccz"(zf) : [pa] "m"(vmxon_pa) : "memory");
  return vmx_status(cf, zf);
}

int cpu_vmxoff(void) {
  uint8_t cf, zf;
  __asm__ volatile("vmxoff" : "=@ccc"(cf), "=@ccz"(zf) : : "memory");
  return vmx_status(cf, zf);
}

/* The 128-bit descriptors of SDM "INVEPT" and "INVVPID". */
struct invept_desc {
  uint64_t eptp;
  uint64_t reserved;
};

struct invvpid_desc {
  uint64_t vpid; /* bits 15:0; bits 63:16 must be zero */
  uint64_t linear_addr;
};

int cpu_invept(uword_t type, uint64_t eptp) {
  struct invept_desc desc = {eptp, 0ULL};
  uint8_t cf, zf;
  __asm__ volatile("invept %[desc], %[type]"
                   : "=@ccc"(cf), "=@ccz"(zf)
                   : [desc] "m"(desc), [type] "r"(type)
                   : "memory");
  return vmx_status(cf, zf);
}

int cpu_invvpid(uword_t type, uint16_t vpid, uint64_t linear_addr) {
  struct invvpid_desc desc = {vpid, linear_addr};
  uint8_t cf, zf;
  __asm__ volatile("invvpid %[desc], %[type]"
                   : "=@ccc"(cf), "=@ccz"(zf)
                   : [desc] "m"(desc), [type] "r"(type)
                   : "memory");
  return vmx_status(cf, zf);
}
