"""The data model: descriptors, platforms, indexes, manifests and image configs.

Parsing is strict where a mistake would mislead a user or a pull (types of sizes and
digests, index/manifest confusion, required fields) and lenient where real registries
are sloppy (missing ``mediaType``, unknown annotations, odd config fields).
"""

from __future__ import annotations

import base64
import hashlib
import json
import platform as _platform
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from regtui.core.errors import InvalidPlatformError, InvalidReferenceError, ManifestError
from regtui.core.reference import validate_digest

# Media types ------------------------------------------------------------------------------
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
OCI_ARTIFACT_MANIFEST = "application/vnd.oci.artifact.manifest.v1+json"  # withdrawn from OCI 1.1
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"

INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
IMAGE_MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
LEGACY_TYPES = frozenset({DOCKER_SCHEMA1, DOCKER_SCHEMA1_SIGNED})
MANIFEST_TYPES = INDEX_TYPES | IMAGE_MANIFEST_TYPES | LEGACY_TYPES | {OCI_ARTIFACT_MANIFEST}
IMAGE_CONFIG_TYPES = frozenset({OCI_CONFIG, DOCKER_CONFIG})

#: The ``Accept`` header for manifest requests. Indexes first so multi-arch tags are seen
#: as indexes (distribution 2.8 answers 404 for OCI documents whose type is not listed);
#: schema 1 last, at a lower quality, so it is only served when nothing else exists.
MANIFEST_ACCEPT = ", ".join(
    [OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST]
    + [f"{t};q=0.5" for t in (DOCKER_SCHEMA1_SIGNED, DOCKER_SCHEMA1)]
)

ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"
ANNOTATION_REFERENCE_TYPE = "vnd.docker.reference.type"
ANNOTATION_REFERENCE_DIGEST = "vnd.docker.reference.digest"

_MEDIA_TYPE = re.compile(
    r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\Z"
)
_DIGEST = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+\Z")
_MAX_SIZE = 2**63 - 1


# Platforms --------------------------------------------------------------------------------
_ARCH_ALIASES = {
    "x86_64": "amd64",
    "x86-64": "amd64",
    "aarch64": "arm64",
    "armhf": "arm",
    "armel": "arm",
    "i386": "386",
    "i686": "386",
}


@dataclass(frozen=True)
class Platform:
    """An image platform: ``os/architecture[/variant]`` plus Windows' ``os.version``."""

    os: str
    architecture: str
    variant: str | None = None
    os_version: str | None = None
    os_features: tuple[str, ...] = ()
    features: tuple[str, ...] = ()

    def __str__(self) -> str:
        text = f"{self.os}/{self.architecture}"
        if self.variant:
            text += f"/{self.variant}"
        return text

    @property
    def is_unknown(self) -> bool:
        """BuildKit's ``unknown/unknown`` marker for attestation entries."""
        return self.os == "unknown" and self.architecture == "unknown"

    def normalized(self) -> Platform:
        """Canonical spelling: ``aarch64`` → ``arm64``, default variants filled in."""
        arch = _ARCH_ALIASES.get(self.architecture, self.architecture)
        variant = self.variant
        if arch == "arm64" and variant in (None, "", "8"):
            variant = "v8"
        elif arch == "arm" and variant in (None, ""):
            variant = "v7"
        elif arch == "arm" and variant and variant.isdigit():
            variant = f"v{variant}"
        return Platform(self.os, arch, variant, self.os_version, self.os_features, self.features)

    def matches(self, wanted: Platform) -> bool:
        """True when this platform satisfies ``wanted`` (os, arch and variant if asked)."""
        mine, want = self.normalized(), wanted.normalized()
        if (mine.os, mine.architecture) != (want.os, want.architecture):
            return False
        if wanted.variant and mine.variant != want.variant:
            return False
        return not (wanted.os_version and self.os_version != wanted.os_version)


