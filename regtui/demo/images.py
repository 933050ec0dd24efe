"""Deterministic sample images for ``regtui demo``.

The demo store is generated on first use and cached. It must be byte-identical on every
machine and run (tests and screenshots pin digests), so everything is derived from fixed
labels: seeded ``random.Random`` data, fixed timestamps, fixed tar metadata, and a gzip
writer of our own (see :func:`deterministic_gzip`).

On disk the store is an OCI image layout (``oci-layout``, ``index.json``,
``blobs/sha256/…``; manifests are blobs too) plus ``demo.json``, which records the
repositories, their tags, every manifest's media type and what each repository links, so
that loading it needs no parsing of manifests.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import heapq
import io
import json
import random
import re
import shutil
import struct
import tarfile
import tempfile
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

__all__ = [
    "DEMO_EPOCH",
    "DOCKER_CONFIG",
    "DOCKER_LAYER_GZIP",
    "DOCKER_LIST_REPO",
    "DOCKER_MANIFEST",
    "DOCKER_MANIFEST_LIST",
    "GENERATOR_VERSION",
    "IN_TOTO",
    "MANIFEST_MEDIA_TYPES",
    "MANY_TAGS_REPO",
    "MULTI_ARCH_REPO",
    "OCI_CONFIG",
    "OCI_INDEX",
    "OCI_LAYER_GZIP",
    "OCI_LAYER_TAR",
    "OCI_MANIFEST",
    "SINGLE_PLATFORM_REPO",
    "TAG_SORT_REPO",
    "DemoStore",
    "DemoStoreError",
    "default_cache_dir",
    "deterministic_gzip",
    "ensure_demo_store",
    "generate_demo_store",
    "is_digest",
]

#: Bump whenever the generated content changes: the cache directory is named after it,
#: so an old store is never mistaken for the current one.
GENERATOR_VERSION = 1

#: The newest timestamp in the store; everything else is dated relative to it.
DEMO_EPOCH = datetime(2026, 3, 14, 9, 26, 53, tzinfo=UTC)

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
IN_TOTO = "application/vnd.in-toto+json"
COSIGN_SIG_CONFIG = "application/vnd.dev.cosign.artifact.sig.v1+json"
COSIGN_SIMPLESIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"

#: Media types the store serves from the manifests endpoint.
MANIFEST_MEDIA_TYPES = frozenset({OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST_LIST, DOCKER_MANIFEST})

#: Repositories with a notable shape, for tests, docs and screenshots.
MULTI_ARCH_REPO = "acme/webapp"  # OCI index, 4 platforms + BuildKit attestations
DOCKER_LIST_REPO = "acme/worker"  # Docker manifest list of schema 2 manifests
TAG_SORT_REPO = "acme/api"  # 1.2, 1.9, 1.10, 2.0.0-rc1, latest, sha256-….sig
SINGLE_PLATFORM_REPO = "tools/cli"  # single-platform OCI image with a large layer
MANY_TAGS_REPO = "ci/nightly"  # 151 tags, for pagination

_STORE_FILE = "demo.json"
_DIGEST_RE = re.compile(r"sha256:[0-9a-f]{64}")

JSON = dict[str, Any]


class DemoStoreError(RuntimeError):
    """The demo store could not be created or loaded."""


def is_digest(value: str) -> bool:
    """Whether ``value`` is a canonical ``sha256:<64 lowercase hex>`` digest."""
    return _DIGEST_RE.fullmatch(value) is not None


def default_cache_dir() -> Path:
    """Where ``ensure_demo_store`` keeps the store when no directory is given."""
    from regtui import locations  # platformdirs, and the REGTUI_CACHE_DIR override

    return locations.cache_dir() / f"demo-v{GENERATOR_VERSION}"


# --------------------------------------------------------------------------------------
# The store as loaded from disk
# --------------------------------------------------------------------------------------


class DemoStore:
    """A generated demo store, loaded read-only.

    Repositories map tags to manifest digests; manifests are kept in memory with their media
    types; blobs (configs and layers) stay on disk, see :meth:`blob_path`. Each repository
    links only the manifests and blobs reachable from its tags, like a real registry.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        try:
            meta = json.loads((self.root / _STORE_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DemoStoreError(f"no demo store in {self.root}: {exc}") from exc
        if meta.get("generator") != GENERATOR_VERSION:
            raise DemoStoreError(f"{self.root} holds a demo store of another generator version")
        self._tags: dict[str, dict[str, str]] = {
            repo: dict(info["tags"]) for repo, info in meta["repositories"].items()
        }
        self._repo_manifests = {
            repo: frozenset(info["manifests"]) for repo, info in meta["repositories"].items()
        }
        self._repo_blobs = {
            repo: frozenset(info["blobs"]) for repo, info in meta["repositories"].items()
        }
        self._blob_sizes: dict[str, int] = dict(meta["blobs"])
        self._manifests: dict[str, tuple[str, bytes]] = {}
        for digest, media_type in meta["manifests"].items():
            data = self._path(digest).read_bytes()
            self._manifests[digest] = (media_type, data)

    def _path(self, digest: str) -> Path:
        return self.root / "blobs" / "sha256" / digest.removeprefix("sha256:")

    def repositories(self) -> list[str]:
        """All repository names, sorted."""
        return sorted(self._tags)

    def has_repository(self, repo: str) -> bool:
        """Whether ``repo`` exists in the store."""
        return repo in self._tags

    def tags(self, repo: str) -> list[str]:
        """Tags of ``repo``, sorted lexically; ``KeyError`` for an unknown repository."""
        return sorted(self._tags[repo])

    def tag_map(self, repo: str) -> dict[str, str]:
        """Tag → manifest digest for ``repo``; ``KeyError`` for an unknown repository."""
        return dict(self._tags[repo])

    def resolve(self, repo: str, reference: str) -> str | None:
        """The manifest digest of a tag or digest in ``repo``, or ``None`` if not there."""
        if repo not in self._tags:
            return None
        if reference.startswith("sha256:"):
            return reference if reference in self._repo_manifests[repo] else None
        return self._tags[repo].get(reference)

    def manifest(self, digest: str) -> tuple[str, bytes]:
        """``(media type, exact bytes)`` of a manifest; ``KeyError`` if unknown."""
        return self._manifests[digest]

    def manifest_digests(self, repo: str | None = None) -> frozenset[str]:
        """Manifests linked in ``repo`` (tagged ones and their children), or all of them."""
        if repo is None:
            return frozenset(self._manifests)
        return self._repo_manifests[repo]

    def blob_digests(self, repo: str | None = None) -> frozenset[str]:
        """Blobs (configs and layers) linked in ``repo``, or all of them."""
        if repo is None:
            return frozenset(self._blob_sizes)
        return self._repo_blobs[repo]

    def blob_path(self, digest: str) -> Path:
        """File holding a config or layer blob; ``KeyError`` if it is not one."""
        if digest not in self._blob_sizes:
            raise KeyError(digest)
        return self._path(digest)

    def blob_size(self, digest: str) -> int:
        """Size in bytes of a config or layer blob; ``KeyError`` if it is not one."""
        return self._blob_sizes[digest]

    def total_size(self) -> int:
        """Bytes of all blobs and manifests (what the store occupies, give or take)."""
        return sum(self._blob_sizes.values()) + sum(len(m) for _, m in self._manifests.values())


def ensure_demo_store(cache_dir: Path | None = None) -> DemoStore:
    """Load the demo store from ``cache_dir``, generating it there first if needed.

    ``cache_dir`` defaults to :func:`default_cache_dir`. Generation writes a sibling
    temporary directory and renames it into place, so an interrupted first run never leaves
    a half-written store behind, and two processes racing both end up with one good store.
    """
    target = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    if (target / _STORE_FILE).is_file():
        return DemoStore(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    _sweep_partials(target)
    if target.exists() and any(target.iterdir()):
        raise DemoStoreError(f"{target} exists and is not a demo store; remove it or pick another")
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent))
    try:
        generate_demo_store(tmp)
        with contextlib.suppress(FileNotFoundError, OSError):
            target.rmdir()  # an empty placeholder (e.g. a test's tmp dir); rename needs it gone
        try:
            tmp.rename(target)
        except OSError:
            if not (target / _STORE_FILE).is_file():  # not just another process winning
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return DemoStore(target)


def _sweep_partials(target: Path) -> None:
    """Remove temporary directories that killed runs left behind (older than an hour)."""
    cutoff = time.time() - 3600
    for partial in target.parent.glob(f".{target.name}.*.partial"):
        with contextlib.suppress(OSError):
            if partial.stat().st_mtime < cutoff:
                shutil.rmtree(partial)


# --------------------------------------------------------------------------------------
# Deterministic gzip
# --------------------------------------------------------------------------------------
#
# ``gzip.compress`` is deterministic only for one zlib build: zlib, zlib-ng and other
# deflate implementations choose different matches and block splits, so the same tar would
# get different layer digests on different machines. So deflate is written here with two
# block kinds whose output follows from the input alone:
# * stored blocks for incompressible data (the big random "binaries" and "images");
# * Huffman-only blocks (dynamic codes, literals only, no LZ77 matches) for text, about
#   what zlib's Z_HUFFMAN_ONLY strategy gives.
# Every decision uses integers, so nothing depends on the platform's floating point.

# Deflate's fixed order of the code-length code lengths (RFC 1951, 3.2.7).
_CL_ORDER = (16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15)
_CHUNK = 65535  # one block per chunk; the largest stored block
_SAMPLE = 4096  # a chunk whose first bytes use few distinct values is worth a Huffman try
_MAX_DISTINCT = 200
# gzip header: magic, CM=deflate, no flags, MTIME=0, XFL=0, OS=255 (unknown).
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"


def _huffman_lengths(freqs: list[int], limit: int) -> list[int]:
    """Huffman code lengths (0 = unused symbol), none longer than ``limit`` bits."""
    freqs = list(freqs)
    used = [i for i, f in enumerate(freqs) if f]
    if len(used) < 2:  # a deflate code needs two symbols to be complete
        freqs[1 if used == [0] else 0] = 1
    while True:
        heap: list[tuple[int, int, tuple[int, ...]]] = [
            (f, i, (i,)) for i, f in enumerate(freqs) if f
        ]
        heapq.heapify(heap)
        lengths = [0] * len(freqs)
        order = len(freqs)  # tie-breaker after the leaves keeps the tree deterministic
        while len(heap) > 1:
            f1, _, s1 = heapq.heappop(heap)
            f2, _, s2 = heapq.heappop(heap)
            for symbol in s1 + s2:
                lengths[symbol] += 1
            heapq.heappush(heap, (f1 + f2, order, s1 + s2))
            order += 1
        if max(lengths) <= limit:
            return lengths
        freqs = [(f + 1) // 2 for f in freqs]  # too deep: flatten and rebuild


def _canonical_codes(lengths: list[int]) -> list[str]:
    """Canonical codes (RFC 1951, 3.2.2) as bit strings, most significant bit first."""
    max_len = max(lengths)
    bl_count = [0] * (max_len + 1)
    for n in lengths:
        if n:
            bl_count[n] += 1
    next_code = [0] * (max_len + 1)
    code = 0
    for bits in range(1, max_len + 1):
        code = (code + bl_count[bits - 1]) << 1
        next_code[bits] = code
    codes: list[str] = []
    for n in lengths:
        if n:
            codes.append(format(next_code[n], f"0{n}b"))
            next_code[n] += 1
        else:
            codes.append("")
    return codes


def _lsb(value: int, width: int) -> str:
    """A header field's bits in emission order (deflate packs fields LSB first)."""
    return format(value, f"0{width}b")[::-1]


def _huffman_block(chunk: bytes, final: bool) -> str:
    """Bits, in emission order, of a dynamic-Huffman block holding ``chunk`` as literals."""
    counts = [0] * 257
    for byte, count in Counter(chunk).items():
        counts[byte] = count
    counts[256] = 1  # end of block
    lit_lengths = _huffman_lengths(counts, 15)
    # No matches are emitted, but decoders want a distance code: two 1-bit codes, as zlib does.
    all_lengths = [*lit_lengths, 1, 1]
    cl_freqs = [0] * 19
    for n in all_lengths:
        cl_freqs[n] += 1
    cl_lengths = _huffman_lengths(cl_freqs, 7)
    cl_codes = _canonical_codes(cl_lengths)
    hclen = 19
    while hclen > 4 and cl_lengths[_CL_ORDER[hclen - 1]] == 0:
        hclen -= 1
    lit_codes = _canonical_codes(lit_lengths)
    parts = [
        "1" if final else "0",
        _lsb(2, 2),  # BTYPE=10: dynamic Huffman
        _lsb(0, 5),  # HLIT: 257 literal/length codes
        _lsb(1, 5),  # HDIST: 2 distance codes
        _lsb(hclen - 4, 4),
    ]
    parts.extend(_lsb(cl_lengths[symbol], 3) for symbol in _CL_ORDER[:hclen])
    parts.extend(cl_codes[n] for n in all_lengths)
    parts.append("".join(map(lit_codes.__getitem__, chunk)))
    parts.append(lit_codes[256])
    return "".join(parts)


def _pack(bits: str) -> bytes:
    """Pack an emission-order bit string of whole bytes (first bit = least significant)."""
    if not bits:
        return b""
    return int(bits[::-1], 2).to_bytes(len(bits) // 8, "little")


def deterministic_gzip(data: bytes) -> bytes:
    """Gzip ``data`` into bytes that depend on ``data`` alone, whatever the zlib build."""
    out = bytearray(_GZIP_HEADER)
    pending = ""  # bits not yet packed into whole bytes
    size = len(data)
    for start in range(0, max(size, 1), _CHUNK):
        chunk = data[start : start + _CHUNK]
        final = start + _CHUNK >= size
        if chunk and len(set(chunk[:_SAMPLE])) < _MAX_DISTINCT:
            bits = _huffman_block(chunk, final)
            if len(bits) < 8 * len(chunk) + 32:
                pending += bits
                cut = len(pending) - len(pending) % 8
                out += _pack(pending[:cut])
                pending = pending[cut:]
                continue
        # Stored block: 3 header bits, pad to a byte boundary, then LEN, NLEN and the bytes.
        pending += ("1" if final else "0") + "00"
        pending += "0" * (-len(pending) % 8)
        out += _pack(pending)
        pending = ""
        out += struct.pack("<HH", len(chunk), len(chunk) ^ 0xFFFF)
        out += chunk
    pending += "0" * (-len(pending) % 8)
    out += _pack(pending)
    out += struct.pack("<II", zlib.crc32(data), size & 0xFFFFFFFF)
    return bytes(out)


# --------------------------------------------------------------------------------------
# Building blocks: files, tars, layers, images
# --------------------------------------------------------------------------------------


def _ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _rng(*labels: object) -> random.Random:
    # A string seed is hashed with SHA-512 by ``random``: stable across versions and machines.
    return random.Random("/".join(str(label) for label in labels))


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class _Entry:
    """One tar entry: a regular file, a directory (``is_dir``) or a symlink (``link``)."""

    path: str
    data: bytes = b""
    mode: int = 0o644
    link: str | None = None
    is_dir: bool = False


def _dir(path: str, mode: int = 0o755) -> _Entry:
    return _Entry(path, mode=mode, is_dir=True)


def _file(path: str, data: bytes | str, mode: int = 0o644) -> _Entry:
    return _Entry(path, data.encode() if isinstance(data, str) else data, mode)


def _symlink(path: str, target: str) -> _Entry:
    return _Entry(path, mode=0o777, link=target)


def _tar(entries: Iterable[_Entry], mtime: int) -> bytes:
    """A tar of ``entries`` with fixed metadata; missing parent directories are added first."""
    buf = io.BytesIO()
    seen: set[str] = set()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:

        def add(entry: _Entry) -> None:
            info = tarfile.TarInfo(entry.path)
            info.mtime = mtime
            info.mode = entry.mode
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            if entry.is_dir:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif entry.link is not None:
                info.type = tarfile.SYMTYPE
                info.linkname = entry.link
                tar.addfile(info)
            else:
                info.size = len(entry.data)
                tar.addfile(info, io.BytesIO(entry.data))

        for entry in entries:
            parts = entry.path.split("/")
            for i in range(1, len(parts)):
                parent = "/".join(parts[:i])
                if parent not in seen:
                    seen.add(parent)
                    add(_dir(parent))
            if entry.path in seen:  # a directory already added as someone's parent
                continue
            seen.add(entry.path)
            add(entry)
    return buf.getvalue()


# Word soup for text files: compressible like real text, cheap to make.
_WORD_SOUP = (
    "the a of to and in is for on with as by at from value return if else def class import "
    "self config request response handler error status queue worker index layer digest "
    "manifest registry token cache buffer stream client server route static asset module "
    "export function const let async await yield true false none null 0 1 2 8 16 64 200 404 "
    "= == != ( ) { } [ ] : ; , . -> => + - * / # // <div> </div> <p> </p> http https"
)
_WORDS = tuple(_WORD_SOUP.split())


def _text(label: str, size: int) -> str:
    """About ``size`` bytes of line-structured text, seeded by ``label``."""
    rng = _rng("text", label)
    words = rng.choices(_WORDS, k=max(1, size // 5))
    lines = []
    for i in range(0, len(words), 9):
        indent = "    " * rng.randrange(3)
        lines.append(indent + " ".join(words[i : i + 9]))
    return ("\n".join(lines) + "\n")[:size]


# ELF class, byte order, e_machine per architecture: enough for `file` to recognise them.
_ELF = {
    "amd64": (2, "<", 0x3E),
    "arm64": (2, "<", 0xB7),
    "arm": (1, "<", 0x28),
    "ppc64le": (2, "<", 0x15),
    "s390x": (2, ">", 0x16),
}


def _binary(label: str, arch: str, size: int) -> bytes:
    """A fake executable: an ELF identification for ``arch`` followed by random bytes."""
    elf_class, order, machine = _ELF[arch]
    header = b"\x7fELF" + bytes([elf_class, 1 if order == "<" else 2, 1, 0]) + bytes(8)
    header += struct.pack(order + "HHI", 3, machine, 1)
    return header + _rng("binary", label, arch).randbytes(max(0, size - len(header)))


@dataclass(frozen=True)
class _Layer:
    digest: str
    size: int
    diff_id: str
    gzip: bool

    def descriptor(self, docker: bool) -> JSON:
        if docker:
            media_type = (
                DOCKER_LAYER_GZIP if self.gzip else "application/vnd.docker.image.rootfs.diff.tar"
            )
            return {"mediaType": media_type, "size": self.size, "digest": self.digest}
        media_type = OCI_LAYER_GZIP if self.gzip else OCI_LAYER_TAR
        return {"mediaType": media_type, "digest": self.digest, "size": self.size}


@dataclass(frozen=True)
class _Desc:
    """A stored manifest."""

    media_type: str
    digest: str
    size: int

    def descriptor(self, **extra: Any) -> JSON:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size, **extra}


@dataclass(frozen=True)
class _Step:
    """One Dockerfile step: a history entry, with its layer unless it is an empty layer."""

    created_by: str
    at: datetime
    layer: _Layer | None = None
    buildkit: bool = False


@dataclass(frozen=True)
class _Platform:
    os: str
    architecture: str
    variant: str | None = None

    def json(self) -> JSON:
        out: JSON = {"architecture": self.architecture, "os": self.os}
        if self.variant:
            out["variant"] = self.variant
        return out

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


AMD64 = _Platform("linux", "amd64")
ARM64 = _Platform("linux", "arm64", "v8")
ARMV7 = _Platform("linux", "arm", "v7")
PPC64LE = _Platform("linux", "ppc64le")
S390X = _Platform("linux", "s390x")


class _Writer:
    """Collects blobs and manifests into a store directory and records what links what."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.blob_dir = root / "blobs" / "sha256"
        self.blob_dir.mkdir(parents=True, exist_ok=True)
        self.blob_sizes: dict[str, int] = {}
        self.manifest_types: dict[str, str] = {}
        self.child_manifests: dict[str, list[str]] = {}
        self.child_blobs: dict[str, list[str]] = {}
        self.tags: dict[str, dict[str, str]] = {}
        self.layers: dict[str, _Layer] = {}

    def _write(self, data: bytes) -> str:
        digest = _sha256(data)
        path = self.blob_dir / digest.removeprefix("sha256:")
        if not path.exists():
            path.write_bytes(data)
        return digest

    def blob(self, data: bytes) -> str:
        digest = self._write(data)
        self.blob_sizes[digest] = len(data)
        return digest

    def layer(
        self, key: str, entries: Callable[[], Iterable[_Entry]], at: datetime, gzip: bool = True
    ) -> _Layer:
        """The layer named ``key``, built once from ``entries`` (a tar, gzip'd unless told)."""
        if key not in self.layers:
            tar = _tar(entries(), int(at.timestamp()))
            data = deterministic_gzip(tar) if gzip else tar
            self.layers[key] = _Layer(self.blob(data), len(data), _sha256(tar), gzip)
        return self.layers[key]

    def manifest(
        self,
        doc: JSON,
        *,
        manifests: Sequence[str] = (),
        blobs: Sequence[str] = (),
        indent: int = 2,
    ) -> _Desc:
        data = json.dumps(doc, indent=indent).encode()
        digest = self._write(data)
        self.manifest_types[digest] = doc["mediaType"]
        self.child_manifests[digest] = list(manifests)
        self.child_blobs[digest] = list(blobs)
        return _Desc(doc["mediaType"], digest, len(data))

    def tag(self, repo: str, tags: Iterable[str], desc: _Desc) -> None:
        for tag in tags:
            self.tags.setdefault(repo, {})[tag] = desc.digest

    def finish(self) -> None:
        """Write ``demo.json`` and the OCI layout files."""
        repos: JSON = {}
        for repo in sorted(self.tags):
            manifests: set[str] = set()
            stack = list(self.tags[repo].values())
            while stack:
                digest = stack.pop()
                if digest not in manifests:
                    manifests.add(digest)
                    stack.extend(self.child_manifests[digest])
            blobs = {b for m in manifests for b in self.child_blobs[m]}
            repos[repo] = {
                "tags": dict(sorted(self.tags[repo].items())),
                "manifests": sorted(manifests),
                "blobs": sorted(blobs),
            }
        meta = {
            "generator": GENERATOR_VERSION,
            "repositories": repos,
            "manifests": dict(sorted(self.manifest_types.items())),
            "blobs": dict(sorted(self.blob_sizes.items())),
        }
        (self.root / _STORE_FILE).write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
        layout_index = {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {
                    "mediaType": self.manifest_types[digest],
                    "digest": digest,
                    "size": (self.blob_dir / digest.removeprefix("sha256:")).stat().st_size,
                    "annotations": {"org.opencontainers.image.ref.name": f"{repo}:{tag}"},
                }
                for repo in sorted(self.tags)
                for tag, digest in sorted(self.tags[repo].items())
            ],
        }
        (self.root / "index.json").write_text(json.dumps(layout_index, indent=2) + "\n")
        (self.root / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')


def _image(
    w: _Writer,
    platform: _Platform,
    steps: Sequence[_Step],
    config: JSON,
    *,
    docker: bool = False,
    annotations: dict[str, str] | None = None,
) -> _Desc:
    """Write an image config and manifest for ``steps`` (the image's whole history)."""
    layers = [s.layer for s in steps if s.layer is not None]
    history: list[JSON] = []
    for step in steps:
        entry: JSON = {"created": _ts(step.at), "created_by": step.created_by}
        if step.buildkit:
            entry["comment"] = "buildkit.dockerfile.v0"
        if step.layer is None:
            entry["empty_layer"] = True
        history.append(entry)
    cfg: JSON = {"created": _ts(steps[-1].at), **platform.json(), "config": config}
    cfg["rootfs"] = {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]}
    cfg["history"] = history
    cfg_bytes = json.dumps(cfg, separators=(",", ":")).encode()
    cfg_digest = w.blob(cfg_bytes)
    blobs = [cfg_digest, *(layer.digest for layer in layers)]
    if docker:
        doc: JSON = {
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST,
            "config": {"mediaType": DOCKER_CONFIG, "size": len(cfg_bytes), "digest": cfg_digest},
            "layers": [layer.descriptor(docker=True) for layer in layers],
        }
        return w.manifest(doc, blobs=blobs, indent=3)  # docker push indents by three
    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": cfg_digest, "size": len(cfg_bytes)},
        "layers": [layer.descriptor(docker=False) for layer in layers],
    }
    if annotations:
        doc["annotations"] = annotations
    return w.manifest(doc, blobs=blobs)


def _index(
    w: _Writer,
    entries: Sequence[tuple[_Desc, JSON, dict[str, str] | None]],
    *,
    docker: bool = False,
    annotations: dict[str, str] | None = None,
) -> _Desc:
    """Write an OCI index (or a Docker manifest list) of ``(manifest, platform, annotations)``."""
    manifests = []
    for desc, platform, entry_annotations in entries:
        if docker:
            item: JSON = {"mediaType": desc.media_type, "size": desc.size, "digest": desc.digest}
        else:
            item = desc.descriptor()
            if entry_annotations:
                item["annotations"] = entry_annotations
        item["platform"] = platform
        manifests.append(item)
    media_type = DOCKER_MANIFEST_LIST if docker else OCI_INDEX
    doc: JSON = {"schemaVersion": 2, "mediaType": media_type, "manifests": manifests}
    if annotations:
        doc["annotations"] = annotations
    return w.manifest(
        doc, manifests=[desc.digest for desc, _, _ in entries], indent=3 if docker else 2
    )


# --------------------------------------------------------------------------------------
# The sample content
# --------------------------------------------------------------------------------------

# A made-up distribution ("Pebble Linux") is the base of every image.
_PEBBLE_PACKAGES = (
    ("pebble-baselayout", "3.20.1-r0"),
    ("toolbox", "1.36.1-r2"),
    ("libc-pebble", "1.2.5-r1"),
    ("libcrypt0", "3.3.1-r0"),
    ("libtls", "3.3.1-r0"),
    ("zlib-lite", "1.3.1-r0"),
    ("ca-bundle", "20250911-r0"),
    ("pk-tools", "2.14.4-r1"),
)
_ARCH_SCALE = {"amd64": 100, "arm64": 92, "arm": 78, "ppc64le": 104, "s390x": 110}
_APPLETS = ("sh", "ls", "cat", "cp", "mv", "rm", "mkdir", "echo", "grep", "sed", "tar", "vi")
_PEBBLE_ENV = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]


def _pebble_rootfs(version: str, arch: str, scale: int) -> list[_Entry]:
    """A small root filesystem; ``scale`` (percent) sizes its binaries."""

    def kb(n: int) -> int:
        return n * 1024 * scale * _ARCH_SCALE[arch] // 10000

    label = f"pebble-{version}"
    installed = "".join(f"P:{name}\nV:{ver}\nA:{arch}\n\n" for name, ver in _PEBBLE_PACKAGES)
    entries = [
        _file(
            "etc/os-release",
            f'NAME="Pebble Linux"\nID=pebble\nVERSION_ID={version}\n'
            f'PRETTY_NAME="Pebble Linux v{version.rsplit(".", 1)[0]}"\n'
            'HOME_URL="https://pebble.example.org/"\n',
        ),
        _file("etc/hostname", "pebble\n"),
        _file("etc/shells", "/bin/sh\n"),
        _file(
            "etc/passwd",
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n",
        ),
        _file("etc/group", "root:x:0:root\nnobody:x:65534:\n"),
        _file("etc/shadow", "root:*::0:::::\nnobody:!::0:::::\n", 0o640),
        _file("etc/profile", _text(f"{label}/profile", 900)),
        _file("etc/pk/arch", f"{arch}\n"),
        _file("etc/pk/repositories", f"https://pkgs.pebble.example.org/v{version[:4]}/main\n"),
        _file("etc/pk/world", "".join(f"{name}\n" for name, _ in _PEBBLE_PACKAGES)),
        _file("bin/toolbox", _binary(f"{label}/toolbox", arch, kb(820)), 0o755),
        *(_symlink(f"bin/{applet}", "/bin/toolbox") for applet in _APPLETS),
        _file("sbin/pk", _binary(f"{label}/pk", arch, kb(210)), 0o755),
        _symlink("sbin/init", "/bin/toolbox"),
        _file("lib/ld-pebble.so.1", _binary(f"{label}/ld", arch, kb(540)), 0o755),
        _symlink("lib/libc.so.6", "ld-pebble.so.1"),
        _file("lib/pk/db/installed", installed),
        _file("usr/lib/libcrypt0.so.3", _binary(f"{label}/crypt", arch, kb(880)), 0o755),
        _file("usr/lib/libtls.so.3", _binary(f"{label}/tls", arch, kb(340)), 0o755),
        _file("usr/lib/libz.so.1", _binary(f"{label}/z", arch, kb(90)), 0o755),
        _file(
            "usr/share/ca-certificates/bundle.pem",
            base64.encodebytes(_rng(label, "certs").randbytes(kb(150))),
        ),
        _file("var/cache/pk/INDEX.lst", _text(f"{label}/index", 60_000)),
        _dir("dev"),
        _dir("home"),
        _dir("mnt"),
        _dir("opt"),
        _dir("proc", 0o555),
        _dir("root", 0o700),
        _dir("run"),
        _dir("srv"),
        _dir("sys", 0o555),
        _dir("tmp", 0o1777),
        _dir("usr/local/bin"),
        _dir("var/log"),
        _dir("var/tmp", 0o1777),
    ]
    return entries


_PEBBLE_RELEASES = {
    "3.20.1": DEMO_EPOCH - timedelta(days=41, hours=3),
    "3.19.4": DEMO_EPOCH - timedelta(days=301, hours=7),
}


def _pebble_steps(w: _Writer, version: str, platform: _Platform) -> list[_Step]:
    """The history of a Pebble base image, as ``docker build`` of old wrote it."""
    at = _PEBBLE_RELEASES[version]
    scale = 100 if version.startswith("3.20") else 55
    arch = platform.architecture
    layer = w.layer(f"pebble-{version}-{arch}", lambda: _pebble_rootfs(version, arch, scale), at)
    return [
        _Step(f"/bin/sh -c #(nop) ADD file:{layer.diff_id[7:71]} in / ", at, layer),
        _Step('/bin/sh -c #(nop)  CMD ["/bin/sh"]', at + timedelta(seconds=1)),
    ]


def _pebble_config() -> JSON:
    return {"Env": list(_PEBBLE_ENV), "Cmd": ["/bin/sh"]}


def _build_pebble(w: _Writer) -> None:
    at = _PEBBLE_RELEASES["3.20.1"]
    platforms = (AMD64, ARM64, ARMV7, PPC64LE, S390X)
    entries = []
    for platform in platforms:
        steps = _pebble_steps(w, "3.20.1", platform)
        entries.append((_image(w, platform, steps, _pebble_config()), platform.json(), None))
    index = _index(
        w, entries, annotations={"org.opencontainers.image.created": _ts(at + timedelta(seconds=1))}
    )
    w.tag("library/pebble", ("3.20.1", "3.20", "3", "latest"), index)
    # An older release that was built for amd64 only: a tag of the same repo with no index.
    old = _image(w, AMD64, _pebble_steps(w, "3.19.4", AMD64), _pebble_config())
    w.tag("library/pebble", ("3.19.4", "3.19"), old)


def _attestation(
    w: _Writer,
    repo: str,
    version: str,
    image: _Desc,
    platform: _Platform,
    at: datetime,
    packages: Sequence[tuple[str, str]],
) -> _Desc:
    """A BuildKit attestation manifest (SBOM + provenance) for one platform image."""
    arch = platform.architecture
    subject = [
        {
            "name": f"pkg:docker/{repo}@{version}?platform={str(platform).replace('/', '%2F')}",
            "digest": {"sha256": image.digest.removeprefix("sha256:")},
        }
    ]
    sbom = {
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": "https://spdx.dev/Document",
        "subject": subject,
        "predicate": {
            "spdxVersion": "SPDX-2.3",
            "dataLicense": "CC0-1.0",
            "SPDXID": "SPDXRef-DOCUMENT",
            "name": f"{repo}:{version}",
            "creationInfo": {"created": _ts(at), "creators": ["Tool: regtui-demo"]},
            "packages": [
                {
                    "name": name,
                    "SPDXID": f"SPDXRef-Package-{i}",
                    "versionInfo": ver,
                    "downloadLocation": "NOASSERTION",
                    "externalRefs": [
                        {
                            "referenceCategory": "PACKAGE-MANAGER",
                            "referenceType": "purl",
                            "referenceLocator": f"pkg:pebble/{name}@{ver}?arch={arch}",
                        }
                    ],
                }
                for i, (name, ver) in enumerate(packages)
            ],
        },
    }
    provenance = {
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": "https://slsa.dev/provenance/v0.2",
        "subject": subject,
        "predicate": {
            "builder": {"id": "https://ci.example.com/acme/webapp/actions/runs/4815162342"},
            "buildType": "https://mobyproject.org/buildkit@v1",
            "invocation": {
                "configSource": {"entryPoint": "Dockerfile"},
                "parameters": {"frontend": "dockerfile.v0", "args": {"platform": str(platform)}},
            },
            "metadata": {
                "buildStartedOn": _ts(at - timedelta(minutes=4)),
                "buildFinishedOn": _ts(at),
                "completeness": {"parameters": True, "environment": True, "materials": False},
                "reproducible": False,
            },
        },
    }
    layers: list[JSON] = []
    for statement in (sbom, provenance):
        data = json.dumps(statement, indent=2).encode()
        layers.append(
            {
                "mediaType": IN_TOTO,
                "digest": w.blob(data),
                "size": len(data),
                "annotations": {"in-toto.io/predicate-type": statement["predicateType"]},
            }
        )
    cfg = {
        "architecture": "unknown",
        "os": "unknown",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": [layer["digest"] for layer in layers]},
    }
    cfg_bytes = json.dumps(cfg, separators=(",", ":")).encode()
    cfg_digest = w.blob(cfg_bytes)
    doc: JSON = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": cfg_digest, "size": len(cfg_bytes)},
        "layers": layers,
    }
    return w.manifest(doc, blobs=[cfg_digest, *(layer["digest"] for layer in layers)])


def _build_webapp(w: _Writer) -> None:
    """A multi-arch OCI index with BuildKit attestations; platforms share their app layers."""
    repo, version = MULTI_ARCH_REPO, "1.4.2"
    at = DEMO_EPOCH - timedelta(days=2, hours=5, minutes=17)

    def runtime(arch: str) -> list[_Entry]:
        scale = _ARCH_SCALE[arch]
        return [
            _file("usr/bin/lumen", _binary("lumen", arch, 5200 * 1024 * scale // 100), 0o755),
            *(
                _file(f"usr/lib/lumen/std/{name}.lm", _text(f"lumen-std/{name}", 30_000))
                for name in (
                    "core",
                    "io",
                    "net",
                    "http",
                    "json",
                    "time",
                    "fs",
                    "crypto",
                    "log",
                    "re",
                )
            ),
            _file("sbin/tini", _binary("tini", arch, 40 * 1024), 0o755),
            _file("etc/pk/world", "".join(f"{n}\n" for n, _ in _PEBBLE_PACKAGES) + "lumen\ntini\n"),
            _file("var/cache/pk/.wh..wh..opq", b""),  # `rm -rf /var/cache/pk/*`
        ]

    def deps() -> list[_Entry]:
        names = [
            f"{a}-{b}"
            for a in ("fast", "tiny", "web", "data")
            for b in ("router", "json", "log", "pool", "csv", "auth", "cache")
        ]
        out = [_file("srv/app/lumen.lock", _text("webapp/lock", 30_000))]
        for name in names:
            out.append(_file(f"srv/app/modules/{name}/lib.lm", _text(f"webapp/mod/{name}", 25_000)))
        for name in names[:5]:
            out.append(
                _file(f"srv/app/modules/{name}/native.wasm", _rng("wasm", name).randbytes(50_000))
            )
        return out

    def static() -> list[_Entry]:
        rng = _rng("webapp", "static")
        out = [
            _file("srv/app/static/app.js", _text("webapp/js", 250_000)),
            _file("srv/app/static/app.css", _text("webapp/css", 60_000)),
        ]
        for i in range(12):
            size = 400_000 + rng.randrange(500_000)
            out.append(_file(f"srv/app/static/img/hero-{i:02d}.webp", rng.randbytes(size)))
        return out

    def source() -> list[_Entry]:
        out = [
            _file("srv/app/server.lm", _text("webapp/server", 8_000)),
            _file("srv/app/config/default.toml", 'listen = "0.0.0.0:8080"\nworkers = 4\n'),
        ]
        for name in ("index", "login", "logout", "api", "health", "admin", "search", "upload"):
            out.append(_file(f"srv/app/routes/{name}.lm", _text(f"webapp/route/{name}", 5_000)))
        return out

    labels = {
        "org.opencontainers.image.title": "webapp",
        "org.opencontainers.image.version": version,
        "org.opencontainers.image.source": "https://git.example.com/acme/webapp",
        "org.opencontainers.image.revision": "5f3c2a9e0d41b7c86e2f1a94d03b6c7e8a1f2d3b",
        "org.opencontainers.image.licenses": "Apache-2.0",
    }
    config: JSON = {
        "User": "10001:10001",
        "ExposedPorts": {"8080/tcp": {}},
        "Env": [*_PEBBLE_ENV, "LANG=C.UTF-8", "PORT=8080", "APP_ENV=production"],
        "Entrypoint": ["/sbin/tini", "--"],
        "Cmd": ["lumen", "server.lm"],
        "WorkingDir": "/srv/app",
        "Labels": labels,
    }
    packages = [*_PEBBLE_PACKAGES, ("lumen", "3.2.1-r0"), ("tini", "0.19.0-r3")]
    entries: list[tuple[_Desc, JSON, dict[str, str] | None]] = []
    attestations: list[tuple[_Desc, JSON, dict[str, str] | None]] = []
    # Step times, in seconds after ``at``.
    t_run, t_workdir, t_deps, t_static, t_src = (
        at + timedelta(seconds=s) for s in (38, 39, 45, 48, 49)
    )
    for platform in (AMD64, ARM64, ARMV7, PPC64LE):
        arch = platform.architecture
        steps = [
            *_pebble_steps(w, "3.20.1", platform),
            _Step("ENV LANG=C.UTF-8", at, buildkit=True),
            _Step(
                "RUN /bin/sh -c pk add --no-cache lumen=3.2.1-r0 tini && rm -rf /var/cache/pk/*"
                " # buildkit",
                t_run,
                w.layer(f"webapp-runtime-{arch}", functools.partial(runtime, arch), t_run),
                buildkit=True,
            ),
            _Step(
                "WORKDIR /srv/app",
                t_workdir,
                w.layer("webapp-workdir", lambda: [_dir("srv/app")], t_workdir),
                buildkit=True,
            ),
            _Step(
                "COPY lumen.lock modules/ ./ # buildkit",
                t_deps,
                w.layer("webapp-deps", deps, t_deps),
                buildkit=True,
            ),
            _Step(
                "COPY static/ ./static/ # buildkit",
                t_static,
                w.layer("webapp-static", static, t_static),
                buildkit=True,
            ),
            _Step(
                "COPY src/ ./ # buildkit",
                t_src,
                w.layer("webapp-src", source, t_src),
                buildkit=True,
            ),
            _Step("ENV PORT=8080 APP_ENV=production", t_src, buildkit=True),
            _Step("EXPOSE map[8080/tcp:{}]", t_src, buildkit=True),
            _Step("LABEL " + " ".join(f"{k}={v}" for k, v in labels.items()), t_src, buildkit=True),
            _Step("USER 10001:10001", t_src, buildkit=True),
            _Step('ENTRYPOINT ["/sbin/tini" "--"]', t_src, buildkit=True),
            _Step('CMD ["lumen" "server.lm"]', t_src, buildkit=True),
        ]
        image = _image(w, platform, steps, config)
        entries.append((image, platform.json(), None))
        att = _attestation(w, repo, version, image, platform, t_src, packages)
        attestations.append(
            (
                att,
                {"architecture": "unknown", "os": "unknown"},
                {
                    "vnd.docker.reference.digest": image.digest,
                    "vnd.docker.reference.type": "attestation-manifest",
                },
            )
        )
    index = _index(w, [*entries, *attestations])
    w.tag(repo, (version, "1.4", "1", "latest"), index)


def _build_worker(w: _Writer) -> None:
    """A Docker manifest list of Docker schema 2 images (amd64 and arm64)."""
    repo = DOCKER_LIST_REPO
    at = DEMO_EPOCH - timedelta(days=9, hours=22, minutes=4)
    config: JSON = {
        "User": "worker",
        "Env": [*_PEBBLE_ENV, "WORKER_QUEUE=default", "WORKER_CONCURRENCY=4"],
        "Entrypoint": ["/usr/local/bin/worker"],
        "Cmd": ["--queue", "default"],
        "WorkingDir": "/var/lib/worker",
        "Labels": {"com.example.team": "platform", "org.opencontainers.image.version": "2.3.0"},
    }

    def binaries(arch: str) -> list[_Entry]:
        scale = _ARCH_SCALE[arch]
        return [
            _file(
                "usr/local/bin/worker", _binary("worker", arch, 3300 * 1024 * scale // 100), 0o755
            ),
            _file("usr/lib/libqueue.so.2", _binary("libqueue", arch, 400 * 1024), 0o755),
        ]

    def user() -> list[_Entry]:
        return [
            _file(
                "etc/passwd",
                "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n"
                "worker:x:100:101:Linux User,,,:/var/lib/worker:/sbin/nologin\n",
            ),
            _file("etc/group", "root:x:0:root\nnobody:x:65534:\nworker:x:101:worker\n"),
            _dir("var/lib/worker"),
        ]

    def jobs() -> list[_Entry]:
        return [
            _file(f"etc/worker/jobs/{name}.toml", _text(f"worker/job/{name}", 4_000))
            for name in ("cleanup", "email", "thumbnails", "reindex", "billing", "export")
        ]

    entries: list[tuple[_Desc, JSON, dict[str, str] | None]] = []
    for platform in (AMD64, ARM64):
        arch = platform.architecture
        steps = [
            *_pebble_steps(w, "3.20.1", platform),
            _Step(
                "/bin/sh -c addgroup -S worker && adduser -S -G worker worker",
                at,
                w.layer("worker-user", user, at),
            ),
            _Step(
                "/bin/sh -c #(nop) COPY dir:9a1d0c3e2b7f4a5c in /usr/local/ ",
                at + timedelta(seconds=5),
                w.layer(
                    f"worker-bin-{arch}",
                    functools.partial(binaries, arch),
                    at + timedelta(seconds=5),
                ),
            ),
            _Step(
                "/bin/sh -c #(nop) COPY dir:0e8f27b1c4d6a3e5 in /etc/worker/jobs/ ",
                at + timedelta(seconds=6),
                w.layer("worker-jobs", jobs, at + timedelta(seconds=6)),
            ),
            _Step(
                "/bin/sh -c #(nop)  ENV WORKER_QUEUE=default WORKER_CONCURRENCY=4",
                at + timedelta(seconds=7),
            ),
            _Step("/bin/sh -c #(nop)  LABEL com.example.team=platform", at + timedelta(seconds=7)),
            _Step("/bin/sh -c #(nop) WORKDIR /var/lib/worker", at + timedelta(seconds=7)),
            _Step("/bin/sh -c #(nop)  USER worker", at + timedelta(seconds=8)),
            _Step(
                '/bin/sh -c #(nop)  ENTRYPOINT ["/usr/local/bin/worker"]', at + timedelta(seconds=8)
            ),
            _Step('/bin/sh -c #(nop)  CMD ["--queue" "default"]', at + timedelta(seconds=8)),
        ]
        image = _image(w, platform, steps, config, docker=True)
        entries.append((image, platform.json(), None))
    w.tag(repo, ("2.3.0", "2.3", "latest"), _index(w, entries, docker=True))


def _build_api(w: _Writer) -> None:
    """Single-platform releases whose tags sort badly, plus a cosign-style signature tag."""
    repo = TAG_SORT_REPO
    releases = (
        ("1.2", DEMO_EPOCH - timedelta(days=280, hours=2)),
        ("1.9", DEMO_EPOCH - timedelta(days=96, hours=6)),
        ("1.10", DEMO_EPOCH - timedelta(days=30, hours=1)),
        ("2.0.0-rc1", DEMO_EPOCH - timedelta(days=4, hours=9)),
    )
    descs: dict[str, _Desc] = {}
    for version, at in releases:

        def files(v: str = version) -> list[_Entry]:
            return [
                _file(
                    "usr/local/bin/api",
                    _binary(f"api-{v}", "amd64", 420 * 1024 + 7919 * len(v)),
                    0o755,
                ),
                _file("etc/api/openapi.yaml", _text(f"api/openapi/{v}", 30_000)),
                _file("etc/api/VERSION", f"{v}\n"),
            ]

        labels = {
            "org.opencontainers.image.version": version,
            "org.opencontainers.image.title": "api",
        }
        config: JSON = {
            "ExposedPorts": {"9000/tcp": {}},
            "Env": [*_PEBBLE_ENV, f"API_VERSION={version}"],
            "Entrypoint": ["/usr/local/bin/api"],
            "Cmd": ["serve", "--port=9000"],
            "WorkingDir": "/",
            "User": "nobody",
            "Labels": labels,
        }
        pebble_version = "3.20.1" if version.startswith("2") else "3.19.4"
        steps = [
            *_pebble_steps(w, pebble_version, AMD64),
            _Step(f"ENV API_VERSION={version}", at, buildkit=True),
            _Step(
                "COPY api openapi.yaml VERSION / # buildkit",
                at,
                w.layer(f"api-{version}", files, at),
                buildkit=True,
            ),
            _Step("EXPOSE map[9000/tcp:{}]", at, buildkit=True),
            _Step("LABEL " + " ".join(f"{k}={v}" for k, v in labels.items()), at, buildkit=True),
            _Step("USER nobody", at, buildkit=True),
            _Step('ENTRYPOINT ["/usr/local/bin/api"]', at, buildkit=True),
            _Step('CMD ["serve" "--port=9000"]', at, buildkit=True),
        ]
        descs[version] = _image(
            w,
            AMD64,
            steps,
            config,
            annotations={
                "org.opencontainers.image.created": _ts(at),
                "org.opencontainers.image.version": version,
            },
        )
        w.tag(repo, (version,), descs[version])
    latest = descs["1.10"]
    w.tag(repo, ("latest",), latest)

    # Cosign's tag scheme: the signature of sha256:<hex> is tagged sha256-<hex>.sig.
    payload = {
        "critical": {
            "identity": {"docker-reference": f"registry.example.com/{repo}"},
            "image": {"docker-manifest-digest": latest.digest},
            "type": "cosign container image signature",
        },
        "optional": {"creator": "regtui demo (not a real signature)"},
    }
    payload_bytes = json.dumps(payload, separators=(",", ":")).encode()
    signature = base64.b64encode(b"\x30\x45" + _rng("cosign", latest.digest).randbytes(69)).decode()
    sig_cfg = {
        "architecture": "",
        "created": "0001-01-01T00:00:00Z",
        "history": [{"created": "0001-01-01T00:00:00Z"}],
        "os": "",
        "rootfs": {"type": "layers", "diff_ids": [_sha256(payload_bytes)]},
        "config": {},
    }
    cfg_bytes = json.dumps(sig_cfg, separators=(",", ":")).encode()
    cfg_digest = w.blob(cfg_bytes)
    payload_digest = w.blob(payload_bytes)
    doc: JSON = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": COSIGN_SIG_CONFIG, "digest": cfg_digest, "size": len(cfg_bytes)},
        "layers": [
            {
                "mediaType": COSIGN_SIMPLESIGNING,
                "digest": payload_digest,
                "size": len(payload_bytes),
                "annotations": {"dev.cosignproject.cosign/signature": signature},
            }
        ],
    }
    sig = w.manifest(doc, blobs=[cfg_digest, payload_digest])
    w.tag(repo, (f"sha256-{latest.digest.removeprefix('sha256:')}.sig",), sig)


def _build_docs(w: _Writer) -> None:
    """A single-platform Docker schema 2 image."""
    at = DEMO_EPOCH - timedelta(days=13, hours=15, minutes=40)

    def site() -> list[_Entry]:
        pages = ("index", "install", "quickstart", "config", "api", "faq", "changelog", "about")
        out = [_file("usr/sbin/httpd-lite", _binary("httpd-lite", "amd64", 300 * 1024), 0o755)]
        for page in pages:
            out.append(_file(f"srv/www/{page}.html", _text(f"docs/{page}", 40_000)))
        out.append(_file("srv/www/search-index.json", _text("docs/search", 80_000)))
        return out

    steps = [
        *_pebble_steps(w, "3.20.1", AMD64),
        _Step(
            "/bin/sh -c #(nop) COPY dir:4b8e1f0a2c9d3e7f in /srv/www ",
            at,
            w.layer("docs-site", site, at),
        ),
        _Step("/bin/sh -c #(nop)  EXPOSE 8000", at + timedelta(seconds=1)),
        _Step(
            '/bin/sh -c #(nop)  CMD ["/usr/sbin/httpd-lite" "-f" "-p" "8000" "-h" "/srv/www"]',
            at + timedelta(seconds=1),
        ),
    ]
    config: JSON = {
        "ExposedPorts": {"8000/tcp": {}},
        "Env": list(_PEBBLE_ENV),
        "Cmd": ["/usr/sbin/httpd-lite", "-f", "-p", "8000", "-h", "/srv/www"],
        "WorkingDir": "",
        "Labels": {"org.opencontainers.image.title": "docs"},
    }
    desc = _image(w, AMD64, steps, config, docker=True)
    w.tag("acme/docs", ("2026.03", "latest"), desc)


def _build_cli(w: _Writer) -> None:
    """A single-platform OCI image with a large (24 MiB) incompressible layer."""
    repo = SINGLE_PLATFORM_REPO
    data_at = DEMO_EPOCH - timedelta(days=20, hours=4)

    def data() -> list[_Entry]:
        return [
            _file("usr/share/cli/rules.pack", _rng("cli", "rules").randbytes(24 * 1024 * 1024)),
            _file("usr/share/cli/README", _text("cli/readme", 3_000)),
        ]

    data_layer = w.layer("cli-data", data, data_at)
    latest = None
    for version, at in (
        ("0.9.0", DEMO_EPOCH - timedelta(days=19, hours=2)),
        ("0.9.1", DEMO_EPOCH - timedelta(days=1, hours=8)),
    ):

        def binary(v: str = version) -> list[_Entry]:
            return [
                _file("usr/local/bin/cli", _binary(f"cli-{v}", "amd64", 1150 * 1024), 0o755),
                _file(
                    "usr/share/bash-completion/completions/cli",
                    _text(f"cli/completion/{v}", 12_000),
                ),
            ]

        steps = [
            *_pebble_steps(w, "3.20.1", AMD64),
            _Step(
                "COPY rules.pack README /usr/share/cli/ # buildkit",
                data_at,
                data_layer,
                buildkit=True,
            ),
            _Step(
                "COPY cli /usr/local/bin/cli # buildkit",
                at,
                w.layer(f"cli-{version}", binary, at),
                buildkit=True,
            ),
            _Step('ENTRYPOINT ["/usr/local/bin/cli"]', at, buildkit=True),
            _Step('CMD ["--help"]', at, buildkit=True),
        ]
        config: JSON = {
            "Env": [*_PEBBLE_ENV, "CLI_DATA=/usr/share/cli"],
            "Entrypoint": ["/usr/local/bin/cli"],
            "Cmd": ["--help"],
            "WorkingDir": "/work",
            "Labels": {"org.opencontainers.image.version": version},
        }
        latest = _image(w, AMD64, steps, config)
        w.tag(repo, (version,), latest)
    assert latest is not None
    w.tag(repo, ("0.9", "latest"), latest)


def _build_debug_shell(w: _Writer) -> None:
    """A deeply nested name, with an uncompressed (plain tar) layer."""
    at = DEMO_EPOCH - timedelta(days=6, hours=11)

    def scripts() -> list[_Entry]:
        return [
            _file(f"usr/local/bin/{name}.sh", "#!/bin/sh\n" + _text(f"debug/{name}", 3_500), 0o755)
            for name in ("netcheck", "dnsdump", "ports", "mounts", "env-report")
        ]

    steps = [
        *_pebble_steps(w, "3.20.1", AMD64),
        _Step(
            "COPY scripts/ /usr/local/bin/ # buildkit",
            at,
            w.layer("debug-scripts", scripts, at, gzip=False),
            buildkit=True,
        ),
        _Step('CMD ["/bin/sh", "-l"]', at, buildkit=True),
    ]
    config: JSON = {"Env": list(_PEBBLE_ENV), "Cmd": ["/bin/sh", "-l"], "WorkingDir": "/"}
    w.tag("tools/debug/shell", ("v1", "latest"), _image(w, AMD64, steps, config))


def _build_hello(w: _Writer) -> None:
    """A one-layer image ``FROM scratch`` for arm64 only."""
    at = DEMO_EPOCH - timedelta(days=64, hours=1)
    layer = w.layer(
        "hello", lambda: [_file("hello", _binary("hello", "arm64", 610 * 1024), 0o755)], at
    )
    steps = [
        _Step("COPY hello / # buildkit", at, layer, buildkit=True),
        _Step('CMD ["/hello"]', at, buildkit=True),
    ]
    config: JSON = {"Cmd": ["/hello"]}
    w.tag("scratch/hello", ("latest",), _image(w, ARM64, steps, config))


def _build_info(info: JSON) -> list[_Entry]:
    return [_file("etc/build-info.json", json.dumps(info, indent=2) + "\n")]


def _build_nightly(w: _Writer) -> None:
    """151 tags (``build-1`` … ``build-150``, ``latest``) for tag pagination and sorting."""
    repo = MANY_TAGS_REPO
    tool_at = DEMO_EPOCH - timedelta(days=160)
    toolchain = w.layer(
        "nightly-toolchain",
        lambda: [
            _file("opt/toolchain/bin/cc", _binary("toolchain-cc", "amd64", 1200 * 1024), 0o755)
        ],
        tool_at,
    )
    rng = _rng("nightly")
    desc = None
    for n in range(1, 151):
        at = DEMO_EPOCH - timedelta(days=150 - n, hours=3, minutes=rng.randrange(60))
        revision = rng.randbytes(20).hex()
        info = {"build": n, "revision": revision, "created": _ts(at)}
        layer = w.layer(
            f"nightly-{n}",
            functools.partial(_build_info, info),
            at,
        )
        steps = [
            *_pebble_steps(w, "3.19.4", AMD64),
            _Step("COPY toolchain/ /opt/toolchain/ # buildkit", tool_at, toolchain, buildkit=True),
            _Step(f"RUN /bin/sh -c ci-stamp --build {n} # buildkit", at, layer, buildkit=True),
            _Step('CMD ["/opt/toolchain/bin/cc", "--version"]', at, buildkit=True),
        ]
        config: JSON = {
            "Env": [*_PEBBLE_ENV, "PATH_PREFIX=/opt/toolchain/bin"],
            "Cmd": ["/opt/toolchain/bin/cc", "--version"],
            "Labels": {"org.opencontainers.image.revision": revision, "com.example.build": str(n)},
        }
        desc = _image(w, AMD64, steps, config)
        w.tag(repo, (f"build-{n}",), desc)
    assert desc is not None
    w.tag(repo, ("latest",), desc)


def generate_demo_store(root: Path) -> None:
    """Write the demo store into the (new or empty) directory ``root``.

    Not atomic by itself: use :func:`ensure_demo_store`, which generates into a temporary
    directory and renames it into place.
    """
    w = _Writer(Path(root))
    _build_pebble(w)
    _build_webapp(w)
    _build_worker(w)
    _build_api(w)
    _build_docs(w)
    _build_cli(w)
    _build_debug_shell(w)
    _build_hello(w)
    _build_nightly(w)
    w.finish()
