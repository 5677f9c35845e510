// SPDX-License-Identifier: Apache-2.0
// VMX capability reading and control selection against the MSR values of Bochs CPU models.
#include "xhv/vmx_caps.h"

#include <cstdint>
#include <cstring>
#include <map>
#include <string>

#include "gtest/gtest.h"
#include "testing/fakes/fake_cpu.h"

namespace {

using MsrSet = std::map<uint32_t, uint64_t>;

// Read from the MSRs by a probe kernel under Bochs 2.7 (shared/reference/bochs-vmx.md).
MsrSet HaswellMsrs() {
  return {
      {0x480U, 0x00d810000000002bULL}, {0x481U, 0x0000007f00000016ULL},
      {0x482U, 0xf7f9fffe0401e172ULL}, {0x483U, 0x007fffff00036dffULL},
      {0x484U, 0x0000ffff000011ffULL}, {0x485U, 0x00000000200401e0ULL},
      {0x486U, 0x0000000080000021ULL}, {0x487U, 0x00000000ffffffffULL},
      {0x488U, 0x0000000000002000ULL}, {0x489U, 0x00000000001727ffULL},
      {0x48aU, 0x0000000000000034ULL}, {0x48bU, 0x00047fff00000000ULL},
      {0x48cU, 0x00000f0106334141ULL}, {0x48dU, 0x0000007f00000016ULL},
      {0x48eU, 0xf7f9fffe04006172ULL}, {0x48fU, 0x007fffff00036dfbULL},
      {0x490U, 0x0000ffff000011fbULL},
  };
}

// corei7_sandy_bridge_2600k: Haswell's values except these four.
MsrSet SandyBridgeMsrs() {
  MsrSet m = HaswellMsrs();
  m[0x485U] = 0x00000000000401e0ULL;
  m[0x489U] = 0x00000000000627ffULL;
  m[0x48bU] = 0x000000ff00000000ULL;
  m[0x48cU] = 0x00000f0106114141ULL;
  return m;
}

// corei7_skylake_x: the listed differences from Haswell (adds XSAVES).
MsrSet SkylakeMsrs() {
  MsrSet m = HaswellMsrs();
  m[0x485U] = 0x00000000600401e0ULL;
  m[0x48bU] = 0x02177fff00000000ULL;
  return m;
}

// corei5_lynnfield_750: bochs-vmx.md records its feature table only, not raw
// values. Built from Sandy Bridge with the secondary controls it lacks
// removed: bits 0-6 allowed, no unrestricted guest (7) and nothing above.
MsrSet LynnfieldMsrs() {
  MsrSet m = SandyBridgeMsrs();
  m[0x48bU] = 0x0000007f00000000ULL;
  return m;
}

// core2_penryn_t9600, likewise built from the feature table: secondary
// controls only "virtualize APIC accesses" (0) and "WBINVD exiting" (6), so
// no EPT_VPID_CAP MSR; no preemption timer; no EFER/PAT/timer exit and entry
// controls.
MsrSet PenrynMsrs() {
  MsrSet m = SandyBridgeMsrs();
  m.erase(0x48cU);
  m[0x48bU] = 0x0000004100000000ULL;
  m[0x481U] = m[0x48dU] = 0x0000003f00000016ULL;
  m[0x483U] = 0x0003ffff00036dffULL;
  m[0x48fU] = 0x0003ffff00036dfbULL;
  m[0x484U] = 0x00003fff000011ffULL;
  m[0x490U] = 0x00003fff000011fbULL;
  return m;
}

class VmxCapsTest : public ::testing::Test {
 protected:
  void SetUp() override { xhv_fake::cpu().Reset(); }

  // Loads msrs into the fake CPU (unset MSRs abort when read) and reads them.
  vmx_caps Read(const MsrSet &msrs) {
    xhv_fake::cpu().msrs = msrs;
    vmx_caps caps;
    std::memset(&caps, 0xA5, sizeof(caps));
    vmx_caps_read(&caps);
    return caps;
  }

