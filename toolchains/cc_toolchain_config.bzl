# SPDX-License-Identifier: Apache-2.0
"""One cc_toolchain_config for every xhv clang/lld target.

The rule is parameterised by target triple and flag sets; toolchains/BUILD
instantiates it for the freestanding hypervisor platforms (hv_x86,
hv_x86_64). Compilation modes map to features: `dbg` (-O0 -g), `fastbuild`
(the default, -O2 -g: emulator time dominates everything else) and `opt`
(-O2 -DNDEBUG).
"""

load(
    "@bazel_tools//tools/cpp:cc_toolchain_config_lib.bzl",
    "feature",
    "flag_group",
    "flag_set",
    "tool_path",
)
load("@bazel_tools//tools/build_defs/cc:action_names.bzl", "ACTION_NAMES")

_COMPILE_ACTIONS = [
    ACTION_NAMES.assemble,
    ACTION_NAMES.preprocess_assemble,
    ACTION_NAMES.c_compile,
    ACTION_NAMES.cpp_compile,
    ACTION_NAMES.linkstamp_compile,
]

_LINK_ACTIONS = [
    ACTION_NAMES.cpp_link_executable,
    ACTION_NAMES.cpp_link_dynamic_library,
    ACTION_NAMES.cpp_link_nodeps_dynamic_library,
]

_CLANG_VERSION = "14"
_LLVM = "/usr/lib/llvm-" + _CLANG_VERSION

def _flags_feature(name, compile_flags, link_flags, enabled = True):
    flag_sets = []
    if compile_flags:
        flag_sets.append(flag_set(
            actions = _COMPILE_ACTIONS,
            flag_groups = [flag_group(flags = compile_flags)],
        ))
    if link_flags:
        flag_sets.append(flag_set(
            actions = _LINK_ACTIONS,
            flag_groups = [flag_group(flags = link_flags)],
        ))
    return feature(name = name, enabled = enabled, flag_sets = flag_sets)

def _impl(ctx):
    target = ["--target=" + ctx.attr.target_triple]
    features = [
        _flags_feature(
            "xhv_target_flags",
            target + ctx.attr.compile_flags,
            target + ctx.attr.link_flags,
        ),
        _flags_feature("dbg", ["-O0", "-g"], [], enabled = False),
        _flags_feature("fastbuild", ["-O2", "-g"], [], enabled = False),
        _flags_feature("opt", ["-O2", "-DNDEBUG"], [], enabled = False),
        feature(name = "supports_pic", enabled = False),
    ]
    return cc_common.create_cc_toolchain_config_info(
        ctx = ctx,
        toolchain_identifier = ctx.attr.toolchain_identifier,
        host_system_name = "x86_64-unknown-linux-gnu",
        target_system_name = ctx.attr.target_triple,
        target_cpu = ctx.attr.target_cpu,
        target_libc = ctx.attr.target_libc,
        compiler = "clang",
        abi_version = "unknown",
        abi_libc_version = "unknown",
        cxx_builtin_include_directories = ctx.attr.builtin_include_dirs + [
            _LLVM + "/lib/clang/14.0.6/include",
        ],
        features = features,
        tool_paths = [
            tool_path(name = "gcc", path = _LLVM + "/bin/clang"),
            tool_path(name = "ld", path = _LLVM + "/bin/ld.lld"),
            tool_path(name = "ar", path = _LLVM + "/bin/llvm-ar"),
            tool_path(name = "cpp", path = _LLVM + "/bin/clang-cpp"),
            tool_path(name = "nm", path = _LLVM + "/bin/llvm-nm"),
            tool_path(name = "objcopy", path = _LLVM + "/bin/llvm-objcopy"),
            tool_path(name = "objdump", path = _LLVM + "/bin/llvm-objdump"),
            tool_path(name = "strip", path = _LLVM + "/bin/llvm-strip"),
            tool_path(name = "gcov", path = "/bin/false"),
        ],
    )

xhv_cc_toolchain_config = rule(
    implementation = _impl,
    attrs = {
        "toolchain_identifier": attr.string(mandatory = True),
        "target_triple": attr.string(mandatory = True),
        "target_cpu": attr.string(mandatory = True),
        "target_libc": attr.string(default = "none"),
        "compile_flags": attr.string_list(),
        "link_flags": attr.string_list(),
        "builtin_include_dirs": attr.string_list(),
    },
    provides = [CcToolchainConfigInfo],
)
