# SPDX-License-Identifier: Apache-2.0
"""debian_packages: the pinned Debian guest packages as an external repository.

Reads guests/debian/packages.lock.json and exposes, per guest arch
(x86 = Debian i386, x86_64 = Debian amd64):

    :vmlinuz_<arch>   the kernel image (/boot/vmlinuz-* of the pinned
                      linux-image-<abi>-<flavour> package)
    :busybox_<arch>   the static busybox binary
    :versions         versions.txt: every pinned .deb, version and sha256
    :debs             the pinned .deb files themselves

How the .debs arrive, and why this way (measured with Bazel 4.2.3 and the
workspace's --experimental_repository_disable_download):

  * ctx.download(url = "file://...", sha256 = pin) is a download like any
    other: refused ("download is disabled") unless the content is already in
    the repository cache.
  * A repository-cache hit by sha256 succeeds without touching the URL at all
    (even a nonexistent file:// path works).

So each pin is first looked up in the repository cache with ctx.download and
a placeholder file:// URL. Only on a miss does apt run (isolated, see
debian_apt.py): `apt-get download <name>:<arch>=<version>`, then the sha256 is
compared with the pin. A verified .deb goes into the repository cache with
ctx.download(file://) when downloads are enabled; when they are disabled,
which is this workspace's default, the rule writes it into the cache itself
(repository_cache.py names the candidate directories) and keeps the write only
if a cache-only ctx.download then finds it. Either way the next fetch, from any
clone using the same cache, is served from the cache without running apt.
"""

_ARCHES = {
    # Debian architecture -> xhv guest arch (target name suffix)
    "i386": "x86",
    "amd64": "x86_64",
}

_ROLES = ["kernel", "kernel-meta", "busybox"]

_STAGING = "_staging"  # apt's downloads (placeholder URL target before that)
_SCRATCH = "_scratch"  # isolated apt state, extraction

def _parse_lock(ctx, text):
    lock = json.decode(text)
    pins = lock.get("packages") if type(lock) == "dict" else None
    if type(pins) != "list" or not pins:
        fail("{}: no \"packages\" list".format(ctx.attr.lock))
    for pin in pins:
        for field in ["name", "arch", "version", "filename", "sha256", "role"]:
            if type(pin.get(field)) != "string" or not pin[field]:
                fail("{}: entry {} lacks \"{}\"".format(ctx.attr.lock, pin, field))
        if pin["arch"] not in _ARCHES:
            fail("{}: {}: arch must be one of {}".format(ctx.attr.lock, pin["name"], _ARCHES.keys()))
        if pin["role"] not in _ROLES:
            fail("{}: {}: role must be one of {}".format(ctx.attr.lock, pin["name"], _ROLES))
        if "/" in pin["filename"]:
            fail("{}: {}: filename must be a plain file name".format(ctx.attr.lock, pin["name"]))
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

def _canonical_id(pin):
    # Part of the cache key besides the sha256: a hand-edited version with an
    # unchanged sha256 is a cache miss (and then fails on the sha256 check)
    # rather than a silent hit.
    return "debian:{}:{}={}".format(pin["name"], pin["arch"], pin["version"])

def _from_cache(ctx, pin):
    """Looks the pin up in the repository cache; True on a hit."""
    result = ctx.download(
        url = "file://{}/{}".format(ctx.path(_STAGING), pin["filename"]),
        output = "debs/" + pin["filename"],
        sha256 = pin["sha256"],
        canonical_id = _canonical_id(pin),
        allow_fail = True,
    )
    return result.success

def _cache_candidates(ctx, python):
    """Directories that may be this command's repository cache, best first."""
    return _execute(ctx, [
        python,
        ctx.path(Label("//guests/debian:repository_cache.py")),
        "--output-base",
        str(ctx.path(".").dirname.dirname),
        "--workspace",
        str(ctx.path(Label("//:WORKSPACE")).dirname),
    ], "repository_cache.py").stdout.splitlines()

def _store_in_cache(ctx, pin, candidates):
    """Puts a verified staged .deb into the repository cache; True if it is
    now served from there (and copied to debs/ by that cache hit)."""
    if _from_cache(ctx, pin):
        # Downloads are enabled: Bazel fetched the file:// URL and cached it.
        return True
    staged = str(ctx.path(_STAGING)) + "/" + pin["filename"]

    # Bazel marks the canonical id of an entry with an empty file named
    # id-<sha256 of the id>.
    id_hash = _execute(ctx, [
        "sh",
        "-c",
        'printf %s "$1" | sha256sum',
        "id",
        _canonical_id(pin),
    ], "sha256sum").stdout.split(" ")[0]
    for cache in candidates:
        entry = "{}/content_addressable/sha256/{}".format(cache, pin["sha256"])
        stored = ctx.execute([
            "sh",
            "-c",
            'mkdir -p "$1" && cp "$2" "$1/file.tmp" && mv -f "$1/file.tmp" "$1/file" && touch "$1/$3"',
            "store",
            entry,
            staged,
            "id-" + id_hash,
        ])
        if stored.return_code == 0 and _from_cache(ctx, pin):
            return True
    return False

