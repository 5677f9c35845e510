# SPDX-License-Identifier: Apache-2.0
"""debian_packages: the pinned Debian guest packages as an external repository.

Reads guests/debian/packages.lock.json and exposes, per guest (Debian
release: debian11, debian12) and guest arch (x86 = Debian i386, x86_64 =
Debian amd64):

    :<guest>_<arch>_vmlinuz   the kernel image (/boot/vmlinuz-* of the
                              linux-image-<abi>-<flavour> package)
    :<guest>_<arch>_busybox   the static busybox binary
    :resolution               resolution.json: per pin, the .deb that was
                              used and whether it is the pinned one
    :versions                 versions.txt: the same, one line per .deb

Consumers use //guests/debian:<guest>_<arch> (debian_guest.bzl), which also
enforces --//guests/debian:exact_pins.

Where the .debs come from: xhv's own content-addressed cache (the first of
$XHV_DEB_CACHE, $XDG_CACHE_HOME/xhv/debs, ~/.cache/xhv/debs), every file
checked by sha256 when read; on a miss, debian_apt.py resolves the pins with
the machine's apt in an isolated configuration and the result goes into the
cache. A pinned version that left the archive falls forward to what its
metapackage selects now (one warning line); debian_guest.bzl turns that into
an error under exact pins.

Why not Bazel's repository cache: Bazel 4.2.3 gives a repository rule no way
to put a file there while downloads are disabled (this workspace's
--experimental_repository_disable_download refuses file:// URLs too), nor to
learn where it is; a --distdir must be named before the rule runs. A cache
the project owns needs no guess about Bazel's internals.
"""

_ARCHES = {
    # Debian architecture -> xhv guest arch (target name suffix)
    "i386": "x86",
    "amd64": "x86_64",
}

_ROLES = ["kernel", "kernel-meta", "busybox"]

_FIELDS = ["guest", "suite", "name", "arch", "version", "filename", "sha256", "role", "selected_by"]

_SCRATCH = "_scratch"  # isolated apt state, downloads, extraction

def _parse_lock(ctx, text):
    lock = json.decode(text)
    pins = lock.get("packages") if type(lock) == "dict" else None
    if type(pins) != "list" or not pins:
        fail("{}: no \"packages\" list".format(ctx.attr.lock))
    for pin in pins:
        for field in _FIELDS:
            if type(pin.get(field)) != "string" or not pin[field]:
                fail("{}: entry {} lacks \"{}\"; re-pin with: python3 guests/debian/refresh_pins.py".format(
                    ctx.attr.lock,
                    pin,
                    field,
                ))
        if pin["arch"] not in _ARCHES:
            fail("{}: {}: arch must be one of {}".format(ctx.attr.lock, pin["name"], _ARCHES.keys()))
        if pin["role"] not in _ROLES:
            fail("{}: {}: role must be one of {}".format(ctx.attr.lock, pin["name"], _ROLES))
        if "/" in pin["filename"] or not pin["guest"].isalnum():
            fail("{}: {}: filename must be a plain file name, guest alphanumeric".format(
                ctx.attr.lock,
                pin["name"],
            ))
    return pins

def _execute(ctx, argv, what, **kwargs):
    result = ctx.execute(argv, quiet = True, **kwargs)
    if result.return_code != 0:
        fail("debian_packages: {} failed (exit {}):\n{}{}".format(
            what,
            result.return_code,
            result.stdout,
            result.stderr,
        ))
    return result

def _key(pin):
    return "{}/{}:{}".format(pin["guest"], pin["name"], pin["arch"])

def _cache_dir(ctx):
    env = ctx.os.environ
    if env.get("XHV_DEB_CACHE"):
        return env["XHV_DEB_CACHE"]
    if env.get("XDG_CACHE_HOME"):
        return env["XDG_CACHE_HOME"] + "/xhv/debs"
    if env.get("HOME"):
        return env["HOME"] + "/.cache/xhv/debs"
    return None

