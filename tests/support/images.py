"""Deterministic generation of real container images as OCI image layouts, with expected facts.

Everything is stdlib (tarfile, gzip, hashlib, json): layers are real gzip'd tars with fixed
mtimes/owners, configs are real image configs (history with ``empty_layer`` entries, diff_ids
of the uncompressed tars), and manifests are serialized once so the bytes pushed are exactly
:attr:`SeededManifest.raw`. The same arguments give the same bytes on every run (on the same
zlib build; a different zlib may compress differently, so tests must compare against the
facts returned here, never against hard-coded digests).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import random
import tarfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
IN_TOTO = "application/vnd.in-toto+json"
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
MANIFEST_TYPES = (OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST)
# distribution 2.8.2 answers 404 for OCI content (and rewrites Docker content to schema1)
# unless Accept names the stored type, so always offer all four.
ACCEPT_ALL_MANIFESTS = ", ".join(MANIFEST_TYPES)

REF_NAME = "org.opencontainers.image.ref.name"
ATTESTATION_TYPE = "vnd.docker.reference.type"
ATTESTATION_SUBJECT = "vnd.docker.reference.digest"
PREDICATE_TYPE = "in-toto.io/predicate-type"
SPDX_PREDICATE = "https://spdx.dev/Document"

LAYER_MTIME = 1_700_000_000  # 2023-11-14: fixed so tar (and so diff_id/digest) bytes are stable
BUILDKIT = "buildkit.dockerfile.v0"
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


# ---------------------------------------------------------------------------------------------
# Expected facts


@dataclass(frozen=True)
class SeededLayer:
    """One layer as the manifest lists it, plus what the config says about it."""

    digest: str
    size: int
    media_type: str
    diff_id: str  # sha256 of the uncompressed tar (== digest for uncompressed media types)
    created_by: str  # the history entry this layer belongs to
    files: tuple[str, ...] = ()  # tar member names, in archive order


@dataclass(frozen=True)
class SeededManifest:
    """One image manifest (a platform of an index, or a single-platform image)."""

    digest: str
    size: int
    media_type: str
    raw: bytes = field(repr=False)
    platform: str  # "linux/arm/v7"; "unknown/unknown" for attestation manifests
    config_digest: str
    config_size: int
    config_raw: bytes = field(repr=False)
    config: dict[str, Any] = field(repr=False)
    layers: tuple[SeededLayer, ...]


@dataclass(frozen=True)
class SeededImage:
    """What ``repo:tag`` points at, and where its blobs are on disk."""

    repo: str
    tag: str
    media_type: str
    digest: str
    raw: bytes = field(repr=False)
    size: int
    manifests: dict[str, SeededManifest]  # platform -> manifest, in index order
    attestations: dict[str, str]  # attested platform -> attestation manifest digest
    is_index: bool
    layout: Path  # OCI image layout holding every blob, with ref name == tag
    also_tags: tuple[str, ...] = ()  # further tags seeded with the same manifest

    @property
    def reference(self) -> str:
        """``repo:tag``."""
        return f"{self.repo}:{self.tag}"

    @property
    def tags(self) -> tuple[str, ...]:
        """Every tag this image is seeded under."""
        return (self.tag, *self.also_tags)

    @property
    def platforms(self) -> tuple[str, ...]:
        """Platforms in index order, attestations excluded."""
        return tuple(self.manifests)

    def blob_path(self, digest: str) -> Path:
        """Path of a blob (manifest, config or layer) of this image in its layout."""
        return blob_path(self.layout, digest)


def sha256_digest(data: bytes) -> str:
    """``sha256:<hex>`` of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def blob_path(layout: Path, digest: str) -> Path:
    """Where an OCI image layout stores the blob ``digest``."""
    algorithm, _, hexdigest = digest.partition(":")
    return layout / "blobs" / algorithm / hexdigest


def parse_platform(platform: str) -> dict[str, str]:
    """``"linux/arm/v7"`` -> ``{"architecture": "arm", "os": "linux", "variant": "v7"}``."""
    os_, architecture, *variant = platform.split("/")
    result = {"architecture": architecture, "os": os_}
    if variant:
        result["variant"] = variant[0]
    return result


