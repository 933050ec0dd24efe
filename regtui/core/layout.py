"""Writing an OCI image layout (``oci-layout``, ``index.json``, ``blobs/<alg>/<hex>``).

Guarantees: a file under ``blobs/`` always matches its name (blobs are written to a
partial file outside ``blobs/``, verified, then renamed into place), and ``index.json`` is
replaced atomically, after every blob it references is in place. A pull that is killed
leaves a valid layout plus, at most, resumable partial files in ``.regtui-partial/``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from regtui.core.errors import ManifestError, RegtuiError
from regtui.core.manifest import (
    ANNOTATION_REF_NAME,
    OCI_INDEX,
    Descriptor,
    Platform,
    parse_descriptor,
)
from regtui.core.reference import validate_digest

OCI_LAYOUT_FILE = "oci-layout"
INDEX_FILE = "index.json"
PARTIAL_DIR = ".regtui-partial"
LAYOUT_VERSION = "1.0.0"
_HASH_CHUNK = 1024 * 1024


class LayoutError(RegtuiError):
    """The destination is not a usable OCI layout (or cannot be written)."""


@dataclass(frozen=True)
class LayoutEntry:
    """One entry of ``index.json``."""

    descriptor: Descriptor

    @property
    def ref_name(self) -> str | None:
        """The ``org.opencontainers.image.ref.name`` annotation."""
        return self.descriptor.annotations.get(ANNOTATION_REF_NAME)


def hash_file(path: Path, algorithm: str = "sha256") -> tuple[str, int]:
    """``(digest, size)`` of a file, read in 1 MiB chunks."""
    h = hashlib.new(algorithm)
    size = 0
    buf = bytearray(_HASH_CHUNK)
    view = memoryview(buf)
    with path.open("rb", buffering=0) as f:
        while n := f.readinto(buf):
            h.update(view[:n])
            size += n
    return f"{algorithm}:{h.hexdigest()}", size


class OCILayout:
    """An OCI image layout directory that regtui adds images to."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    # Paths ------------------------------------------------------------------------------------
    def blob_path(self, digest: str) -> Path:
        """Where a blob lives; the digest is validated first so it is safe as a path."""
        algorithm, _, hexpart = validate_digest(digest).partition(":")
        return self.root / "blobs" / algorithm / hexpart

    def partial_path(self, digest: str) -> Path:
        """Where an unfinished download of ``digest`` is kept (outside ``blobs/``)."""
        algorithm, _, hexpart = validate_digest(digest).partition(":")
        return self.root / PARTIAL_DIR / f"{algorithm}-{hexpart}"

    # Set-up -----------------------------------------------------------------------------------
    def init(self) -> None:
        """Create the layout, or check that an existing directory is one."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            marker = self.root / OCI_LAYOUT_FILE
            if marker.exists():
                try:
                    version = json.loads(marker.read_bytes()).get("imageLayoutVersion")
                except (ValueError, AttributeError):
                    version = None
                if not isinstance(version, str):
                    raise LayoutError(f"{marker} is not a valid oci-layout file")
            else:
                entries = [p for p in self.root.iterdir() if p.name != PARTIAL_DIR]
                if entries:
                    raise LayoutError(
                        f"{self.root} exists and is not an OCI layout: choose an empty or new "
                        "directory with -o"
                    )
                _atomic_write(marker, json.dumps({"imageLayoutVersion": LAYOUT_VERSION}).encode())
            (self.root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
            (self.root / PARTIAL_DIR).mkdir(exist_ok=True)
            if not (self.root / INDEX_FILE).exists():
                self._write_index([])
        except OSError as exc:
            raise LayoutError(f"cannot prepare {self.root}: {exc.strerror or exc}") from None

    # Blobs ------------------------------------------------------------------------------------
    def has_blob(self, descriptor: Descriptor) -> bool:
        """True when the blob is present with the right size and digest (re-hashed)."""
        path = self.blob_path(descriptor.digest)
        try:
            if path.stat().st_size != descriptor.size:
                return False
        except OSError:
            return False
        algorithm = descriptor.digest.split(":", 1)[0]
        digest, _ = hash_file(path, algorithm)
        if digest != descriptor.digest:
            # Not what its name says (written by something else, or disk damage): drop it.
            with contextlib.suppress(OSError):
                path.unlink()
            return False
        return True

    def write_blob(self, data: bytes, digest: str) -> None:
        """Store small content already in memory (manifests, configs), verified."""
        algorithm = digest.split(":", 1)[0]
        actual = f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"
        if actual != digest:
            raise ManifestError(f"content does not match digest {digest}")
        path = self.blob_path(digest)
        if path.exists() and path.stat().st_size == len(data):
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        # The temp file lives outside blobs/, so a kill never leaves a misnamed blob.
        _atomic_write(path, data, tmp_dir=self.root / PARTIAL_DIR)

    def commit_partial(self, digest: str) -> None:
        """Move a verified partial file into ``blobs/`` (atomic rename)."""
        target = self.blob_path(digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.partial_path(digest), target)

    def cleanup(self) -> None:
        """Remove the partial directory when nothing is left in it."""
        with contextlib.suppress(OSError):
            (self.root / PARTIAL_DIR).rmdir()

    # index.json -------------------------------------------------------------------------------
    def entries(self) -> list[LayoutEntry]:
        """The entries of ``index.json``."""
        path = self.root / INDEX_FILE
        try:
            doc = json.loads(path.read_bytes())
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            raise LayoutError(f"cannot read {path}: {exc}") from None
        manifests = doc.get("manifests") if isinstance(doc, dict) else None
        if not isinstance(manifests, list):
            raise LayoutError(f"{path} has no manifests list")
        try:
            return [LayoutEntry(parse_descriptor(m)) for m in manifests]
        except ManifestError as exc:
            raise LayoutError(f"{path}: {exc}") from None

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialise index.json updates between processes pulling into one layout."""
        # Lock the oci-layout marker itself: it always exists and leaves nothing behind.
        with (self.root / OCI_LAYOUT_FILE).open("rb") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def add_image(
        self, manifest: Descriptor, ref_name: str, platform: Platform | None
    ) -> Descriptor:
        """Record an image manifest under ``ref_name`` in ``index.json``.

        If the name already points at the same platform, it is replaced (the tag moved);
        if it points at another platform, both are kept under that name in a layout-local
        image index, so pulling arm64 after amd64 into one layout keeps both.
        Returns the descriptor now named ``ref_name``.
        """
        own = _descriptor_json(manifest, platform=platform)
        with self._locked():
            entries = self.entries()
            others = [e for e in entries if e.ref_name != ref_name]
            same = [e for e in entries if e.ref_name == ref_name]
            members: list[dict[str, Any]] = []
            for entry in same:
                desc = entry.descriptor
                if desc.media_type == OCI_INDEX and "io.regtui.layout-index" in desc.annotations:
                    members.extend(self._index_members(desc))
                else:
                    members.append(_descriptor_json(desc, platform=desc.platform, drop_ref=True))
            if platform is not None:
                members = [m for m in members if _platform_key(m) != str(platform)]
            else:
                members = []
            members = [m for m in members if m["digest"] != manifest.digest]
            if not members:
                named = dict(own)
            else:
                index_doc = {
                    "schemaVersion": 2,
                    "mediaType": OCI_INDEX,
                    "manifests": [*members, own],
                }
                data = json.dumps(index_doc, indent=2).encode() + b"\n"
                digest = "sha256:" + hashlib.sha256(data).hexdigest()
                self.write_blob(data, digest)
                named = {
                    "mediaType": OCI_INDEX,
                    "digest": digest,
                    "size": len(data),
                    "annotations": {"io.regtui.layout-index": "true"},
                }
            named.setdefault("annotations", {})
            named["annotations"] = {**named["annotations"], ANNOTATION_REF_NAME: ref_name}
            self._write_index([_descriptor_json(e.descriptor) for e in others] + [named])
        return parse_descriptor(named)

    def _index_members(self, desc: Descriptor) -> list[dict[str, Any]]:
        try:
            doc = json.loads(self.blob_path(desc.digest).read_bytes())
            return [m for m in doc.get("manifests", []) if isinstance(m, dict)]
        except (OSError, ValueError):
            return []

    def _write_index(self, manifests: list[dict[str, Any]]) -> None:
        doc = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}
        _atomic_write(self.root / INDEX_FILE, json.dumps(doc, indent=2).encode() + b"\n")


def _platform_key(desc: dict[str, Any]) -> str | None:
    platform = desc.get("platform")
    if not isinstance(platform, dict):
        return None
    text = f"{platform.get('os')}/{platform.get('architecture')}"
    if platform.get("variant"):
        text += f"/{platform['variant']}"
    return text


def _descriptor_json(
    desc: Descriptor, *, platform: Platform | None = None, drop_ref: bool = False
) -> dict[str, Any]:
    out: dict[str, Any] = {"mediaType": desc.media_type, "digest": desc.digest, "size": desc.size}
    platform = platform or desc.platform
    if platform is not None:
        p: dict[str, Any] = {"architecture": platform.architecture, "os": platform.os}
        if platform.variant:
            p["variant"] = platform.variant
        if platform.os_version:
            p["os.version"] = platform.os_version
        out["platform"] = p
    annotations = dict(desc.annotations)
    if drop_ref:
        annotations.pop(ANNOTATION_REF_NAME, None)
    if annotations:
        out["annotations"] = annotations
    return out


def _atomic_write(path: Path, data: bytes, *, tmp_dir: Path | None = None) -> None:
    """Write via a temp file (same filesystem) and ``os.replace``."""
    directory = tmp_dir or path.parent
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:16]}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