def parse_platform(text: str) -> Platform:
    """Parse ``os/arch[/variant]`` as ``docker --platform`` takes it."""
    parts = text.strip().split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise InvalidPlatformError(
            f"invalid platform {text!r}: expected os/arch[/variant], e.g. linux/arm64/v8"
        )
    if not all(re.fullmatch(r"[A-Za-z0-9_.-]+", p) for p in parts):
        raise InvalidPlatformError(f"invalid platform {text!r}: unexpected characters")
    os_name, arch = parts[0].lower(), parts[1].lower()
    return Platform(os_name, arch, parts[2].lower() if len(parts) == 3 else None)


def host_platform() -> Platform:
    """The platform a container on this machine would run: Linux on the host's CPU.

    Linux even on macOS/Windows hosts, as ``docker pull`` does, since images are Linux.
    """
    machine = _platform.machine().lower() or "amd64"
    arch = _ARCH_ALIASES.get(machine, machine)
    variant = None
    if arch == "arm64":
        variant = "v8"
    elif arch.startswith("armv"):  # armv7l, armv6l...
        arch, variant = "arm", f"v{arch[4:5]}" if arch[4:5].isdigit() else None
    return Platform("linux", arch, variant)


# Descriptors ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Descriptor:
    """A content descriptor: what a blob or manifest is, how big, and its digest."""

    media_type: str
    digest: str
    size: int
    platform: Platform | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)
    urls: tuple[str, ...] = ()
    artifact_type: str | None = None
    data: str | None = None

    def checked_digest(self) -> str:
        """The digest, if regtui can verify it (safe in a URL or file name).

        Raises :class:`ManifestError`: a bad digest here is the document's fault.
        """
        try:
            return validate_digest(self.digest)
        except InvalidReferenceError as exc:
            raise ManifestError(f"the document names an unusable digest: {exc}") from None

    @property
    def reference_type(self) -> str | None:
        """BuildKit's ``vnd.docker.reference.type`` (``attestation-manifest``...), if any."""
        return self.annotations.get(ANNOTATION_REFERENCE_TYPE)

    @property
    def is_attestation(self) -> bool:
        """An index entry that describes another entry rather than being a platform.

        BuildKit marks them with platform ``unknown/unknown`` and
        ``vnd.docker.reference.type`` (``attestation-manifest``, or ``builder``...).
        """
        return self.reference_type is not None and (
            self.platform is None or self.platform.is_unknown
        )

    @property
    def attests(self) -> str | None:
        """The digest of the entry this attestation refers to."""
        return self.annotations.get(ANNOTATION_REFERENCE_DIGEST)

    @property
    def is_foreign(self) -> bool:
        """Non-distributable layer (Windows base layers): fetched from ``urls``, if at all."""
        return "foreign" in self.media_type or "nondistributable" in self.media_type


def layer_compression(media_type: str) -> str:
    """``gzip``, ``zstd``, ``none``, ``encrypted``, ``unknown`` or ``""`` (not a layer type)."""
    for prefix in (
        "application/vnd.oci.image.layer.v1.tar",
        "application/vnd.oci.image.layer.nondistributable.v1.tar",
    ):
        if media_type.startswith(prefix):
            suffix = media_type[len(prefix) :]
            if suffix.endswith("+encrypted"):
                return "encrypted"
            return {"": "none", "+gzip": "gzip", "+zstd": "zstd"}.get(suffix, "unknown")
    if media_type.startswith("application/vnd.docker.image.rootfs."):
        return {
            "diff.tar": "none",
            "diff.tar.gzip": "gzip",
            "diff.tar.zstd": "zstd",
            "foreign.diff.tar": "none",
            "foreign.diff.tar.gzip": "gzip",
        }.get(media_type.removeprefix("application/vnd.docker.image.rootfs."), "unknown")
    return ""


# Documents --------------------------------------------------------------------------------
@dataclass(frozen=True)
class IndexEntry:
    """One manifest of an index, with the attestations that refer to it."""

    descriptor: Descriptor
    attestations: tuple[Descriptor, ...] = ()

    @property
    def platform(self) -> Platform | None:
        """The entry's platform, if the index gives one."""
        return self.descriptor.platform