# ---------------------------------------------------------------------------------------------
# Layers


@dataclass(frozen=True)
class TarEntry:
    """One member of a layer tar."""

    path: str
    data: bytes = field(default=b"", repr=False)
    kind: Literal["file", "dir", "symlink"] = "file"
    mode: int = 0o644
    target: str = ""  # symlink target


def file(path: str, data: bytes | str, mode: int = 0o644) -> TarEntry:
    """A regular file entry (``str`` data is UTF-8 encoded)."""
    return TarEntry(path, data.encode() if isinstance(data, str) else data, "file", mode)


def directory(path: str, mode: int = 0o755) -> TarEntry:
    """A directory entry."""
    return TarEntry(path, kind="dir", mode=mode)


def symlink(path: str, target: str) -> TarEntry:
    """A symbolic link entry."""
    return TarEntry(path, kind="symlink", mode=0o777, target=target)


def noise(size: int, seed: str) -> bytes:
    """``size`` incompressible but deterministic bytes (seeded by the string ``seed``)."""
    return random.Random(seed).randbytes(size)


def make_tar(entries: Iterable[TarEntry]) -> bytes:
    """A deterministic uncompressed tar: fixed mtime, root ownership, no user/group names."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for entry in entries:
            info = tarfile.TarInfo(entry.path)
            info.mtime = LAYER_MTIME
            info.mode = entry.mode
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if entry.kind == "dir":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif entry.kind == "symlink":
                info.type = tarfile.SYMTYPE
                info.linkname = entry.target
                tar.addfile(info)
            else:
                info.size = len(entry.data)
                tar.addfile(info, io.BytesIO(entry.data))
    return buffer.getvalue()


def gzip_bytes(data: bytes) -> bytes:
    """gzip with a zero header mtime, so the output depends on ``data`` only."""
    return gzip.compress(data, compresslevel=6, mtime=0)


# ---------------------------------------------------------------------------------------------
# Building manifests, indexes and layouts


class BlobStore:
    """Content-addressed blobs collected while building, later written to a layout."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}

    def add(self, data: bytes) -> str:
        """Store ``data`` and return its digest."""
        digest = sha256_digest(data)
        self.blobs[digest] = data
        return digest


@dataclass(frozen=True)
class Step:
    """One Dockerfile instruction: a history entry, with a layer unless ``entries`` is None."""

    created_by: str
    entries: tuple[TarEntry, ...] | None = None
    comment: str | None = None  # BuildKit writes "buildkit.dockerfile.v0"; classic docker none
    created: datetime | None = None  # restart the history clock here (e.g. base-image steps)


def timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC with a ``Z``, as Go's ``time.Time`` marshals whole seconds."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def container_config(
    *,
    user: str = "",
    exposed_ports: Sequence[str] = (),
    env: Sequence[str] = (DEFAULT_PATH,),
    entrypoint: Sequence[str] | None = None,
    cmd: Sequence[str] | None = None,
    working_dir: str = "",
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The ``config`` object of an image config, in Go's field order (empty fields omitted)."""
    config: dict[str, Any] = {}
    if user:
        config["User"] = user
    if exposed_ports:
        config["ExposedPorts"] = {port: {} for port in exposed_ports}
    config["Env"] = list(env)
    if entrypoint is not None:
        config["Entrypoint"] = list(entrypoint)
    if cmd is not None:
        config["Cmd"] = list(cmd)
    if working_dir:
        config["WorkingDir"] = working_dir
    if labels:
        config["Labels"] = dict(labels)
    return config


def _serialize(document: Mapping[str, Any], docker_style: bool) -> bytes:
    # Docker's distribution code writes manifests with json.MarshalIndent(…, "", "   ");
    # BuildKit/containerd write compact JSON. Using both keeps clients honest about never
    # re-serializing a manifest before hashing it.
    if docker_style:
        return json.dumps(document, indent=3).encode()
    return json.dumps(document, separators=(",", ":")).encode()


