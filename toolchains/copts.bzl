# SPDX-License-Identifier: Apache-2.0
"""Warning flags for hypervisor C sources in every configuration.

The hypervisor toolchains already pass these; repeating them on the targets
makes the host (unit test) build of the same C files just as strict.
"""

XHV_C_COPTS = [
    "-std=c11",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-Wstrict-prototypes",
    "-Wmissing-prototypes",
]