@dataclass(frozen=True)
class ImageIndex:
    """An OCI image index or a Docker manifest list."""

    media_type: str
    manifests: tuple[Descriptor, ...]
    annotations: Mapping[str, str] = field(default_factory=dict)
    subject: Descriptor | None = None
    artifact_type: str | None = None

    @property
    def is_docker(self) -> bool:
        """True for a Docker manifest list."""
        return self.media_type == DOCKER_LIST

    def entries(self) -> list[IndexEntry]:
        """The platform entries in index order, attestations attached to what they attest.

        An attestation whose subject is not in the index is kept as an entry of its own
        so nothing the registry holds is hidden.
        """
        by_digest: dict[str, list[Descriptor]] = {}
        own = []
        digests = {d.digest for d in self.manifests if not d.is_attestation}
        for desc in self.manifests:
            if desc.is_attestation and desc.attests in digests:
                by_digest.setdefault(desc.attests or "", []).append(desc)
            else:
                own.append(desc)
        return [IndexEntry(d, tuple(by_digest.get(d.digest, ()))) for d in own]

    def select(self, wanted: Platform) -> IndexEntry | None:
        """The first entry whose platform satisfies ``wanted`` (exact variant preferred)."""
        candidates = [e for e in self.entries() if e.platform and e.platform.matches(wanted)]
        if not candidates:
            return None
        exact = [
            e
            for e in candidates
            if e.platform and e.platform.normalized().variant == wanted.normalized().variant
        ]
        return (exact or candidates)[0]


@dataclass(frozen=True)
class ImageManifest:
    """An OCI image manifest or a Docker schema 2 manifest."""

    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]
    annotations: Mapping[str, str] = field(default_factory=dict)
    subject: Descriptor | None = None
    artifact_type: str | None = None
    #: Problems that do not stop display but deserve a mark (unknown layer types...).
    problems: tuple[str, ...] = ()

    @property
    def is_image(self) -> bool:
        """True when the config is a runnable image config (not an artifact)."""
        return self.config.media_type in IMAGE_CONFIG_TYPES

    @property
    def total_size(self) -> int:
        """Compressed size of config and layers, as transferred."""
        return self.config.size + sum(layer.size for layer in self.layers)

    @property
    def kind(self) -> str:
        """``image`` or the artifact type (``artifactType`` or else the config type)."""
        if self.artifact_type:
            return self.artifact_type
        return "image" if self.is_image else self.config.media_type


@dataclass(frozen=True)
class ArtifactManifest:
    """The withdrawn OCI 1.1-rc artifact manifest (``blobs`` instead of config/layers)."""

    media_type: str
    artifact_type: str | None
    blobs: tuple[Descriptor, ...]
    annotations: Mapping[str, str] = field(default_factory=dict)
    subject: Descriptor | None = None


@dataclass(frozen=True)
class LegacyManifest:
    """A Docker schema 1 manifest: shown for information, never pulled."""

    media_type: str
    name: str
    tag: str
    architecture: str
    fs_layers: tuple[str, ...]
    v1_history: tuple[str, ...]
    signed: bool


Manifest = ImageIndex | ImageManifest | ArtifactManifest | LegacyManifest


def compute_digest(data: bytes, algorithm: str = "sha256") -> str:
    """``algorithm:hex`` of ``data``."""
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


def normalize_content_type(value: str | None) -> str | None:
    """The bare media type of a ``Content-Type`` header (parameters dropped)."""
    if not value:
        return None
    return value.split(";", 1)[0].strip().lower() or None


# Parsing ----------------------------------------------------------------------------------
class _Path:
    """Builds ``manifests[2].platform.architecture``-style locations for error messages."""

    def __init__(self, text: str = "") -> None:
        self.text = text

    def __truediv__(self, key: str | int) -> _Path:
        if isinstance(key, int):
            return _Path(f"{self.text}[{key}]")
        return _Path(f"{self.text}.{key}" if self.text else key)

    def __str__(self) -> str:
        return self.text or "document"


def _fail(where: _Path, problem: str) -> ManifestError:
    return ManifestError(f"invalid manifest: {where} {problem}")


