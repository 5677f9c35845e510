// SPDX-License-Identifier: Apache-2.0
// Host implementation of the VMX instructions of xhv/cpu_ops.h backed by xhv_fake::FakeVmcs.
#include "testing/fakes/fake_vmcs.h"

#include <cstdio>
#include <cstdlib>

#include "xhv/vmcs.h"

namespace xhv_fake {

namespace {

const std::set<uint32_t> &TableEncodings() {
  static const std::set<uint32_t> encodings = {
#define VMCS_FIELD(name, encoding) (encoding),
#include "xhv/vmcs_fields.def"
  };
  return encodings;
}

// The table field an encoding addresses (the full encoding of a high access).
uint32_t FullEncoding(uint32_t enc) { return vmcs_encoding_is_high(enc) ? enc & ~1U : enc; }

// The bits a field keeps: fields narrower than the operand ignore its high bits.
uint64_t WidthMask(uint32_t enc) {
  switch (vmcs_encoding_width(enc)) {
    case VMCS_WIDTH_16:
      return 0xFFFFULL;
    case VMCS_WIDTH_32:
      return 0xFFFFFFFFULL;
    case VMCS_WIDTH_64:
    case VMCS_WIDTH_NATURAL:
      break;
  }
  return ~0ULL;
}

void AbortUnknown(const char *what, uint32_t enc) {
  std::fprintf(stderr, "fake vmcs: %s of encoding 0x%x, which is not in vmcs_fields.def\n", what,
               enc);
  std::abort();
}

}  // namespace

bool VmcsEncodingKnown(uint32_t enc) {
  if (enc > 0xFFFFU) {
    return false;
  }
  if ((enc & 1U) != 0U && !vmcs_encoding_is_high(enc)) {
    return false;
  }
  return TableEncodings().count(FullEncoding(enc)) != 0U;
}

void FakeVmcs::Set(uint32_t enc, uint64_t value) {
  if (!VmcsEncodingKnown(enc) || vmcs_encoding_is_high(enc)) {
    AbortUnknown("Set", enc);
  }
  fields[enc] = value & WidthMask(enc);
}

uint64_t FakeVmcs::Get(uint32_t enc) const {
  if (!VmcsEncodingKnown(enc) || vmcs_encoding_is_high(enc)) {
    AbortUnknown("Get", enc);
  }
  auto it = fields.find(enc);
  return it == fields.end() ? 0ULL : it->second;
}

void FakeVmcs::ResetCounters() {
  reads = 0;
  writes = 0;
  reads_by_field.clear();
  writes_by_field.clear();
  read_log.clear();
  write_log.clear();
}

FakeVmcs &vmcs() {
  static FakeVmcs state;
  return state;
}

}  // namespace xhv_fake

using xhv_fake::vmcs;

namespace {

// VMfailValid: the error number goes into the VM-instruction error field.
int FailValid(uint32_t error) {
  vmcs().fields[VMCS_VM_INSTRUCTION_ERROR] = error;
  return CPU_VMX_FAIL_VALID;
}

// In the table and not marked unsupported. In 64-bit mode an encoding with
// bits 63:32 set is unsupported too (SDM "VMREAD").
bool Supported(uword_t enc) {
  if (enc > 0xFFFFU) {
    return false;
  }
  uint32_t enc32 = static_cast<uint32_t>(enc);
  return xhv_fake::VmcsEncodingKnown(enc32) && vmcs().unsupported.count(enc32 & ~1U) == 0U;
}

}  // namespace

extern "C" {

int cpu_vmread(uword_t enc, uword_t *value) {
  auto &v = vmcs();
  uint32_t enc32 = static_cast<uint32_t>(enc);
  v.reads++;
  v.reads_by_field[enc32]++;
  v.read_log.push_back(enc32);
  if (!v.current) {
    return CPU_VMX_FAIL_INVALID;
  }
  if (!Supported(enc)) {
    return FailValid(xhv_fake::kVmxErrorUnsupportedField);
  }
  if (vmcs_encoding_is_high(enc32)) {
    *value = static_cast<uword_t>(v.Get(enc32 & ~1U) >> 32);
  } else {
    *value = static_cast<uword_t>(v.Get(enc32));
  }
  return CPU_VMX_OK;
}

int cpu_vmwrite(uword_t enc, uword_t value) {
  auto &v = vmcs();
  uint32_t enc32 = static_cast<uint32_t>(enc);
  v.writes++;
  v.writes_by_field[enc32]++;
  v.write_log.push_back(enc32);
  if (!v.current) {
    return CPU_VMX_FAIL_INVALID;
  }
  if (!Supported(enc)) {
    return FailValid(xhv_fake::kVmxErrorUnsupportedField);
  }
  if (vmcs_encoding_is_read_only(enc32) && !v.vmwrite_any_field) {
    return FailValid(xhv_fake::kVmxErrorWriteReadOnly);
  }
  if (vmcs_encoding_is_high(enc32)) {
    uint32_t full = enc32 & ~1U;
    uint64_t low = v.Get(full) & 0xFFFFFFFFULL;
    v.fields[full] = low | (static_cast<uint64_t>(static_cast<uint32_t>(value)) << 32);
  } else {
    v.Set(enc32, value);
  }
  return CPU_VMX_OK;
}

int cpu_vmptrld(uint64_t vmcs_pa) {
  auto &v = vmcs();
  v.vmptrld_calls.push_back(vmcs_pa);
  if (v.vmptrld_result == CPU_VMX_OK) {
    v.current = true;
    v.current_pa = vmcs_pa;
  }
  return v.vmptrld_result;
}

int cpu_vmclear(uint64_t vmcs_pa) {
  auto &v = vmcs();
  v.vmclear_calls.push_back(vmcs_pa);
  // SDM "VMCLEAR": clearing the current VMCS leaves no current VMCS.
  if (v.vmclear_result == CPU_VMX_OK && v.current && v.current_pa == vmcs_pa) {
    v.current = false;
  }
  return v.vmclear_result;
}

int cpu_vmxon(uint64_t vmxon_pa) {
  vmcs().vmxon_calls.push_back(vmxon_pa);
  return vmcs().vmxon_result;
}

int cpu_vmxoff(void) {
  vmcs().vmxoff_calls++;
  return vmcs().vmxoff_result;
}

int cpu_invept(uword_t type, uint64_t eptp) {
  vmcs().invept_calls.push_back({type, eptp});
  return vmcs().invept_result;
}

int cpu_invvpid(uword_t type, uint16_t vpid, uint64_t linear_addr) {
  vmcs().invvpid_calls.push_back({type, vpid, linear_addr});
  return vmcs().invvpid_result;
}

}  // extern "C"
