// SPDX-License-Identifier: Apache-2.0
// A map-backed current VMCS and VMX instruction recorders behind xhv/cpu_ops.h, for host tests.
#ifndef XHV_TESTING_FAKES_FAKE_VMCS_H
#define XHV_TESTING_FAKES_FAKE_VMCS_H

#include <cstdint>
#include <map>
#include <set>
#include <vector>

#include "xhv/cpu_ops.h"

namespace xhv_fake {

// VM-instruction error numbers the fake produces (SDM "VM-Instruction Error Numbers").
constexpr uint32_t kVmxErrorUnsupportedField = 12U;
constexpr uint32_t kVmxErrorWriteReadOnly = 13U;

// True for the full encoding of a field in xhv/vmcs_fields.def and for the
// high-access encoding (full + 1) of a 64-bit one: what the fake CPU supports.
bool VmcsEncodingKnown(uint32_t enc);

struct InveptCall {
  uword_t type;
  uint64_t eptp;
};

struct InvvpidCall {
  uword_t type;
  uint16_t vpid;
  uint64_t linear_addr;
};

// The VMX side of the fake CPU. cpu_vmread/cpu_vmwrite behave like the
// SDM's VMREAD/VMWRITE in 64-bit mode on a CPU whose VMCS has exactly the
// fields of the table: a field it lacks fails with error 12, a write to a
// read-only field with error 13 (the error number lands in
// VMCS_VM_INSTRUCTION_ERROR), and with no current VMCS both fail with
// VMfailInvalid. Every VMREAD/VMWRITE is counted, failed ones included.
// Reset() between tests.
struct FakeVmcs {
  // Field values by full encoding. Never-written fields read as 0.
  std::map<uint32_t, uint64_t> fields;
  // A current VMCS is loaded; starts true so tests need no VMPTRLD.
  bool current = true;
  uint64_t current_pa = 0;
  // Table fields this CPU pretends not to have (e.g. EPT_POINTER on a CPU without EPT).
  std::set<uint32_t> unsupported;
  // IA32_VMX_MISC bit 29: VMWRITE may write read-only (exit information) fields.
  bool vmwrite_any_field = false;

  // VMCS traffic, keyed by the encoding as issued (a 64-bit field split in
  // two counts once under enc and once under enc + 1).
  unsigned reads = 0;
  unsigned writes = 0;
  std::map<uint32_t, unsigned> reads_by_field;
  std::map<uint32_t, unsigned> writes_by_field;
  // Encodings in the order they were accessed, for pinning access order.
  std::vector<uint32_t> read_log;
  std::vector<uint32_t> write_log;

  // Recorders for the other VMX instructions, and what each returns.
  std::vector<uint64_t> vmxon_calls;
  std::vector<uint64_t> vmptrld_calls;
  std::vector<uint64_t> vmclear_calls;
  std::vector<InveptCall> invept_calls;
  std::vector<InvvpidCall> invvpid_calls;
  int vmxoff_calls = 0;
  int vmxon_result = CPU_VMX_OK;
  int vmptrld_result = CPU_VMX_OK;
  int vmclear_result = CPU_VMX_OK;
  int vmxoff_result = CPU_VMX_OK;
  int invept_result = CPU_VMX_OK;
  int invvpid_result = CPU_VMX_OK;

  // Test backdoor: sets/gets a field without counting and without the
  // read-only rule; aborts on an encoding outside the table.
  void Set(uint32_t enc, uint64_t value);
  uint64_t Get(uint32_t enc) const;

  void ResetCounters();
  void Reset() { *this = FakeVmcs(); }
};

FakeVmcs &vmcs();

}  // namespace xhv_fake

#endif  // XHV_TESTING_FAKES_FAKE_VMCS_H