def _get_str(obj: Mapping[str, Any], key: str, where: _Path, *, required: bool) -> str | None:
    value = obj.get(key)
    if value is None:
        if required:
            raise _fail(where / key, "is missing")
        return None
    if not isinstance(value, str):
        raise _fail(where / key, f"must be a string, not {_json_type(value)}")
    return value


def _get_str_list(obj: Mapping[str, Any], key: str, where: _Path) -> tuple[str, ...]:
    value = obj.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(where / key, "must be a list of strings")
    return tuple(value)


def _annotations(obj: Mapping[str, Any], where: _Path) -> dict[str, str]:
    value = obj.get("annotations")
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise _fail(where / "annotations", "must map strings to strings")
    return dict(value)


def _media_type(value: str, where: _Path) -> str:
    if not _MEDIA_TYPE.match(value):
        raise _fail(where, f"is not a valid media type: {_clip(value)!r}")
    return value


def parse_descriptor(obj: Any, where: _Path | None = None) -> Descriptor:
    """Validate and convert one descriptor object."""
    where = where or _Path()
    if not isinstance(obj, dict):
        raise _fail(where, f"must be a descriptor object, not {_json_type(obj)}")
    media_type = _media_type(
        _get_str(obj, "mediaType", where, required=True) or "", where / "mediaType"
    )
    digest = _get_str(obj, "digest", where, required=True) or ""
    if not _DIGEST.match(digest):
        raise _fail(where / "digest", f"is not a valid digest: {_clip(digest)!r}")
    size = obj.get("size")
    if isinstance(size, bool) or not isinstance(size, int):
        raise _fail(where / "size", f"must be an integer, not {_json_type(size)}")
    if not 0 <= size <= _MAX_SIZE:
        raise _fail(where / "size", f"is out of range: {size}")
    platform = None
    if obj.get("platform") is not None:
        platform = _parse_platform_obj(obj["platform"], where / "platform")
    artifact_type = _get_str(obj, "artifactType", where, required=False)
    if artifact_type is not None:
        _media_type(artifact_type, where / "artifactType")
    return Descriptor(
        media_type=media_type,
        digest=digest,
        size=size,
        platform=platform,
        annotations=_annotations(obj, where),
        urls=_get_str_list(obj, "urls", where),
        artifact_type=artifact_type,
        data=_get_str(obj, "data", where, required=False),
    )


def _parse_platform_obj(obj: Any, where: _Path) -> Platform:
    if not isinstance(obj, dict):
        raise _fail(where, f"must be an object, not {_json_type(obj)}")
    os_name = _get_str(obj, "os", where, required=True) or ""
    arch = _get_str(obj, "architecture", where, required=True) or ""
    return Platform(
        os=os_name,
        architecture=arch,
        variant=_get_str(obj, "variant", where, required=False) or None,
        os_version=_get_str(obj, "os.version", where, required=False) or None,
        os_features=_get_str_list(obj, "os.features", where),
        features=_get_str_list(obj, "features", where),
    )


def _descriptor_list(obj: Mapping[str, Any], key: str, where: _Path) -> tuple[Descriptor, ...]:
    value = obj.get(key)
    if not isinstance(value, list):
        raise _fail(where / key, f"must be a list, not {_json_type(value)}")
    return tuple(parse_descriptor(item, where / key / i) for i, item in enumerate(value))


def _subject(obj: Mapping[str, Any]) -> Descriptor | None:
    if obj.get("subject") is None:
        return None
    return parse_descriptor(obj["subject"], _Path("subject"))


def _load_json(body: bytes) -> dict[str, Any]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ManifestError("invalid manifest: not UTF-8 text (binary data?)") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ManifestError(
            f"invalid manifest: not valid JSON ({exc.msg} at line {exc.lineno})"
        ) from None
    except ValueError:  # e.g. an integer longer than Python's int conversion limit
        raise ManifestError("invalid manifest: not valid JSON (number too large)") from None
    except RecursionError:
        raise ManifestError("invalid manifest: JSON nested too deeply") from None
    if not isinstance(doc, dict):
        raise ManifestError(f"invalid manifest: expected a JSON object, got {_json_type(doc)}")
    return doc


