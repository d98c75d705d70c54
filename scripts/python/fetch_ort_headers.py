#!/usr/bin/env python3
"""Fetches ONNX Runtime's official C/C++ headers for embench's ort-native worker.

The headers come from a package, never from a copy kept in this repository. The
first source that answers wins:

1. ONNX Runtime's release archive of the runtime's own version
   (github.com/microsoft/onnxruntime/releases, `onnxruntime-linux-<arch>-<V>.tgz`):
   reachable on a box with network, such as the one terraform provisions.
2. Debian's `libonnxruntime-dev` (upstream's headers, packaged by Debian) from
   deb.debian.org: the pinned version below, checked against its SHA-256, else the
   newest one in experimental or unstable that is not newer than the runtime (the
   sha256 from that suite's Packages index). Its C API version is then older than
   the runtime's, which ONNX Runtime serves (`OrtApiBase::GetApi` of an older
   version); the worker records both versions.

The release archive's SHA-256 is recorded, not checked (it cannot be pinned from a
machine that cannot reach it); HTTPS is its protection.

Writes DEST/include/*.h and DEST/headers.json ({"version", "source", "url",
"sha256", "runtime"}). Exits 1, naming what it tried, when no source answers.
Usage: fetch_ort_headers.py --runtime-version 1.31.1 --dest .tools/ort-native/headers [--release-only]
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import lzma
import os
import platform
import re
import shutil
import sys
import tarfile
import urllib.request

RELEASE = "https://github.com/microsoft/onnxruntime/releases/download/v{v}/onnxruntime-linux-{arch}-{v}.tgz"
DEBIAN = "https://deb.debian.org/debian"
# Debian experimental's libonnxruntime-dev when this was written (2026-11-30).
PINNED = {"amd64": ("1.27.1+dfsg-1", "521b439b4674dbd71da1d0bc3016f29075c6ad572f4a1c13beb011dee893f8f3")}
HEADERS = ("onnxruntime_c_api.h", "onnxruntime_cxx_api.h", "onnxruntime_cxx_inline.h")


def arches() -> tuple[str, str]:
    """(release archive's arch, Debian's arch) of this machine."""
    machine = platform.machine()
    if machine in ("x86_64", "AMD64"):
        return "x64", "amd64"
    if machine in ("aarch64", "arm64"):
        return "aarch64", "arm64"
    sys.exit(f"error: no ONNX Runtime headers for machine type {machine}")


def get(url: str, timeout: float) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read()


def upstream(version: str) -> tuple[int, ...]:
    """`1.27.1+dfsg-1` -> (1, 27, 1)."""
    return tuple(int(x) for x in re.match(r"(\d+(?:\.\d+)*)", version).group(1).split("."))


def safe(rel: str) -> str:
    """`rel` if it stays inside include/ (no absolute path, no `..`), else an error."""
    if rel.startswith("/") or ".." in rel.split("/"):
        raise ValueError(f"refusing the archive member path {rel!r}")
    return rel


def from_release(runtime: str, arch: str) -> tuple[dict[str, bytes], dict]:
    url = RELEASE.format(v=runtime, arch=arch)
    data = get(url, timeout=30)
    files = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for m in tar.getmembers():
            if m.isfile() and "/include/" in m.name and m.name.endswith(".h"):
                files[safe(m.name.split("/include/", 1)[1])] = tar.extractfile(m).read()
    meta = {"version": runtime, "source": "ONNX Runtime release archive", "url": url,
            "sha256": hashlib.sha256(data).hexdigest()}
    return files, meta


def deb_members(deb: bytes) -> dict[str, bytes]:
    """The files of a .deb (an ar archive) whose data.tar.* holds usr/include/onnxruntime/."""
    if not deb.startswith(b"!<arch>\n"):
        raise ValueError("not a Debian package (no ar magic)")
    pos, files = 8, {}
    while pos + 60 <= len(deb):
        name = deb[pos:pos + 16].decode().strip().rstrip("/")
        size = int(deb[pos + 48:pos + 58].decode().strip())
        body = deb[pos + 60:pos + 60 + size]
        pos += 60 + size + (size % 2)
        if name.startswith("data.tar"):
            with tarfile.open(fileobj=io.BytesIO(body), mode="r:*") as tar:
                for m in tar.getmembers():
                    if m.isfile() and "usr/include/onnxruntime/" in m.name and m.name.endswith(".h"):
                        files[safe(m.name.split("usr/include/onnxruntime/", 1)[1])] = tar.extractfile(m).read()
    return files


def debian_candidates(runtime: str, arch: str) -> list[tuple[str, str, str]]:
    """(version, pool path, sha256): the pinned one first, then each suite's newest not above the runtime."""
    out = []
    if arch in PINNED and upstream(PINNED[arch][0]) <= upstream(runtime):
        version, sha = PINNED[arch]
        out.append((version, f"pool/main/o/onnxruntime/libonnxruntime-dev_{version}_{arch}.deb", sha))
    for suite in ("experimental", "unstable"):
        try:
            index = lzma.decompress(get(f"{DEBIAN}/dists/{suite}/main/binary-{arch}/Packages.xz", timeout=60))
        except Exception as e:  # noqa: BLE001 - one suite unreachable: try the next
            print(f"  Debian {suite}: {e}", file=sys.stderr)
            continue
        for stanza in index.decode().split("\n\n"):
            if not stanza.startswith("Package: libonnxruntime-dev\n"):
                continue
            fields = dict(line.split(": ", 1) for line in stanza.splitlines() if ": " in line)
            if upstream(fields["Version"]) <= upstream(runtime):
                out.append((fields["Version"], fields["Filename"], fields["SHA256"]))
    return out