def _descriptor(
    media_type: str,
    digest: str,
    size: int,
    *,
    platform: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    descriptor: dict[str, Any] = {"mediaType": media_type, "digest": digest, "size": size}
    if annotations:
        descriptor["annotations"] = dict(annotations)
    if platform:
        descriptor["platform"] = dict(platform)
    return descriptor


def build_manifest(
    store: BlobStore,
    *,
    platform: str,
    steps: Sequence[Step],
    config: Mapping[str, Any],
    created: datetime,
    docker_types: bool = False,
    step_interval: timedelta = timedelta(seconds=7),
    extra_config_fields: Mapping[str, Any] | None = None,
) -> SeededManifest:
    """Build one image manifest: layers from the steps with entries, history for every step.

    History ``created`` times start at ``created`` (or a step's own ``created``) and advance
    by ``step_interval`` per step; the image config's ``created`` is the last step's time.
    """
    layer_type = DOCKER_LAYER_GZIP if docker_types else OCI_LAYER_GZIP
    layers: list[SeededLayer] = []
    history: list[dict[str, Any]] = []
    moment = created
    for step in steps:
        moment = step.created or moment
        entry: dict[str, Any] = {"created": timestamp(moment), "created_by": step.created_by}
        if step.comment:
            entry["comment"] = step.comment
        if step.entries is None:
            entry["empty_layer"] = True
        else:
            tar = make_tar(step.entries)
            compressed = gzip_bytes(tar)
            layers.append(
                SeededLayer(
                    digest=store.add(compressed),
                    size=len(compressed),
                    media_type=layer_type,
                    diff_id=sha256_digest(tar),
                    created_by=step.created_by,
                    files=tuple(e.path for e in step.entries),
                )
            )
        history.append(entry)
        moment += step_interval
    image_config: dict[str, Any] = {
        **parse_platform(platform),
        "config": dict(config),
        "created": history[-1]["created"] if history else timestamp(created),
        **(extra_config_fields or {}),
        "history": history,
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
    }
    config_raw = _serialize(image_config, docker_style=False)
    config_type = DOCKER_CONFIG if docker_types else OCI_CONFIG
    manifest_type = DOCKER_MANIFEST if docker_types else OCI_MANIFEST
    config_digest = store.add(config_raw)
    manifest = {
        "schemaVersion": 2,
        "mediaType": manifest_type,
        "config": _descriptor(config_type, config_digest, len(config_raw)),
        "layers": [_descriptor(layer.media_type, layer.digest, layer.size) for layer in layers],
    }
    raw = _serialize(manifest, docker_style=docker_types)
    return SeededManifest(
        digest=store.add(raw),
        size=len(raw),
        media_type=manifest_type,
        raw=raw,
        platform=platform,
        config_digest=config_digest,
        config_size=len(config_raw),
        config_raw=config_raw,
        config=image_config,
        layers=tuple(layers),
    )


def build_attestation(
    store: BlobStore,
    subject: SeededManifest,
    *,
    name: str,
    created: datetime,
    predicate_type: str = SPDX_PREDICATE,
) -> SeededManifest:
    """A BuildKit-style attestation manifest (an SPDX in-toto statement) for ``subject``.

    Shape from moby/buildkit docs/attestations/attestation-storage.md: an OCI manifest with an
    ``unknown/unknown`` OCI image config and one uncompressed ``application/vnd.in-toto+json``
    layer annotated with its predicate type.
    """
    statement = {
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": predicate_type,
        "subject": [
            {
                "name": f"pkg:docker/{name}?platform={subject.platform.replace('/', '%2F')}",
                "digest": {"sha256": subject.digest.removeprefix("sha256:")},
            }
        ],
        "predicate": {
            "spdxVersion": "SPDX-2.3",
            "dataLicense": "CC0-1.0",
            "SPDXID": "SPDXRef-DOCUMENT",
            "name": f"sbom-{name}",
            "creationInfo": {"created": timestamp(created), "creators": ["Tool: regtui-tests"]},
            "packages": [
                {"name": "busybox", "versionInfo": "1.36.1-r15", "SPDXID": "SPDXRef-busybox"},
                {"name": "ca-certificates", "versionInfo": "20240226-r0", "SPDXID": "SPDXRef-ca"},
            ],
        },
    }
    layer_raw = _serialize(statement, docker_style=False)
    layer_digest = store.add(layer_raw)
    layer = SeededLayer(
        digest=layer_digest,
        size=len(layer_raw),
        media_type=IN_TOTO,
        diff_id=layer_digest,
        created_by="",
    )
    image_config: dict[str, Any] = {
        "architecture": "unknown",
        "os": "unknown",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
    }
    config_raw = _serialize(image_config, docker_style=False)
    config_digest = store.add(config_raw)
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": _descriptor(OCI_CONFIG, config_digest, len(config_raw)),
        "layers": [
            _descriptor(
                IN_TOTO, layer_digest, len(layer_raw), annotations={PREDICATE_TYPE: predicate_type}
            )
        ],
    }
    raw = _serialize(manifest, docker_style=False)
    return SeededManifest(
        digest=store.add(raw),
        size=len(raw),
        media_type=OCI_MANIFEST,
        raw=raw,
        platform="unknown/unknown",
        config_digest=config_digest,
        config_size=len(config_raw),
        config_raw=config_raw,
        config=image_config,
        layers=(layer,),
    )


