# SPDX-License-Identifier: Apache-2.0
"""hv_image: the hypervisor ELF of one bitness from its per-arch stubs and hv/common."""

load("//toolchains:copts.bzl", "XHV_C_COPTS")

_CPU = {
    "x86": "@platforms//cpu:x86_32",
    "x86_64": "@platforms//cpu:x86_64",
}

def hv_image(arch):
    """Defines :xhv.elf (target :xhv_image) in an hv/<arch> package: the
    link (:xhv_linked.elf, relocations kept) with its own relocation table
    filled in by reloc_table.py.

    The package holds only what differs by bitness: entry.S (multiboot entry
    and paging), paging.c (the host's map of physical memory beyond the boot
    one), exceptions.S, trampoline.S (AP start-up), vmx_stubs.S, the GPR
    save/restore macros (gprs.inc) and the linker script xhv.ld.
    """
    native.cc_library(
        name = "paging",
        srcs = ["paging.c"],
        copts = XHV_C_COPTS,
        target_compatible_with = [
            _CPU[arch],
            "@platforms//os:none",
        ],
        deps = ["//hv/common:headers"],
        alwayslink = True,
    )
    native.cc_binary(
        name = "xhv_linked.elf",
        srcs = [
            "entry.S",
            "exceptions.S",
            "gprs.inc",
            "trampoline.S",
            "vmx_stubs.S",
        ],
        additional_linker_inputs = ["xhv.ld"],
        # --emit-relocs: the relocations stay in the ELF for reloc_table.py.
        linkopts = ["-Wl,-T,$(location xhv.ld)", "-Wl,--emit-relocs"],
        target_compatible_with = [
            _CPU[arch],
            "@platforms//os:none",
        ],
        deps = [
            ":paging",
            "//hv/common:hv_common",
        ],
    )

    # The image with its own relocation table filled in (xhv/relocate.h).
    native.genrule(
        name = "xhv_image",
        srcs = [":xhv_linked.elf"],
        outs = ["xhv.elf"],
        cmd = "$(location //toolchains:reloc_table) $< $@",
        tools = ["//toolchains:reloc_table"],
        target_compatible_with = [
            _CPU[arch],
            "@platforms//os:none",
        ],
        visibility = ["//visibility:public"],
    )
