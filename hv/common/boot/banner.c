/* SPDX-License-Identifier: Apache-2.0 */
/* The banner every xhv image prints first: version, bitness, CPU features. */
#include "xhv/arch.h"
#include "xhv/cpu_ops.h"
#include "xhv/format.h"
#include "xhv/string.h"
#include "xhv/version.h"

#define CPUID_1_ECX_VMX (1U << 5)
#define CPUID_1_ECX_X2APIC (1U << 21)
#define CPUID_1_ECX_HYPERVISOR (1U << 31)
#define CPUID_1_EDX_PAE (1U << 6)
#define CPUID_1_EDX_APIC (1U << 9)
#define CPUID_EXT_EDX_NX (1U << 20)
#define CPUID_EXT_EDX_LM (1U << 29)

static void copy_regs(char *dst, const uint32_t *regs, unsigned count) {
  memcpy(dst, regs, count * sizeof(uint32_t));
  dst[count * sizeof(uint32_t)] = '\0';
}

void cpu_summary_read(struct cpu_summary *out) {
  struct cpuid_regs r;
  memset(out, 0, sizeof(*out));

  cpu_cpuid(0, 0, &r);
  uint32_t vendor[3] = {r.ebx, r.edx, r.ecx};
  copy_regs(out->vendor, vendor, 3);

  cpu_cpuid(1, 0, &r);
  out->family_model_stepping = r.eax;
  out->vmx = (r.ecx & CPUID_1_ECX_VMX) != 0;
  out->x2apic = (r.ecx & CPUID_1_ECX_X2APIC) != 0;
  out->hypervisor = (r.ecx & CPUID_1_ECX_HYPERVISOR) != 0;
  out->pae = (r.edx & CPUID_1_EDX_PAE) != 0;
  out->apic = (r.edx & CPUID_1_EDX_APIC) != 0;

  cpu_cpuid(0x80000000U, 0, &r);
  uint32_t max_ext = r.eax;
  if (max_ext >= 0x80000001U) {
    cpu_cpuid(0x80000001U, 0, &r);
    out->nx = (r.edx & CPUID_EXT_EDX_NX) != 0;
    out->long_mode = (r.edx & CPUID_EXT_EDX_LM) != 0;
  }
  if (max_ext >= 0x80000004U) {
    uint32_t brand[12];
    for (uint32_t i = 0; i < 3; i++) {
      cpu_cpuid(0x80000002U + i, 0, &r);
      brand[4 * i + 0] = r.eax;
      brand[4 * i + 1] = r.ebx;
      brand[4 * i + 2] = r.ecx;
      brand[4 * i + 3] = r.edx;
    }
    copy_regs(out->brand, brand, 12);
  }
}

static const char *yes_no(uint8_t flag) { return flag ? "yes" : "no"; }

int banner_format(char *buf, size_t size, const struct cpu_summary *cpu) {
  return xhv_snprintf(buf, size,
                      "xhv " XHV_VERSION " " XHV_ARCH_NAME " (%d-bit hypervisor)\n"
                      "cpu: vendor=%s signature=0x%08x brand=\"%s\"\n"
                      "cpu: vmx=%s pae=%s apic=%s x2apic=%s long-mode=%s nx=%s hypervisor=%s\n",
                      XHV_BITS, cpu->vendor, cpu->family_model_stepping, cpu->brand,
                      yes_no(cpu->vmx), yes_no(cpu->pae), yes_no(cpu->apic), yes_no(cpu->x2apic),
                      yes_no(cpu->long_mode), yes_no(cpu->nx), yes_no(cpu->hypervisor));
}