def build_index(
    store: BlobStore,
    manifests: Sequence[SeededManifest],
    *,
    attestations: Sequence[tuple[SeededManifest, SeededManifest]] = (),
    docker_types: bool = False,
) -> tuple[str, bytes]:
    """Serialize an OCI index (or Docker manifest list); returns ``(media_type, raw)``.

    ``attestations`` are ``(subject, attestation)`` pairs, listed after the platforms as
    BuildKit does. Docker manifest lists cannot carry them.
    """
    if docker_types and attestations:
        raise ValueError("Docker manifest lists cannot carry attestation manifests")
    entries = [
        _descriptor(m.media_type, m.digest, m.size, platform=parse_platform(m.platform))
        for m in manifests
    ]
    entries += [
        _descriptor(
            att.media_type,
            att.digest,
            att.size,
            annotations={
                ATTESTATION_SUBJECT: subject.digest,
                ATTESTATION_TYPE: "attestation-manifest",
            },
            platform=parse_platform(att.platform),
        )
        for subject, att in attestations
    ]
    media_type = DOCKER_LIST if docker_types else OCI_INDEX
    raw = _serialize(
        {"schemaVersion": 2, "mediaType": media_type, "manifests": entries},
        docker_style=docker_types,
    )
    store.add(raw)
    return media_type, raw


