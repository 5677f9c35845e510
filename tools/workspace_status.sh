#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Bazel's workspace status (--workspace_status_command in .bazelrc): the
# commit the tree is at, and whether it has uncommitted changes. Volatile
# keys only (no STABLE_ prefix), so nothing is rebuilt or re-tested when
# they change; a matrix cell that runs records them (testing/cell_test.py).
commit=$(git rev-parse HEAD 2>/dev/null) || commit=unknown
state=unknown
if [ "$commit" != unknown ]; then
    if [ -z "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
        state=clean
    else
        state=modified
    fi
fi
echo "XHV_COMMIT $commit"
echo "XHV_TREE $state"
