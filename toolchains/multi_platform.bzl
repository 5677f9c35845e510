# SPDX-License-Identifier: Apache-2.0
"""Build one target for several platforms in one command.

`multi_platform_files` applies a split transition on
//command_line_option:platforms to its `src`, so `bazel build //:images`
compiles the same sources for hv_x86 and hv_x86_64 while host targets such
as cc_tests keep the host toolchain. Each platform's output `stem.ext` appears as
`<name>/stem-<key>.ext`, where `key` is the platform's key in `platforms`.
"""

_LEGACY_QUIESCE = "//hv/common/smp:legacy_quiesce_order"
_HYPAPP = "//hypapps:hypapp"

def _split_impl(settings, attr):
    # The legacy quiesce ordering exists only for the test that proves the
    # matrix sees its bug; everything else keeps what the command line says.
    legacy = attr.legacy_quiesce_order or settings[_LEGACY_QUIESCE]
    hypapp = attr.hypapp if attr.hypapp else settings[_HYPAPP]
    return {
        key: {
            "//command_line_option:platforms": platform,
            _LEGACY_QUIESCE: legacy,
            _HYPAPP: hypapp,
        }
        for key, platform in attr.platforms.items()
    }

_platform_split = transition(
    implementation = _split_impl,
    inputs = [_LEGACY_QUIESCE, _HYPAPP],
    outputs = ["//command_line_option:platforms", _LEGACY_QUIESCE, _HYPAPP],
)

def _multi_platform_files_impl(ctx):
    outputs = []
    for key, target in ctx.split_attr.src.items():
        for src in target[DefaultInfo].files.to_list():
            stem, dot, ext = src.basename.rpartition(".")
            if not dot:
                stem, ext = ext, ""
            out = ctx.actions.declare_file("{}/{}-{}{}{}".format(
                ctx.label.name,
                stem,
                key,
                dot,
                ext,
            ))
            ctx.actions.symlink(output = out, target_file = src)
            outputs.append(out)
    return [DefaultInfo(
        files = depset(outputs),
        runfiles = ctx.runfiles(files = outputs),
    )]

multi_platform_files = rule(
    implementation = _multi_platform_files_impl,
    attrs = {
        "src": attr.label(mandatory = True, cfg = _platform_split),
        "platforms": attr.string_dict(
            mandatory = True,
            doc = "key -> platform; the key names that platform's outputs",
        ),
        "hypapp": attr.string(
            doc = "label of the hypapp to link into hypervisor images in src " +
                  "(default: what //hypapps:hypapp says)",
        ),
        "legacy_quiesce_order": attr.bool(
            default = False,
            doc = "build src with the seed's quiesce ordering (bug-detection tests only)",
        ),
        "_allowlist_function_transition": attr.label(
            default = "@bazel_tools//tools/allowlists/function_transition_allowlist",
        ),
    },
)