def write_layout(
    layout: Path, store: BlobStore, *, ref_name: str, media_type: str, raw: bytes
) -> None:
    """Write ``store`` into the OCI image layout ``layout`` and point ``ref_name`` at ``raw``.

    An existing layout is extended (an entry with the same ref name is replaced), so several
    images can share one layout and its blobs.
    """
    (layout / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    for digest, data in store.blobs.items():
        path = blob_path(layout, digest)
        if not path.exists() or path.stat().st_size != len(data):
            path.write_bytes(data)
    index_path = layout / "index.json"
    index: dict[str, Any] = (
        json.loads(index_path.read_text())
        if index_path.exists()
        else {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}
    )
    index["manifests"] = [
        d for d in index["manifests"] if d.get("annotations", {}).get(REF_NAME) != ref_name
    ]
    index["manifests"].append(
        _descriptor(media_type, sha256_digest(raw), len(raw), annotations={REF_NAME: ref_name})
    )
    index_path.write_text(json.dumps(index, separators=(",", ":")))


def assemble(
    layout: Path,
    store: BlobStore,
    *,
    repo: str,
    tag: str,
    manifests: Sequence[SeededManifest],
    attestations: Sequence[tuple[SeededManifest, SeededManifest]] = (),
    force_index: bool = False,
    docker_types: bool = False,
    also_tags: Sequence[str] = (),
) -> SeededImage:
    """Write the layout and return the facts: an index if several manifests (or forced)."""
    is_index = force_index or len(manifests) > 1 or bool(attestations)
    if is_index:
        media_type, raw = build_index(
            store, manifests, attestations=attestations, docker_types=docker_types
        )
    else:
        (only,) = manifests
        media_type, raw = only.media_type, only.raw
    write_layout(layout, store, ref_name=tag, media_type=media_type, raw=raw)
    return SeededImage(
        repo=repo,
        tag=tag,
        media_type=media_type,
        digest=sha256_digest(raw),
        raw=raw,
        size=len(raw),
        manifests={m.platform: m for m in manifests},
        attestations={subject.platform: att.digest for subject, att in attestations},
        is_index=is_index,
        layout=layout,
        also_tags=tuple(also_tags),
    )


# ---------------------------------------------------------------------------------------------
# Ready-made images


def _add_file_step(entries: tuple[TarEntry, ...], created: datetime | None = None) -> Step:
    # Classic `docker build` names the ADDed rootfs after the sha256 of the tar it added.
    tar_hex = hashlib.sha256(make_tar(entries)).hexdigest()
    return Step(f"/bin/sh -c #(nop) ADD file:{tar_hex} in / ", entries, created=created)


def _nop(instruction: str) -> Step:
    # Classic `docker build` records metadata-only instructions like this (two spaces).
    return Step(f"/bin/sh -c #(nop)  {instruction}")


def build_image(
    workdir: Path,
    *,
    repo: str = "test/image",
    tag: str = "latest",
    platforms: Sequence[str] = ("linux/amd64",),
    layer_sizes: Sequence[int] = (1024, 2048),
    docker_types: bool = False,
    attest: bool = False,
    share_base_layer: bool = False,
    force_index: bool = False,
    seed: int = 0,
    created: datetime = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC),
    also_tags: Sequence[str] = (),
) -> SeededImage:
    """Generate an image with one layer per entry of ``layer_sizes`` into the layout ``workdir``.

    Each layer holds ``/opt/layerN.bin`` of that many incompressible bytes; history
    interleaves ``empty_layer`` steps (CMD/ENV/LABEL/…) with the layer steps, and the config
    sets User, ExposedPorts, Env, Entrypoint, Cmd, WorkingDir and Labels. Several
    ``platforms`` (or ``force_index``) give an OCI index, or a Docker manifest list with
    ``docker_types``; ``attest`` adds a BuildKit attestation per platform (OCI only);
    ``share_base_layer`` makes layer 0 byte-identical across platforms. Push it with
    ``seed.seed_image``.
    """
    if not layer_sizes:
        raise ValueError("an image needs at least one layer")
    store = BlobStore()
    manifests: list[SeededManifest] = []
    for platform in platforms:
        steps: list[Step] = []
        for i, size in enumerate(layer_sizes):
            salt = f"{seed}/{repo}/{'base' if share_base_layer and i == 0 else platform}/{i}"
            entries = (directory("opt/"), file(f"opt/layer{i}.bin", noise(size, salt)))
            if i == 0:
                steps += [_add_file_step(entries), _nop('CMD ["/bin/sh"]')]
            else:
                steps.append(
                    Step(
                        "RUN /bin/sh -c head -c"
                        f" {size} /dev/urandom > /opt/layer{i}.bin # buildkit",
                        entries,
                        BUILDKIT,
                    )
                )
                steps.append(Step(f"ENV LAYER{i}=/opt/layer{i}.bin", None, BUILDKIT))
        steps += [
            Step(f"LABEL org.opencontainers.image.title={repo}", None, BUILDKIT),
            Step("WORKDIR /opt", None, BUILDKIT),
            Step("EXPOSE map[8080/tcp:{}]", None, BUILDKIT),
            Step("USER nobody", None, BUILDKIT),
            Step('ENTRYPOINT ["/bin/sh", "-c"]', None, BUILDKIT),
            Step('CMD ["ls /opt"]', None, BUILDKIT),
        ]
        config = container_config(
            user="nobody",
            exposed_ports=("8080/tcp",),
            env=(
                DEFAULT_PATH,
                *(f"LAYER{i}=/opt/layer{i}.bin" for i in range(1, len(layer_sizes))),
            ),
            entrypoint=["/bin/sh", "-c"],
            cmd=["ls /opt"],
            working_dir="/opt",
            labels={"org.opencontainers.image.title": repo},
        )
        manifests.append(
            build_manifest(
                store,
                platform=platform,
                steps=steps,
                config=config,
                created=created,
                docker_types=docker_types,
            )
        )
    attestations = [
        (m, build_attestation(store, m, name=f"{repo}:{tag}", created=created))
        for m in (manifests if attest else ())
    ]
    return assemble(
        workdir,
        store,
        repo=repo,
        tag=tag,
        manifests=manifests,
        attestations=attestations,
        force_index=force_index,
        docker_types=docker_types,
        also_tags=also_tags,
    )