def detect_media_type(doc: Mapping[str, Any], content_type: str | None) -> str:
    """Decide what a manifest document is from ``Content-Type`` and its own fields.

    Refuses documents whose fields contradict their declared type (CVE-2021-41190).
    """
    declared = doc.get("mediaType")
    if declared is not None and not isinstance(declared, str):
        raise _fail(_Path("mediaType"), "must be a string")
    header = normalize_content_type(content_type)
    if header not in MANIFEST_TYPES:
        header = None  # application/json, text/plain, octet-stream...: the body decides
    if (
        header
        and declared
        and declared != header
        and not (header in LEGACY_TYPES and declared in LEGACY_TYPES)
    ):
        raise ManifestError(
            f"invalid manifest: Content-Type is {header} but the document says {_clip(declared)!r}"
        )
    media_type = header or declared
    schema = doc.get("schemaVersion")
    if media_type is None:
        if "fsLayers" in doc and schema != 1:
            raise ManifestError(
                f"invalid manifest: schema 1 document claims schemaVersion {_clip(repr(schema))}"
            )
        if schema == 1:
            return DOCKER_SCHEMA1_SIGNED if "signatures" in doc else DOCKER_SCHEMA1
        has_index = "manifests" in doc
        has_image = "config" in doc or "layers" in doc
        if has_index and has_image:
            raise ManifestError(
                "invalid manifest: no mediaType and both 'manifests' and 'config'/'layers': "
                "cannot tell an index from an image manifest"
            )
        if has_index:
            return OCI_INDEX
        if has_image:
            config = doc.get("config")
            if isinstance(config, dict) and config.get("mediaType") == DOCKER_CONFIG:
                return DOCKER_MANIFEST
            return OCI_MANIFEST
        raise ManifestError("invalid manifest: not a known manifest type (no mediaType)")
    return media_type


def parse_manifest(body: bytes, content_type: str | None = None) -> Manifest:
    """Parse manifest bytes as received, typed by ``Content-Type`` and the body itself."""
    doc = _load_json(body)
    media_type = detect_media_type(doc, content_type)
    schema = doc.get("schemaVersion")
    if media_type in LEGACY_TYPES:
        return _parse_legacy(_signed_schema1_doc(body, doc), media_type)
    if media_type not in MANIFEST_TYPES:
        raise ManifestError(f"unsupported manifest type {_clip(media_type)!r}")
    # The withdrawn OCI artifact manifest defined no schemaVersion field.
    unversioned_artifact = media_type == OCI_ARTIFACT_MANIFEST and schema is None
    if (isinstance(schema, bool) or schema != 2) and not unversioned_artifact:
        if "fsLayers" in doc:
            raise ManifestError(
                f"invalid manifest: schema 1 document claims schemaVersion {_clip(repr(schema))}"
            )
        raise ManifestError(f"invalid manifest: unsupported schemaVersion {_clip(repr(schema))}")
    if media_type in INDEX_TYPES:
        if "config" in doc or "layers" in doc:
            raise ManifestError(
                "invalid manifest: an index must not have 'config' or 'layers' (CVE-2021-41190)"
            )
        return ImageIndex(
            media_type=media_type,
            manifests=_descriptor_list(doc, "manifests", _Path()),
            annotations=_annotations(doc, _Path()),
            subject=_subject(doc),
            artifact_type=_artifact_type(doc),
        )
    if "manifests" in doc:
        raise ManifestError(
            "invalid manifest: an image manifest must not have 'manifests' (CVE-2021-41190)"
        )
    if media_type == OCI_ARTIFACT_MANIFEST:
        blobs = _descriptor_list(doc, "blobs", _Path()) if doc.get("blobs") is not None else ()
        return ArtifactManifest(
            media_type=media_type,
            artifact_type=_artifact_type(doc),
            blobs=blobs,
            annotations=_annotations(doc, _Path()),
            subject=_subject(doc),
        )
    return _parse_image_manifest(doc, media_type)


def _artifact_type(doc: Mapping[str, Any]) -> str | None:
    value = _get_str(doc, "artifactType", _Path(), required=False)
    return _media_type(value, _Path("artifactType")) if value is not None else None