  static vmx_wanted Xhv(bool host_is_64bit = true) {
    vmx_wanted w;
    vmx_wanted_xhv(&w, host_is_64bit ? 1 : 0);
    return w;
  }

  static std::string Format(const vmx_caps &caps) {
    char buf[256];
    int n = vmx_caps_format(buf, sizeof(buf), &caps);
    EXPECT_EQ(n, static_cast<int>(std::strlen(buf)));
    return buf;
  }
};

// --- Reading the MSRs -------------------------------------------------------

TEST_F(VmxCapsTest, ReadUsesTrueControlMsrsWhenBasicBit55IsSet) {
  vmx_caps caps = Read(SandyBridgeMsrs());
  EXPECT_EQ(caps.basic, 0x00d810000000002bULL);
  EXPECT_EQ(vmx_caps_revision_id(&caps), 0x2bU);
  EXPECT_EQ(caps.pin.allowed0, 0x16U);
  EXPECT_EQ(caps.pin.allowed1, 0x7fU);
  EXPECT_EQ(caps.proc.allowed0, 0x04006172U);  // TRUE: CR3-load/store exiting not forced
  EXPECT_EQ(caps.proc.allowed1, 0xf7f9fffeU);
  EXPECT_EQ(caps.exit.allowed0, 0x00036dfbU);
  EXPECT_EQ(caps.entry.allowed0, 0x000011fbU);
  EXPECT_EQ(caps.proc2.allowed0, 0U);
  EXPECT_EQ(caps.proc2.allowed1, 0xffU);
  EXPECT_EQ(caps.ept_vpid, 0x00000f0106114141ULL);
  EXPECT_EQ(caps.misc, 0x00000000000401e0ULL);
  EXPECT_EQ(caps.cr0_fixed0, 0x80000021ULL);
  EXPECT_EQ(caps.cr0_fixed1, 0xffffffffULL);
  EXPECT_EQ(caps.cr4_fixed0, 0x2000ULL);
  EXPECT_EQ(caps.cr4_fixed1, 0x627ffULL);
}

TEST_F(VmxCapsTest, ReadUsesLegacyControlMsrsWhenBasicBit55IsClear) {
  MsrSet m = SandyBridgeMsrs();
  m[0x480U] &= ~(1ULL << 55);
  for (uint32_t msr = 0x48dU; msr <= 0x490U; msr++) {
    m.erase(msr);  // reading a TRUE_* MSR now aborts the test
  }
  vmx_caps caps = Read(m);
  EXPECT_EQ(caps.proc.allowed0, 0x0401e172U);  // legacy: CR3-load/store exiting forced
  EXPECT_EQ(caps.exit.allowed0, 0x00036dffU);
  EXPECT_EQ(caps.entry.allowed0, 0x000011ffU);
}

TEST_F(VmxCapsTest, ReadSkipsEptVpidCapWithoutEptAndVpid) {
  vmx_caps caps = Read(PenrynMsrs());  // has no 0x48C: reading it would abort
  EXPECT_EQ(caps.proc2.allowed1, 0x41U);
  EXPECT_EQ(caps.ept_vpid, 0ULL);
}

TEST_F(VmxCapsTest, ReadSkipsSecondaryControlsWhenTheyCannotBeActivated) {
  MsrSet m = PenrynMsrs();
  m.erase(0x48bU);
  m[0x48eU] &= ~(1ULL << 63);
  vmx_caps caps = Read(m);
  EXPECT_EQ(caps.proc2.allowed0, 0U);
  EXPECT_EQ(caps.proc2.allowed1, 0U);
  EXPECT_EQ(caps.ept_vpid, 0ULL);
}

TEST_F(VmxCapsTest, RevisionIdIsReadNotAssumed) {
  MsrSet m = HaswellMsrs();
  m[0x480U] = 0x00d8100000000004ULL;  // icelake_u / tigerlake
  vmx_caps caps = Read(m);
  EXPECT_EQ(vmx_caps_revision_id(&caps), 0x4U);
  EXPECT_EQ(VMX_BASIC_VMCS_SIZE(caps.basic), 0x1000U);
  EXPECT_EQ(VMX_BASIC_MEMORY_TYPE(caps.basic), 6U);  // write-back
}

// --- Choosing controls --------------------------------------------------------

TEST_F(VmxCapsTest, SandyBridgeGrantsEverythingXhvRequires) {
  vmx_caps caps = Read(SandyBridgeMsrs());
  vmx_wanted want = Xhv();
  vmx_controls c;
  const char *missing = "unset";
  ASSERT_EQ(vmx_controls_choose(&caps, &want, &c, &missing), 0);
  EXPECT_STREQ(missing, "unset");
  // (wanted | allowed0) & allowed1, by hand:
  // pin   (0x08 | 0x20) | 0x16                                  = 0x3e
  // proc  (bit 7 | 10 | 25 | 28 | 29 | 31 = 0xb2000480) | 0x04006172 = 0xb60065f2
  // proc2 EPT 0x02 | VPID 0x20 | UG 0x80 | RDTSCP 0x08 (INVPCID, XSAVES not allowed) = 0xaa
  // exit  (bit 2 | 9 | 18 | 19 | 20 | 21 = 0x3c0204) | 0x36dfb    = 0x3f6fff
  // entry (bit 2 | 14 | 15 = 0xc004) | 0x11fb                     = 0xd1ff
  EXPECT_EQ(c.pin, 0x3eU);
  EXPECT_EQ(c.proc, 0xb60065f2U);
  EXPECT_EQ(c.proc2, 0xaaU);
  EXPECT_EQ(c.exit, 0x3f6fffU);
  EXPECT_EQ(c.entry, 0xd1ffU);
}

TEST_F(VmxCapsTest, HaswellAlsoGetsInvpcid) {
  vmx_caps caps = Read(HaswellMsrs());
  vmx_wanted want = Xhv();
  vmx_controls c;
  ASSERT_EQ(vmx_controls_choose(&caps, &want, &c, nullptr), 0);
  EXPECT_EQ(c.pin, 0x3eU);
  EXPECT_EQ(c.proc, 0xb60065f2U);
  EXPECT_EQ(c.proc2, 0x10aaU);  // + INVPCID (bit 12); XSAVES (bit 20) still not allowed
  EXPECT_EQ(c.exit, 0x3f6fffU);
  EXPECT_EQ(c.entry, 0xd1ffU);
}

TEST_F(VmxCapsTest, SkylakeAlsoGetsXsaves) {
  vmx_caps caps = Read(SkylakeMsrs());
  vmx_wanted want = Xhv();
  vmx_controls c;
  ASSERT_EQ(vmx_controls_choose(&caps, &want, &c, nullptr), 0);
  EXPECT_EQ(c.proc2, 0x1010aaU);
}

TEST_F(VmxCapsTest, ThirtyTwoBitHostLeavesHostAddressSpaceSizeClear) {
  vmx_caps caps = Read(SandyBridgeMsrs());
  vmx_wanted want = Xhv(false);
  vmx_controls c;
  ASSERT_EQ(vmx_controls_choose(&caps, &want, &c, nullptr), 0);
  EXPECT_EQ(c.exit, 0x3f6dffU);
  EXPECT_EQ(c.exit & VMX_EXIT_CTL_HOST_ADDR_SPACE_SIZE, 0U);
}

TEST_F(VmxCapsTest, LegacyMsrsForceCr3ExitingAndOtherDefaultOnes) {
  MsrSet m = SandyBridgeMsrs();
  m[0x480U] &= ~(1ULL << 55);
  for (uint32_t msr = 0x48dU; msr <= 0x490U; msr++) {
    m.erase(msr);
  }
  vmx_caps caps = Read(m);
  vmx_wanted want = Xhv(false);
  vmx_controls c;
  ASSERT_EQ(vmx_controls_choose(&caps, &want, &c, nullptr), 0);
  EXPECT_EQ(c.proc, 0xb601e5f2U);  // + MWAIT (bit 10) and MONITOR (bit 29) exiting
  EXPECT_NE(c.proc & VMX_PROC_CR3_LOAD_EXITING, 0U);
  EXPECT_NE(c.proc & VMX_PROC_CR3_STORE_EXITING, 0U);
  EXPECT_EQ(c.exit, 0x3f6dffU);
  EXPECT_EQ(c.entry, 0xd1ffU);
}

TEST_F(VmxCapsTest, PenrynFailsNamingEpt) {
  vmx_caps caps = Read(PenrynMsrs());
  vmx_wanted want = Xhv();
  vmx_controls c;
  std::memset(&c, 0xFF, sizeof(c));
  const char *missing = nullptr;
  EXPECT_EQ(vmx_controls_choose(&caps, &want, &c, &missing), -1);
  EXPECT_STREQ(missing, "secondary controls: EPT");
  EXPECT_EQ(c.pin, 0U);  // no half-chosen controls on failure
  EXPECT_EQ(c.proc, 0U);
  EXPECT_EQ(c.proc2, 0U);
  EXPECT_EQ(c.exit, 0U);
  EXPECT_EQ(c.entry, 0U);
}

TEST_F(VmxCapsTest, LynnfieldFailsNamingUnrestrictedGuest) {
  vmx_caps caps = Read(LynnfieldMsrs());
  vmx_wanted want = Xhv();
  vmx_controls c;
  const char *missing = nullptr;
  EXPECT_EQ(vmx_controls_choose(&caps, &want, &c, &missing), -1);
  EXPECT_STREQ(missing, "secondary controls: unrestricted guest");
}

TEST_F(VmxCapsTest, MissingVirtualNmisIsNamed) {
  vmx_caps caps = Read(SandyBridgeMsrs());
  caps.pin.allowed1 &= ~VMX_PIN_VIRTUAL_NMIS;
  vmx_wanted want = Xhv();
  vmx_controls c;
  const char *missing = nullptr;
  EXPECT_EQ(vmx_controls_choose(&caps, &want, &c, &missing), -1);
  EXPECT_STREQ(missing, "pin-based: virtual NMIs");
}

TEST_F(VmxCapsTest, MissingEptCapabilitiesAreNamed) {
  struct Case {
    uint64_t cleared;
    const char *name;
  };
  const Case cases[] = {
      {VMX_EPT_CAP_WALK_4, "EPT: 4-level page walk"},
      {VMX_EPT_CAP_WB, "EPT: write-back memory type"},
      {VMX_EPT_CAP_INVEPT, "INVEPT"},
      {VMX_EPT_CAP_INVEPT_ALL_CONTEXT, "INVEPT: all-context"},
      {VMX_VPID_CAP_INVVPID, "INVVPID"},
      {VMX_VPID_CAP_INVVPID_ALL_CONTEXT, "INVVPID: all-context"},
  };
  vmx_wanted want = Xhv();
  for (const Case &k : cases) {
    vmx_caps caps = Read(SandyBridgeMsrs());
    caps.ept_vpid &= ~k.cleared;
    vmx_controls c;
    const char *missing = nullptr;
    EXPECT_EQ(vmx_controls_choose(&caps, &want, &c, &missing), -1) << k.name;
    EXPECT_STREQ(missing, k.name);
  }
}

TEST_F(VmxCapsTest, MissingVpidControlIsNamed) {
  vmx_caps caps = Read(SandyBridgeMsrs());
  caps.proc2.allowed1 &= ~VMX_PROC2_ENABLE_VPID;
  vmx_wanted want = Xhv();
  vmx_controls c;
  const char *missing = nullptr;
  EXPECT_EQ(vmx_controls_choose(&caps, &want, &c, &missing), -1);
  EXPECT_STREQ(missing, "secondary controls: VPID");
}

TEST_F(VmxCapsTest, MissingExitAndEntryControlsAreNamed) {
  vmx_caps caps = Read(SandyBridgeMsrs());
  vmx_wanted want = Xhv();
  vmx_controls c;
  const char *missing = nullptr;
  caps.exit.allowed1 &= ~VMX_EXIT_CTL_LOAD_EFER;
  EXPECT_EQ(vmx_controls_choose(&caps, &want, &c, &missing), -1);
  EXPECT_STREQ(missing, "VM-exit: load IA32_EFER");
  caps = Read(SandyBridgeMsrs());
  caps.entry.allowed1 &= ~VMX_ENTRY_CTL_LOAD_PAT;
  EXPECT_EQ(vmx_controls_choose(&caps, &want, &c, &missing), -1);
  EXPECT_STREQ(missing, "VM-entry: load IA32_PAT");
}

TEST_F(VmxCapsTest, RequiredSecondaryControlsRequireActivatingThem) {
  vmx_caps caps = Read(SandyBridgeMsrs());
  caps.proc.allowed1 &= ~VMX_PROC_ACTIVATE_SECONDARY;
  vmx_wanted want = {};
  want.proc2.required = VMX_PROC2_ENABLE_EPT;  // activate secondary not asked for explicitly
  vmx_controls c;
  const char *missing = nullptr;
  EXPECT_EQ(vmx_controls_choose(&caps, &want, &c, &missing), -1);
  EXPECT_STREQ(missing, "processor-based: activate secondary controls");
}

TEST_F(VmxCapsTest, OptionalSecondaryControlsActivateThemOnlyWhenAllowed) {
  vmx_caps caps = Read(SandyBridgeMsrs());
  vmx_wanted want = {};
  want.proc2.optional = VMX_PROC2_ENABLE_RDTSCP;
  vmx_controls c;
  ASSERT_EQ(vmx_controls_choose(&caps, &want, &c, nullptr), 0);
  EXPECT_EQ(c.proc & VMX_PROC_ACTIVATE_SECONDARY, VMX_PROC_ACTIVATE_SECONDARY);
  EXPECT_EQ(c.proc2, VMX_PROC2_ENABLE_RDTSCP);

  caps.proc.allowed1 &= ~VMX_PROC_ACTIVATE_SECONDARY;
  ASSERT_EQ(vmx_controls_choose(&caps, &want, &c, nullptr), 0);
  EXPECT_EQ(c.proc & VMX_PROC_ACTIVATE_SECONDARY, 0U);
  EXPECT_EQ(c.proc2, 0U);  // secondary controls count as 0 when not activated
}

TEST_F(VmxCapsTest, AllowedZeroBitsAreAlwaysSet) {
  vmx_caps caps = Read(HaswellMsrs());
  vmx_wanted nothing = {};
  vmx_controls c;
  ASSERT_EQ(vmx_controls_choose(&caps, &nothing, &c, nullptr), 0);
  EXPECT_EQ(c.pin, 0x16U);
  EXPECT_EQ(c.proc, 0x04006172U);
  EXPECT_EQ(c.proc2, 0U);
  EXPECT_EQ(c.exit, 0x00036dfbU);
  EXPECT_EQ(c.entry, 0x000011fbU);

  vmx_wanted want = Xhv();
  ASSERT_EQ(vmx_controls_choose(&caps, &want, &c, nullptr), 0);
  EXPECT_EQ(c.pin & caps.pin.allowed0, caps.pin.allowed0);
  EXPECT_EQ(c.proc & caps.proc.allowed0, caps.proc.allowed0);
  EXPECT_EQ(c.exit & caps.exit.allowed0, caps.exit.allowed0);
  EXPECT_EQ(c.entry & caps.entry.allowed0, caps.entry.allowed0);
}

TEST_F(VmxCapsTest, OptionalBitsTheCpuLacksAreDroppedSilently) {
  vmx_caps caps = Read(SandyBridgeMsrs());
  vmx_wanted want = {};
  want.pin.optional = VMX_PIN_POSTED_INTERRUPTS | VMX_PIN_PREEMPTION_TIMER;
  vmx_controls c;
  const char *missing = nullptr;
  ASSERT_EQ(vmx_controls_choose(&caps, &want, &c, &missing), 0);
  EXPECT_EQ(missing, nullptr);
  EXPECT_EQ(c.pin, 0x16U | VMX_PIN_PREEMPTION_TIMER);
}

TEST_F(VmxCapsTest, XhvWantsWhatTheDesignSays) {
  vmx_wanted w = Xhv();
  EXPECT_EQ(w.pin.required, VMX_PIN_NMI_EXITING | VMX_PIN_VIRTUAL_NMIS);
  EXPECT_EQ(w.proc.required & VMX_PROC_NMI_WINDOW_EXITING, 0U);  // toggled at run time
  EXPECT_EQ(w.proc.required & (VMX_PROC_CR3_LOAD_EXITING | VMX_PROC_CR3_STORE_EXITING), 0U);
  EXPECT_EQ(w.proc2.required,
            VMX_PROC2_ENABLE_EPT | VMX_PROC2_ENABLE_VPID | VMX_PROC2_UNRESTRICTED_GUEST);
  EXPECT_EQ(w.proc2.optional,
            VMX_PROC2_ENABLE_RDTSCP | VMX_PROC2_ENABLE_INVPCID | VMX_PROC2_ENABLE_XSAVES);
  EXPECT_EQ(w.entry.required & VMX_ENTRY_CTL_IA32E_MODE_GUEST, 0U);  // set per guest mode
  EXPECT_NE(w.exit.required & VMX_EXIT_CTL_HOST_ADDR_SPACE_SIZE, 0U);
}

// --- The log line -------------------------------------------------------------

TEST_F(VmxCapsTest, FormatSandyBridge) {
  EXPECT_EQ(Format(Read(SandyBridgeMsrs())),
            "vmx: rev 0x2b, true ctls, ept 4-level wb 2M invept, vpid invvpid, unrestricted guest, "
            "vnmi, preemption timer, msr bitmaps, efer switch, pat switch, rdtscp");
}

TEST_F(VmxCapsTest, FormatHaswell) {
  EXPECT_EQ(Format(Read(HaswellMsrs())),
            "vmx: rev 0x2b, true ctls, ept 4-level wb 2M 1G a/d invept, vpid invvpid, "
            "unrestricted guest, vnmi, preemption timer, msr bitmaps, efer switch, pat switch, "
            "rdtscp, invpcid, vmwrite-any");
}

TEST_F(VmxCapsTest, FormatSaysWhatIsMissing) {
  EXPECT_EQ(Format(Read(PenrynMsrs())),
            "vmx: rev 0x2b, true ctls, no ept, no vpid, no unrestricted guest, vnmi, msr bitmaps");
}

TEST_F(VmxCapsTest, FormatTruncatesLikeSnprintf) {
  vmx_caps caps = Read(SandyBridgeMsrs());
  char small[12];
  std::memset(small, 'X', sizeof(small));
  int full = vmx_caps_format(nullptr, 0U, &caps);
  EXPECT_EQ(vmx_caps_format(small, sizeof(small), &caps), full);
  EXPECT_STREQ(small, "vmx: rev 0x");
  EXPECT_EQ(full, static_cast<int>(Format(caps).size()));
}

// --- Fixed CR bits ------------------------------------------------------------

TEST_F(VmxCapsTest, FixedBitsForceCr0AndCr4) {
  vmx_caps caps = Read(SandyBridgeMsrs());
  EXPECT_EQ(vmx_apply_fixed_bits(0x60000010ULL, caps.cr0_fixed0, caps.cr0_fixed1), 0xE0000031ULL);
  EXPECT_EQ(vmx_apply_fixed_bits(0x0ULL, caps.cr4_fixed0, caps.cr4_fixed1), 0x2000ULL);
  EXPECT_EQ(vmx_apply_fixed_bits(1ULL << 22, caps.cr4_fixed0, caps.cr4_fixed1), 0x2000ULL);
}

}  // namespace