# The images seeded into the session registry. Base-image steps are older than the app
# steps, as when building FROM a published base.
BASE_CREATED = datetime(2024, 1, 26, 23, 44, 41, tzinfo=UTC)
APP_CREATED = datetime(2024, 3, 14, 9, 26, 53, tzinfo=UTC)
APP_BINARY_SIZE = 3 * 1024 * 1024  # incompressible, so a transfer needs many reads
APP_LABELS = {
    "org.opencontainers.image.source": "https://example.test/regtui/app",
    "org.opencontainers.image.title": "app",
    "org.opencontainers.image.version": "1.0",
}
APP_CONFIG = container_config(
    user="1000:1000",
    exposed_ports=("8080/tcp",),
    env=(DEFAULT_PATH, "APP_HOME=/srv/app"),
    entrypoint=["/srv/app/app"],
    cmd=["serve", "--port", "8080"],
    working_dir="/srv/app",
    labels=APP_LABELS,
)


def alpine_rootfs(flavour: str) -> tuple[TarEntry, ...]:
    """A small Alpine-like root filesystem (symlink, dirs, a 0o1777 /tmp); ``flavour`` salts it."""
    return (
        directory("bin/"),
        file("bin/busybox", noise(48 * 1024, f"busybox-{flavour}"), 0o755),
        symlink("bin/sh", "/bin/busybox"),
        directory("etc/"),
        file("etc/os-release", 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.1\n'),
        file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/srv/app:/bin/sh\n"),
        file("etc/group", "root:x:0:root\napp:x:1000:app\n"),
        file("etc/motd", "Welcome to Alpine!\n"),
        directory("lib/"),
        file("lib/libc.musl.so.1", noise(16 * 1024, f"musl-{flavour}"), 0o755),
        directory("tmp/", 0o1777),
    )


def _apk_layer(arch: str) -> tuple[TarEntry, ...]:
    certs = "".join(
        f"-----BEGIN CERTIFICATE-----\nMIIC{n:04d}{arch}\n-----END CERTIFICATE-----\n"
        for n in range(120)
    )
    return (
        directory("etc/"),
        file("etc/.wh.motd", b""),  # a whiteout: this step deleted /etc/motd
        directory("etc/ssl/"),
        directory("etc/ssl/certs/"),
        file("etc/ssl/certs/ca-certificates.crt", certs),
        directory("lib/"),
        directory("lib/apk/"),
        directory("lib/apk/db/"),
        file("lib/apk/db/installed", f"P:ca-certificates\nV:20240226-r0\nA:{arch}\n"),
        directory("usr/"),
        directory("usr/share/"),
        directory("usr/share/zoneinfo/"),
        file("usr/share/zoneinfo/UTC", b"TZif2" + bytes(43)),
    )


def _app_layer(arch: str, size: int) -> tuple[TarEntry, ...]:
    return (
        directory("srv/"),
        directory("srv/app/"),
        file("srv/app/app", noise(size, f"app-{arch}"), 0o755),
        file("srv/app/config.toml", f'listen = ":8080"\narch = "{arch}"\n'),
    )


def _app_steps(rootfs: tuple[TarEntry, ...], arch: str, app_size: int, apk: bool) -> list[Step]:
    labels = " ".join(f"{key}={value}" for key, value in APP_LABELS.items())
    steps = [
        _add_file_step(rootfs, BASE_CREATED),
        _nop('CMD ["/bin/sh"]'),
        Step(f"LABEL {labels}", None, BUILDKIT, APP_CREATED),
        Step("ENV APP_HOME=/srv/app", None, BUILDKIT),
    ]
    if apk:
        steps.append(
            Step(
                "RUN /bin/sh -c apk add --no-cache ca-certificates tzdata # buildkit",
                _apk_layer(arch),
                BUILDKIT,
            )
        )
    return [
        *steps,
        Step("WORKDIR /srv/app", None, BUILDKIT),
        Step("COPY app config.toml /srv/app/ # buildkit", _app_layer(arch, app_size), BUILDKIT),
        Step("EXPOSE map[8080/tcp:{}]", None, BUILDKIT),
        Step("USER 1000:1000", None, BUILDKIT),
        Step('ENTRYPOINT ["/srv/app/app"]', None, BUILDKIT),
        Step('CMD ["serve", "--port", "8080"]', None, BUILDKIT),
    ]


def build_multi(layout: Path) -> SeededImage:
    """``app:1.0`` (also ``latest``): OCI index of amd64, arm64/v8, arm/v7 + amd64 attestation.

    amd64 and arm64 share their base layer blob; amd64 has 3 layers, one ~3 MiB
    incompressible; arm64 has 3 small layers; arm/v7 has 2 with a base of its own.
    """
    store = BlobStore()
    shared_base = alpine_rootfs("multiarch")
    plans = [
        ("linux/amd64", shared_base, APP_BINARY_SIZE, True),
        ("linux/arm64/v8", shared_base, 96 * 1024, True),
        ("linux/arm/v7", alpine_rootfs("armv7"), 64 * 1024, False),
    ]
    manifests = [
        build_manifest(
            store,
            platform=platform,
            steps=_app_steps(rootfs, platform.replace("/", "-"), app_size, apk),
            config=APP_CONFIG,
            created=APP_CREATED,
        )
        for platform, rootfs, app_size, apk in plans
    ]
    amd64 = manifests[0]
    attestation = build_attestation(store, amd64, name="app:1.0", created=APP_CREATED)
    return assemble(
        layout,
        store,
        repo="app",
        tag="1.0",
        manifests=manifests,
        attestations=[(amd64, attestation)],
        also_tags=("latest",),
    )


#: A history command and a label of ``tools/single`` that look like Rich markup.
SINGLE_RUN = "RUN sed -i 's/[a-z]*/x/' /etc/motd && echo [/done] # buildkit"
SINGLE_LABEL = "[deprecated] use [b]tools/other[/b] :smile:"


def build_single(layout: Path) -> SeededImage:
    """``tools/single:latest``: one OCI manifest, linux/amd64, 3 layers."""
    store = BlobStore()
    created = datetime(2024, 6, 1, 12, 0, 0, tzinfo=UTC)
    tools = (
        directory("usr/"),
        directory("usr/local/"),
        directory("usr/local/bin/"),
        file("usr/local/bin/tini", noise(24 * 1024, "tini"), 0o755),
        file("usr/local/bin/tool", "#!/bin/sh\necho regtui single\n", 0o755),
        directory("work/"),
    )
    steps = [
        _add_file_step(alpine_rootfs("single"), created - timedelta(days=30)),
        _nop('CMD ["/bin/sh"]'),
        Step("ENV TOOLS_HOME=/work", None, BUILDKIT, created),
        Step("COPY tini tool /usr/local/bin/ # buildkit", tools, BUILDKIT),
        # Brackets that Rich would read as markup: shown verbatim, never a crash.
        Step(SINGLE_RUN, (file("etc/motd", "x\n"),), BUILDKIT),
        Step("WORKDIR /work", None, BUILDKIT),
        Step("USER tools", None, BUILDKIT),
        Step('ENTRYPOINT ["/usr/local/bin/tini", "--"]', None, BUILDKIT),
        Step('CMD ["/usr/local/bin/tool"]', None, BUILDKIT),
    ]
    config = container_config(
        user="tools",
        exposed_ports=("9000/tcp", "9000/udp"),
        env=(DEFAULT_PATH, "TOOLS_HOME=/work"),
        entrypoint=["/usr/local/bin/tini", "--"],
        cmd=["/usr/local/bin/tool"],
        working_dir="/work",
        labels={
            "org.opencontainers.image.title": "single",
            "maintainer": "regtui tests",
            "description": SINGLE_LABEL,
        },
    )
    manifest = build_manifest(
        store, platform="linux/amd64", steps=steps, config=config, created=created
    )
    return assemble(layout, store, repo="tools/single", tag="latest", manifests=[manifest])


def _legacy_manifest(store: BlobStore, platform: str, created: datetime) -> SeededManifest:
    # Classic (pre-BuildKit) docker build: every step is "/bin/sh -c …", no comments.
    arch = platform.replace("/", "-")
    steps = [
        _add_file_step(alpine_rootfs(f"legacy-{arch}"), created - timedelta(days=90)),
        _nop('CMD ["/bin/sh"]'),
        Step("/bin/sh -c #(nop)  ENV CURL_VERSION=8.5.0", created=created),
        Step("/bin/sh -c apk add --no-cache curl=${CURL_VERSION}-r0", _apk_layer(f"legacy-{arch}")),
        _nop('LABEL maintainer="legacy@example.test"'),
        _nop("EXPOSE 80/tcp"),
        _nop("WORKDIR /var/www"),
        _nop('ENTRYPOINT ["curl"]'),
        _nop('CMD ["--help"]'),
    ]
    config = container_config(
        user="",
        exposed_ports=("80/tcp",),
        env=(DEFAULT_PATH, "CURL_VERSION=8.5.0"),
        entrypoint=["curl"],
        cmd=["--help"],
        working_dir="/var/www",
        labels={"maintainer": "legacy@example.test"},
    )
    return build_manifest(
        store,
        platform=platform,
        steps=steps,
        config=config,
        created=created,
        docker_types=True,
        extra_config_fields={"docker_version": "20.10.24"},
    )


def build_schema2(layout: Path) -> SeededImage:
    """``legacy/docker2:2.0``: a Docker schema 2 manifest, linux/amd64, 2 layers."""
    store = BlobStore()
    manifest = _legacy_manifest(store, "linux/amd64", datetime(2023, 2, 3, 4, 5, 6, tzinfo=UTC))
    return assemble(
        layout, store, repo="legacy/docker2", tag="2.0", manifests=[manifest], docker_types=True
    )


def build_dockerlist(layout: Path) -> SeededImage:
    """``legacy/dockerlist:1.0``: Docker manifest list of linux/amd64 and linux/arm64/v8."""
    store = BlobStore()
    created = datetime(2023, 8, 9, 10, 11, 12, tzinfo=UTC)
    manifests = [_legacy_manifest(store, p, created) for p in ("linux/amd64", "linux/arm64/v8")]
    return assemble(
        layout, store, repo="legacy/dockerlist", tag="1.0", manifests=manifests, docker_types=True
    )


def manytags_names(count: int = 302) -> list[str]:
    """``count`` sorted tag names that sort interestingly (1.9 vs 1.10, rc vs release)."""
    special = [
        "latest",
        "stable",
        "v2.0.0-rc1",
        "v2.0.0-rc2",
        "v2.0.0",
        "v10.0.0",
        "2024.01.15",
        "2024.1.2",
        "UPPER",
        "_underscore",
        "a" * 128,  # the longest tag the grammar allows
        "sha256-" + "ab" * 32,  # cosign-style digest tags a UI may want to hide
        "sha256-" + "ab" * 32 + ".sig",
    ]
    series = [f"1.{minor}" for minor in range(40)]  # 1.0 … 1.39, so 1.9 / 1.10 / 1.2 / 1.11
    tags = special + series
    tags += [f"build-{n:04d}" for n in range(count - len(tags))]
    assert len(set(tags)) == count
    return sorted(tags)


def build_seed_images(workdir: Path) -> dict[str, SeededImage]:
    """Build the named images of the session registry, each in its own layout under ``workdir``.

    Keys: ``multi``, ``single``, ``schema2``, ``dockerlist``, plus ``manytags`` (the small
    image behind every tag of ``many/tags``) and ``bulk`` (the one behind ``bulk/repo-*``).
    """
    tags = manytags_names()
    return {
        "multi": build_multi(workdir / "multi"),
        "single": build_single(workdir / "single"),
        "schema2": build_schema2(workdir / "schema2"),
        "dockerlist": build_dockerlist(workdir / "dockerlist"),
        "manytags": build_image(
            workdir / "manytags",
            repo="many/tags",
            tag=tags[0],
            also_tags=tags[1:],
            layer_sizes=(256,),
            seed=302,
        ),
        "bulk": build_image(
            workdir / "bulk", repo="bulk/repo-0000", tag="latest", layer_sizes=(32,), seed=1100
        ),
    }