def _parse_image_manifest(doc: Mapping[str, Any], media_type: str) -> ImageManifest:
    config = parse_descriptor(doc.get("config"), _Path("config"))
    layers = _descriptor_list(doc, "layers", _Path())
    artifact_type = _artifact_type(doc)
    problems: list[str] = []
    if media_type == OCI_MANIFEST and not layers and config.media_type == OCI_CONFIG:
        raise ManifestError("invalid manifest: an image manifest needs at least one layer")
    if media_type == DOCKER_MANIFEST and config.media_type != DOCKER_CONFIG:
        problems.append(f"Docker schema 2 manifest with config type {config.media_type}")
    if config.media_type in IMAGE_CONFIG_TYPES:
        for i, layer in enumerate(layers):
            # Only types that claim to be layers; artifacts put anything in "layers".
            if layer_compression(layer.media_type) == "unknown":
                problems.append(f"layer {i + 1} has an unknown media type {layer.media_type}")
    for desc in (config, *layers):
        if desc.digest.split(":", 1)[0] not in ("sha256", "sha512"):
            problems.append(f"cannot verify digest algorithm of {_clip(desc.digest, 40)}")
    return ImageManifest(
        media_type=media_type,
        config=config,
        layers=layers,
        annotations=_annotations(doc, _Path()),
        subject=_subject(doc),
        artifact_type=artifact_type,
        problems=tuple(problems),
    )


def _parse_legacy(doc: Mapping[str, Any], media_type: str) -> LegacyManifest:
    where = _Path()
    if doc.get("schemaVersion") != 1:
        raise ManifestError(
            "invalid manifest: schema 1 type with schemaVersion "
            f"{_clip(repr(doc.get('schemaVersion')))}"
        )
    fs_layers = doc.get("fsLayers")
    history = doc.get("history", [])
    if not isinstance(fs_layers, list) or not isinstance(history, list):
        raise _fail(where / "fsLayers", "and history must be lists")
    blob_sums = []
    for i, layer in enumerate(fs_layers):
        if not isinstance(layer, dict):
            raise _fail(where / "fsLayers" / i, "must be an object")
        blob = _get_str(layer, "blobSum", where / "fsLayers" / i, required=True) or ""
        if not _DIGEST.match(blob):
            raise _fail(
                where / "fsLayers" / i / "blobSum", f"is not a valid digest: {_clip(blob)!r}"
            )
        blob_sums.append(blob)
    v1 = [(h.get("v1Compatibility") if isinstance(h, dict) else None) or "" for h in history]
    signatures = doc.get("signatures")
    if signatures is not None and not isinstance(signatures, list):
        raise _fail(where / "signatures", "must be a list")
    return LegacyManifest(
        media_type=DOCKER_SCHEMA1_SIGNED if signatures else media_type,
        name=str(doc.get("name") or ""),
        tag=str(doc.get("tag") or ""),
        architecture=str(doc.get("architecture") or ""),
        fs_layers=tuple(blob_sums),
        v1_history=tuple(str(h) for h in v1),
        signed=bool(signatures),
    )


def _schema1_payload(body: bytes, doc: Mapping[str, Any]) -> bytes | None:
    """The JWS payload of a signed schema 1 manifest (``None`` when it is not signed).

    The payload is ``body[:formatLength] + formatTail``, counted from the first
    non-whitespace byte (as docker/libtrust and regclient do).
    """
    signatures = doc.get("signatures")
    if not isinstance(signatures, list) or not signatures:
        return None
    body = body.lstrip(b" \t\r\n")
    try:
        protected = signatures[0]["protected"]
        header = json.loads(base64.urlsafe_b64decode(protected + "=" * (-len(protected) % 4)))
        length = int(header["formatLength"])
        tail = header["formatTail"]
        tail_bytes = base64.urlsafe_b64decode(tail + "=" * (-len(tail) % 4))
    except (KeyError, TypeError, ValueError, RecursionError) as exc:
        raise ManifestError(f"invalid schema 1 signature: {_clip(str(exc))}") from None
    if not 0 < length <= len(body):
        raise ManifestError(
            f"invalid schema 1 signature: formatLength {length} does not fit "
            f"the {len(body)}-byte document"
        )
    return body[:length] + tail_bytes