def _fetch_missing(ctx, pins, python):
    keys = ["{}:{}".format(p["name"], p["arch"]) for p in pins]
    ctx.report_progress("apt-get download " + " ".join(keys))
    result = ctx.execute([
        python,
        ctx.path(Label("//guests/debian:debian_apt.py")),
        "fetch",
        "--lock",
        ctx.path(ctx.attr.lock),
        "--workdir",
        ctx.path(_SCRATCH + "/apt"),
        "--dest",
        ctx.path(_STAGING),
    ] + keys, quiet = True, timeout = 1800)
    if result.return_code != 0:
        fail("\n" + result.stderr.strip())
    candidates = _cache_candidates(ctx, python)
    for pin in pins:
        if not _store_in_cache(ctx, pin, candidates):
            print(("debian_packages: {} could not be stored in the repository cache " +
                   "(disabled, or not found); using it uncached, so the next fetch runs " +
                   "apt again").format(pin["filename"]))
            ctx.execute(["mkdir", "-p", "debs"])
            _execute(ctx, [
                "cp",
                ctx.path(_STAGING + "/" + pin["filename"]),
                ctx.path("debs/" + pin["filename"]),
            ], "copying " + pin["filename"])

def _extract_kernel(ctx, pin, arch):
    dest = "{}/{}".format(_SCRATCH, pin["name"])
    ctx.execute(["mkdir", "-p", dest])

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
        ctx.path("debs/" + pin["filename"]),
        ctx.path(dest),
    ], "extracting /boot/vmlinuz-* from " + pin["filename"])
    images = ctx.path(dest + "/boot").readdir()
    if len(images) != 1:
        fail("debian_packages: {} holds {} /boot/vmlinuz-* files, expected 1".format(
            pin["filename"],
            len(images),
        ))
    _execute(ctx, ["install", "-D", "-m", "0644", images[0], ctx.path(arch + "/vmlinuz")], "install")
    return images[0].basename

def _extract_busybox(ctx, pin, arch):
    dest = "{}/{}-{}".format(_SCRATCH, pin["name"], pin["arch"])
    ctx.execute(["mkdir", "-p", dest])
    _execute(ctx, [
        "dpkg-deb",
        "-x",
        ctx.path("debs/" + pin["filename"]),
        ctx.path(dest),
    ], "dpkg-deb -x " + pin["filename"])
    _execute(ctx, [
        "install",
        "-D",
        "-m",
        "0755",
        ctx.path(dest + "/bin/busybox"),
        ctx.path(arch + "/busybox"),
    ], "install busybox")

def _pin_order(pin):
    return (pin["arch"], pin["role"], pin["name"])

def _debian_packages_impl(ctx):
    python = ctx.which("python3")
    if python == None:
        fail("debian_packages: python3 not found on PATH")
    pins = _parse_lock(ctx, ctx.read(ctx.path(ctx.attr.lock)))

    hits = []
    missing = []
    for pin in pins:
        if _from_cache(ctx, pin):
            hits.append(pin)
        else:
            missing.append(pin)
    if missing:
        _fetch_missing(ctx, missing, python)

    # Where each .deb came from (printed only when the repository is fetched).
    print("debian_packages: {} .deb(s) from the repository cache, {} via apt{}".format(
        len(hits),
        len(missing),
        "".join([" " + p["filename"] for p in missing]),
    ))

    versions = []
    exposed = {}
    for pin in sorted(pins, key = _pin_order):
        arch = _ARCHES[pin["arch"]]
        note = ""
        if pin["role"] == "kernel":
            note = " -> {}/vmlinuz ({})".format(arch, _extract_kernel(ctx, pin, arch))
            exposed["vmlinuz_" + arch] = arch + "/vmlinuz"
        elif pin["role"] == "busybox":
            _extract_busybox(ctx, pin, arch)
            note = " -> {}/busybox".format(arch)
            exposed["busybox_" + arch] = arch + "/busybox"
        versions.append("{}:{} {} sha256:{} {}{}".format(
            pin["name"],
            pin["arch"],
            pin["version"],
            pin["sha256"],
            pin["filename"],
            note,
        ))
    for arch in _ARCHES.values():
        for kind in ["vmlinuz", "busybox"]:
            if kind + "_" + arch not in exposed:
                fail("debian_packages: {} pins no {} for {}".format(ctx.attr.lock, kind, arch))

    ctx.delete(_SCRATCH)
    ctx.delete(_STAGING)
    ctx.file("versions.txt", "\n".join(versions) + "\n", executable = False)
    build = [
        "# Generated by //guests/debian:debian_packages.bzl from {}.".format(ctx.attr.lock),
        'package(default_visibility = ["//visibility:public"])',
        "",
        'exports_files(["versions.txt"])',
        "",
        'filegroup(name = "versions", srcs = ["versions.txt"])',
        "",
        'filegroup(name = "debs", srcs = glob(["debs/*.deb"]))',
    ]
    for name, path in sorted(exposed.items()):
        build += ["", 'filegroup(name = "{}", srcs = ["{}"])'.format(name, path)]
    ctx.file("BUILD.bazel", "\n".join(build) + "\n", executable = False)

debian_packages = repository_rule(
    implementation = _debian_packages_impl,
    doc = "Pinned Debian .debs fetched with an isolated apt, kept in the repository cache.",
    attrs = {
        "lock": attr.label(
            mandatory = True,
            allow_single_file = True,
            doc = "packages.lock.json written by guests/debian/refresh_pins.py",
        ),
    },
)
