# SPDX-License-Identifier: Apache-2.0
"""A boolean build setting (what bazel_skylib's bool_flag does), for xhv's variants."""

BoolSettingInfo = provider(fields = ["value"])

def _bool_flag_impl(ctx):
    return BoolSettingInfo(value = ctx.build_setting_value)

bool_flag = rule(
    implementation = _bool_flag_impl,
    build_setting = config.bool(flag = True),
    doc = "Set on the command line: --//package:name=true",
)

IntSettingInfo = provider(fields = ["value"])

def _int_flag_impl(ctx):
    return IntSettingInfo(value = ctx.build_setting_value)

int_flag = rule(
    implementation = _int_flag_impl,
    build_setting = config.int(flag = True),
    doc = "Set on the command line: --//package:name=N",
)