def _signed_schema1_doc(body: bytes, doc: dict[str, Any]) -> dict[str, Any]:
    """The document whose digest is reported: a signed manifest's JWS payload.

    Bytes outside the payload are not covered by the digest (a second ``fsLayers`` key
    appended after it must not replace the signed layers). A signature whose payload cannot
    be extracted leaves the document as received (``schema1_payload_digest`` refuses it).
    """
    try:
        payload = _schema1_payload(body, doc)
    except ManifestError:
        return doc
    if payload is None:
        return doc
    try:
        signed = _load_json(payload)
    except ManifestError:
        return doc
    return {**signed, "signatures": doc["signatures"]}


def schema1_payload_digest(body: bytes) -> str:
    """The digest Docker gives a signed schema 1 manifest: that of its JWS payload."""
    payload = _schema1_payload(body, _load_json(body))
    return compute_digest(body if payload is None else payload)


_DOCKER_LAYER = "application/vnd.docker.image.rootfs."
_OCI_LAYER = "application/vnd.oci.image.layer."
_DOCKER_TO_OCI_LAYER = {
    _DOCKER_LAYER + "diff.tar": _OCI_LAYER + "v1.tar",
    _DOCKER_LAYER + "diff.tar.gzip": _OCI_LAYER + "v1.tar+gzip",
    _DOCKER_LAYER + "diff.tar.zstd": _OCI_LAYER + "v1.tar+zstd",
    _DOCKER_LAYER + "foreign.diff.tar": _OCI_LAYER + "nondistributable.v1.tar",
    _DOCKER_LAYER + "foreign.diff.tar.gzip": _OCI_LAYER + "nondistributable.v1.tar+gzip",
}


def docker_to_oci(manifest: ImageManifest) -> bytes:
    """An OCI image manifest with the same config and layer blobs as a Docker schema 2 one.

    OCI layouts are for OCI types (skopeo's ``oci:`` transport skips Docker-typed
    entries), so a Docker image is stored the way ``skopeo copy … oci:`` stores it: same
    blobs, OCI media types, hence a new manifest digest.
    """

    def descriptor(desc: Descriptor, media_type: str) -> dict[str, Any]:
        out: dict[str, Any] = {"mediaType": media_type, "digest": desc.digest, "size": desc.size}
        if desc.urls:
            out["urls"] = list(desc.urls)
        if desc.annotations:
            out["annotations"] = dict(desc.annotations)
        return out

    config_type = (
        OCI_CONFIG if manifest.config.media_type == DOCKER_CONFIG else manifest.config.media_type
    )
    doc: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descriptor(manifest.config, config_type),
        "layers": [
            descriptor(layer, _DOCKER_TO_OCI_LAYER.get(layer.media_type, layer.media_type))
            for layer in manifest.layers
        ],
    }
    if manifest.annotations:
        doc["annotations"] = dict(manifest.annotations)
    return json.dumps(doc, separators=(",", ":")).encode()


# Image config -----------------------------------------------------------------------------
@dataclass(frozen=True)
class HistoryEntry:
    """One step of an image's build history."""

    created: str | None
    created_by: str
    comment: str = ""
    author: str = ""
    empty_layer: bool = False


@dataclass(frozen=True)
class ImageConfig:
    """The parts of an image config a person wants to read."""

    architecture: str = ""
    os: str = ""
    variant: str | None = None
    os_version: str | None = None
    created: str | None = None
    author: str = ""
    env: tuple[str, ...] = ()
    cmd: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    working_dir: str = ""
    user: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    exposed_ports: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    stop_signal: str = ""
    history: tuple[HistoryEntry, ...] = ()
    diff_ids: tuple[str, ...] = ()

    @property
    def platform(self) -> Platform:
        """The platform the config declares."""
        return Platform(self.os, self.architecture, self.variant, self.os_version)