def _from_cache(ctx, cache, sha256, filename):
    """Copies the cached .deb with this sha256 to debs/<filename>; True on a verified hit."""
    if cache == None:
        return False
    result = ctx.execute([
        "sh",
        "-c",
        'f="$1/sha256/$2"; [ -f "$f" ] || exit 3; ' +
        'echo "$2  $f" | sha256sum --check --status || { rm -f "$f"; exit 4; }; ' +
        'mkdir -p debs && cp "$f" "debs/$3"',
        "from_cache",
        cache,
        sha256,
        filename,
    ])
    return result.return_code == 0

def _to_cache(ctx, cache, path, sha256):
    if cache == None:
        return
    ctx.execute([
        "sh",
        "-c",
        'mkdir -p "$1/sha256" && cp "$2" "$1/sha256/.$3.tmp" && mv -f "$1/sha256/.$3.tmp" "$1/sha256/$3"',
        "to_cache",
        cache,
        path,
        sha256,
    ])

def _resolve_missing(ctx, pins, python, cache):
    """Runs the resolver for pins not in the cache; returns its entries."""
    keys = [_key(p) for p in pins]
    ctx.report_progress("apt: " + " ".join(keys))
    downloads = _SCRATCH + "/debs"
    result = ctx.execute([
        python,
        ctx.path(Label("//guests/debian:debian_apt.py")),
        "resolve",
        "--lock",
        ctx.path(ctx.attr.lock),
        "--workdir",
        ctx.path(_SCRATCH + "/apt"),
        "--dest",
        ctx.path(downloads),
        "--out",
        ctx.path(_SCRATCH + "/resolved.json"),
    ] + keys, quiet = True, timeout = 1800)
    if result.return_code != 0:
        fail("\n" + result.stderr.strip())
    resolved = json.decode(ctx.read(_SCRATCH + "/resolved.json"))
    entries = resolved["entries"]
    for entry in entries:
        used = entry["used"]
        staged = ctx.path("{}/{}".format(downloads, used["filename"]))
        _to_cache(ctx, cache, staged, used["sha256"])
        _execute(ctx, ["sh", "-c", 'mkdir -p debs && cp "$1" "debs/$2"', "copy", staged, used["filename"]], "copying " + used["filename"])
    return entries, resolved["warning"]

def _extract_kernel(ctx, filename, dest):
    scratch = "{}/x-{}".format(_SCRATCH, filename)
    ctx.execute(["mkdir", "-p", scratch])

    # Only ./boot/vmlinuz-*: dpkg-deb -x would also unpack ~400 MB of modules
    # that the guests do not use (no root needed either way). ./boot/ comes
    # first in the data tarball, so tar stops after the first match
    # (--occurrence) instead of decompressing the rest: 0.1 s instead of 5 s.
    # dpkg-deb then dies of SIGPIPE; the pipeline's status is tar's.
    _execute(ctx, [
        "sh",
        "-c",
        'dpkg-deb --fsys-tarfile "$1" | tar -x -C "$2" --occurrence=1 --wildcards "./boot/vmlinuz-*"',
        "extract",
        ctx.path("debs/" + filename),
        ctx.path(scratch),
    ], "extracting /boot/vmlinuz-* from " + filename)
    images = ctx.path(scratch + "/boot").readdir()
    if len(images) != 1:
        fail("debian_packages: {} holds {} /boot/vmlinuz-* files, expected 1".format(
            filename,
            len(images),
        ))
    _execute(ctx, ["install", "-D", "-m", "0644", images[0], ctx.path(dest)], "install")
    return images[0].basename[len("vmlinuz-"):]

def _extract_busybox(ctx, filename, dest):
    scratch = "{}/x-{}".format(_SCRATCH, filename)
    ctx.execute(["mkdir", "-p", scratch])
    _execute(ctx, ["dpkg-deb", "-x", ctx.path("debs/" + filename), ctx.path(scratch)], "dpkg-deb -x " + filename)
    _execute(ctx, [
        "install",
        "-D",
        "-m",
        "0755",
        ctx.path(scratch + "/bin/busybox"),
        ctx.path(dest),
    ], "install busybox")