def from_debian(runtime: str, arch: str) -> tuple[dict[str, bytes], dict]:
    tried = []
    for version, path, sha in debian_candidates(runtime, arch):
        url = f"{DEBIAN}/{path}"
        try:
            data = get(url, timeout=60)
        except Exception as e:  # noqa: BLE001
            tried.append(f"{url}: {e}")
            continue
        digest = hashlib.sha256(data).hexdigest()
        if digest != sha:
            tried.append(f"{url}: sha256 {digest}, expected {sha}")
            continue
        meta = {"version": upstream_str(version), "source": f"Debian libonnxruntime-dev {version}", "url": url,
                "sha256": digest}
        return deb_members(data), meta
    raise RuntimeError("; ".join(tried) or "no libonnxruntime-dev at or below the runtime's version")


def upstream_str(version: str) -> str:
    return ".".join(map(str, upstream(version)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runtime-version", required=True, help="the onnxruntime library's version, e.g. 1.31.1")
    parser.add_argument("--dest", required=True)
    parser.add_argument("--release-only", action="store_true",
                        help="only the release archive of the runtime's own version")
    args = parser.parse_args()
    release_arch, deb_arch = arches()
    failures = []
    sources = [("release archive", lambda: from_release(args.runtime_version, release_arch))]
    if not args.release_only:
        sources.append(("Debian", lambda: from_debian(args.runtime_version, deb_arch)))
    for name, fetch in sources:
        try:
            files, meta = fetch()
        except Exception as e:  # noqa: BLE001 - each source may be unreachable; say why, try the next
            failures.append(f"{name}: {e}")
            continue
        missing = [h for h in HEADERS if h not in files]
        if missing:
            failures.append(f"{name}: {meta['url']} lacks {', '.join(missing)}")
            continue
        dest = args.dest.rstrip("/")
        shutil.rmtree(dest, ignore_errors=True)
        for rel, body in files.items():
            path = f"{dest}/include/{rel}"
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(body)
        meta["runtime"] = args.runtime_version
        with open(f"{dest}/headers.json", "w") as f:
            json.dump(meta, f, indent=1)
        print(f"ONNX Runtime headers {meta['version']} ({meta['source']}) in {dest}/include")
        return
    print("error: no source of ONNX Runtime's C/C++ headers answered:\n  " + "\n  ".join(failures), file=sys.stderr)
    print("fix: on a box with network, run this again; or set ORT_NATIVE_HEADERS to the include/ directory "
          "of ONNX Runtime's release archive of the runtime's version", file=sys.stderr)
    sys.exit(1)


if __name__ == "__main__":
    main()