def _str_or_empty(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _str_tuple(value: Any) -> tuple[str, ...] | None:
    if isinstance(value, list):
        return tuple(str(v) for v in value)
    if isinstance(value, str):  # a shell-form string some tools write
        return (value,)
    return None


def parse_config(body: bytes) -> ImageConfig:
    """Parse an OCI/Docker image config; unknown or mistyped optional fields are ignored."""
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        raise ManifestError("invalid image config: not valid JSON") from None
    if not isinstance(doc, dict):
        raise ManifestError("invalid image config: expected a JSON object")
    run = doc.get("config") if isinstance(doc.get("config"), dict) else {}
    assert isinstance(run, dict)
    history = []
    for item in doc.get("history") or []:
        if not isinstance(item, dict):
            continue
        history.append(
            HistoryEntry(
                created=item.get("created") if isinstance(item.get("created"), str) else None,
                created_by=_str_or_empty(item.get("created_by")),
                comment=_str_or_empty(item.get("comment")),
                author=_str_or_empty(item.get("author")),
                empty_layer=item.get("empty_layer") is True,
            )
        )
    rootfs = doc.get("rootfs") if isinstance(doc.get("rootfs"), dict) else {}
    assert isinstance(rootfs, dict)
    labels = run.get("Labels") if isinstance(run.get("Labels"), dict) else {}
    assert isinstance(labels, dict)
    return ImageConfig(
        architecture=_str_or_empty(doc.get("architecture")),
        os=_str_or_empty(doc.get("os")),
        variant=_str_or_empty(doc.get("variant")) or None,
        os_version=_str_or_empty(doc.get("os.version")) or None,
        created=_str_or_empty(doc.get("created")) or None,
        author=_str_or_empty(doc.get("author")),
        env=_str_tuple(run.get("Env")) or (),
        cmd=_str_tuple(run.get("Cmd")),
        entrypoint=_str_tuple(run.get("Entrypoint")),
        working_dir=_str_or_empty(run.get("WorkingDir")),
        user=_str_or_empty(run.get("User")),
        labels={str(k): str(v) for k, v in labels.items()},
        exposed_ports=tuple(sorted(run.get("ExposedPorts") or {}))
        if isinstance(run.get("ExposedPorts"), dict)
        else (),
        volumes=tuple(sorted(run.get("Volumes") or {}))
        if isinstance(run.get("Volumes"), dict)
        else (),
        stop_signal=_str_or_empty(run.get("StopSignal")),
        history=tuple(history),
        diff_ids=tuple(str(d) for d in rootfs.get("diff_ids") or [] if isinstance(d, str)),
    )


@dataclass(frozen=True)
class LayerInfo:
    """A layer with what built it: the aligned history entry and the diff ID."""

    index: int
    descriptor: Descriptor
    history: HistoryEntry | None
    diff_id: str | None

    @property
    def compression(self) -> str:
        """``gzip``/``zstd``/``none``/``encrypted``/``foreign`` or the media type's own word."""
        if self.descriptor.is_foreign:
            return "foreign"
        return layer_compression(self.descriptor.media_type) or "other"

    @property
    def created_by(self) -> str:
        """The build step that made this layer, or ``""`` when the history doesn't say."""
        return self.history.created_by if self.history else ""


def align_history(layers: Sequence[Descriptor], config: ImageConfig | None) -> list[LayerInfo]:
    """Pair each layer with the history entry that created it.

    History has one entry per build step; steps marked ``empty_layer`` (ENV, CMD, LABEL...)
    made no layer and are skipped, so the n-th remaining entry belongs to the n-th layer.
    """
    entries: Iterable[HistoryEntry] = config.history if config else ()
    with_layers = [h for h in entries if not h.empty_layer]
    diff_ids = config.diff_ids if config else ()
    return [
        LayerInfo(
            index=i,
            descriptor=layer,
            history=with_layers[i] if i < len(with_layers) else None,
            diff_id=diff_ids[i] if i < len(diff_ids) else None,
        )
        for i, layer in enumerate(layers)
    ]


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "an object",
    }.get(type(value), type(value).__name__)


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