def _entry_order(entry):
    return (entry["guest"], entry["arch"], entry["role"], entry["name"])

def _debian_packages_impl(ctx):
    python = ctx.which("python3")
    if python == None:
        fail("debian_packages: python3 not found on PATH")
    pins = _parse_lock(ctx, ctx.read(ctx.path(ctx.attr.lock)))
    cache = _cache_dir(ctx)

    entries = []
    missing = []
    for pin in pins:
        if _from_cache(ctx, cache, pin["sha256"], pin["filename"]):
            entry = dict(pin)
            entry["used"] = {k: pin[k] for k in ["name", "version", "filename", "sha256"]}
            entry["drifted"] = False
            entries.append(entry)
        else:
            missing.append(pin)
    hits = len(entries)
    warning = None
    if missing:
        resolved, warning = _resolve_missing(ctx, missing, python, cache)
        entries += resolved

    # Where each .deb came from (printed only when the repository is fetched).
    print("debian_packages: {} .deb(s) from {}, {} via apt".format(
        hits,
        cache or "(no cache: HOME unset)",
        len(missing),
    ))
    if warning:
        print(warning)

    versions = []
    exposed = {}
    for entry in sorted(entries, key = _entry_order):
        prefix = "{}_{}".format(entry["guest"], _ARCHES[entry["arch"]])
        used = entry["used"]
        note = ""
        if entry["role"] == "kernel":
            entry["kernel_release"] = _extract_kernel(ctx, used["filename"], prefix + "/vmlinuz")
            exposed[prefix + "_vmlinuz"] = prefix + "/vmlinuz"
            note = " -> {}/vmlinuz ({})".format(prefix, entry["kernel_release"])
        elif entry["role"] == "busybox":
            _extract_busybox(ctx, used["filename"], prefix + "/busybox")
            exposed[prefix + "_busybox"] = prefix + "/busybox"
            note = " -> {}/busybox".format(prefix)
        versions.append("{} {}:{} {} sha256:{} {}{}{}".format(
            entry["guest"],
            used["name"],
            entry["arch"],
            used["version"],
            used["sha256"],
            used["filename"],
            note,
            " (pinned {} {}, left the archive)".format(entry["name"], entry["version"]) if entry["drifted"] else "",
        ))
    for entry in entries:
        prefix = "{}_{}".format(entry["guest"], _ARCHES[entry["arch"]])
        for kind in ["vmlinuz", "busybox"]:
            if prefix + "_" + kind not in exposed:
                fail("debian_packages: {} pins no {} for {} {}".format(ctx.attr.lock, kind, entry["guest"], entry["arch"]))

    ctx.delete(_SCRATCH)
    ctx.file("versions.txt", "\n".join(versions) + "\n", executable = False)
    ctx.file("resolution.json", json.encode_indent(entries) + "\n", executable = False)
    build = [
        "# Generated by //guests/debian:debian_packages.bzl from {}.".format(ctx.attr.lock),
        'package(default_visibility = ["//visibility:public"])',
        "",
        'exports_files(["versions.txt", "resolution.json"])',
        "",
        'filegroup(name = "versions", srcs = ["versions.txt"])',
        "",
        'filegroup(name = "resolution", srcs = ["resolution.json"])',
    ]
    for name, path in sorted(exposed.items()):
        build += ["", 'filegroup(name = "{}", srcs = ["{}"])'.format(name, path)]
    ctx.file("BUILD.bazel", "\n".join(build) + "\n", executable = False)

debian_packages = repository_rule(
    implementation = _debian_packages_impl,
    doc = "Pinned Debian .debs fetched with an isolated apt, kept in xhv's .deb cache.",
    environ = ["XHV_DEB_CACHE", "XDG_CACHE_HOME", "HOME", "XHV_DEBIAN_ARCHIVE"],
    attrs = {
        "lock": attr.label(
            mandatory = True,
            allow_single_file = True,
            doc = "packages.lock.json written by guests/debian/refresh_pins.py",
        ),
    },
)
