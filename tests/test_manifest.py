"""The data model: media-type detection, platforms, indexes, configs, history, and a corpus
of real manifests written by other tools (``../shared/fixtures/manifests``)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from regtui.core.errors import InvalidPlatformError, ManifestError
from regtui.core.manifest import (
    DOCKER_CONFIG,
    DOCKER_LIST,
    DOCKER_MANIFEST,
    DOCKER_SCHEMA1,
    DOCKER_SCHEMA1_SIGNED,
    INDEX_TYPES,
    LEGACY_TYPES,
    MANIFEST_ACCEPT,
    MANIFEST_TYPES,
    OCI_ARTIFACT_MANIFEST,
    OCI_CONFIG,
    OCI_EMPTY,
    OCI_INDEX,
    OCI_MANIFEST,
    ArtifactManifest,
    Descriptor,
    ImageConfig,
    ImageIndex,
    ImageManifest,
    LegacyManifest,
    Platform,
    align_history,
    compute_digest,
    detect_media_type,
    host_platform,
    layer_compression,
    normalize_content_type,
    parse_config,
    parse_manifest,
    parse_platform,
    schema1_payload_digest,
)

OCI_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"


def _digest(n: int) -> str:
    return "sha256:" + f"{n:064x}"


def _desc(media_type: str = OCI_GZIP, n: int = 1, size: int = 10, **extra: Any) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": _digest(n), "size": size, **extra}


def _manifest_doc(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": _desc(OCI_CONFIG, 100, 50),
        "layers": [_desc(OCI_GZIP, 1, 1000), _desc(OCI_GZIP, 2, 2000)],
    }
    doc.update(overrides)
    return {k: v for k, v in doc.items() if v is not ...}


def _index_doc(*manifests: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": list(manifests)}
    doc.update(overrides)
    return {k: v for k, v in doc.items() if v is not ...}


def _body(doc: Any) -> bytes:
    return json.dumps(doc).encode()


def _one_line_error(body: bytes, content_type: str | None = None) -> str:
    with pytest.raises(ManifestError) as info:
        parse_manifest(body, content_type)
    message = str(info.value)
    assert message
    assert "\n" not in message and "\r" not in message
    assert len(message) < 300
    return message


# Media types -----------------------------------------------------------------------------------
def test_accept_header_lists_indexes_first_and_schema1_last() -> None:
    offered = [part.split(";")[0].strip() for part in MANIFEST_ACCEPT.split(",")]
    assert offered[:4] == [OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST]
    assert set(offered[4:]) == LEGACY_TYPES


@pytest.mark.parametrize(
    ("header", "bare"),
    [
        (f"{OCI_MANIFEST}; charset=utf-8", OCI_MANIFEST),
        ("Application/JSON ; charset=UTF-8", "application/json"),
        ("", None),
        (None, None),
        ("; charset=utf-8", None),
    ],
)
def test_normalize_content_type(header: str | None, bare: str | None) -> None:
    assert normalize_content_type(header) == bare


def test_content_type_with_parameters_decides_the_type() -> None:
    doc = _manifest_doc(mediaType=...)
    manifest = parse_manifest(_body(doc), f"{OCI_MANIFEST}; charset=utf-8")
    assert isinstance(manifest, ImageManifest)
    assert manifest.media_type == OCI_MANIFEST


@pytest.mark.parametrize(
    "header", ["application/json", "text/plain", None, "application/octet-stream"]
)
def test_generic_content_type_lets_the_body_decide(header: str | None) -> None:
    index = parse_manifest(_body(_index_doc(_desc(OCI_MANIFEST))), header)
    assert isinstance(index, ImageIndex)
    assert index.media_type == OCI_INDEX
    docker = parse_manifest(_body(_manifest_doc(mediaType=DOCKER_MANIFEST)), header)
    assert isinstance(docker, ImageManifest)
    assert docker.media_type == DOCKER_MANIFEST


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        (_index_doc(_desc(OCI_MANIFEST), mediaType=...), OCI_INDEX),
        (_manifest_doc(mediaType=...), OCI_MANIFEST),
        (_manifest_doc(mediaType=..., config=_desc(DOCKER_CONFIG, 100)), DOCKER_MANIFEST),
        ({"schemaVersion": 1, "fsLayers": []}, DOCKER_SCHEMA1),
        ({"schemaVersion": 1, "fsLayers": [], "signatures": []}, DOCKER_SCHEMA1_SIGNED),
    ],
)
def test_missing_media_type_is_detected_from_the_structure(
    doc: dict[str, Any], expected: str
) -> None:
    assert detect_media_type(doc, None) == expected
    assert detect_media_type(doc, "application/json") == expected


def test_no_media_type_and_both_shapes_is_refused() -> None:
    doc = _manifest_doc(mediaType=..., manifests=[])
    assert "cannot tell an index from an image manifest" in _one_line_error(_body(doc))


def test_unknown_document_without_media_type_is_refused() -> None:
    assert "not a known manifest type" in _one_line_error(b'{"schemaVersion": 2, "x": 1}')


@pytest.mark.parametrize(
    ("header", "declared"),
    [
        (OCI_INDEX, OCI_MANIFEST),
        (OCI_MANIFEST, OCI_INDEX),
        (DOCKER_MANIFEST, OCI_MANIFEST),
        (DOCKER_LIST, OCI_INDEX),
    ],
)
def test_content_type_contradicting_the_body_is_refused(header: str, declared: str) -> None:
    message = _one_line_error(_body(_manifest_doc(mediaType=declared)), header)
    assert header in message
    assert declared in message


def test_contradiction_message_stays_on_one_line_for_hostile_media_types() -> None:
    doc = _manifest_doc(mediaType="evil\ntype/" + "x" * 5000)
    _one_line_error(_body(doc), OCI_MANIFEST)


def test_signed_and_unsigned_schema1_types_are_interchangeable() -> None:
    doc = {"schemaVersion": 1, "mediaType": DOCKER_SCHEMA1, "fsLayers": [], "history": []}
    manifest = parse_manifest(_body(doc), DOCKER_SCHEMA1_SIGNED)
    assert isinstance(manifest, LegacyManifest)


@pytest.mark.parametrize(
    ("doc", "header", "says"),
    [
        (_index_doc(config=_desc(OCI_CONFIG)), None, "CVE-2021-41190"),
        (_manifest_doc(manifests=[]), None, "CVE-2021-41190"),
        (_manifest_doc(mediaType=...), OCI_INDEX, "CVE-2021-41190"),
        (_manifest_doc(schemaVersion=3), None, "schemaVersion"),
        (_manifest_doc(schemaVersion=True), None, "schemaVersion"),
        (_manifest_doc(schemaVersion=...), None, "schemaVersion"),
        (_manifest_doc(mediaType="application/vnd.example+json"), None, "unsupported"),
        ({"schemaVersion": 2, "fsLayers": []}, None, "schemaVersion 2"),
        ({"schemaVersion": 2, "fsLayers": []}, DOCKER_SCHEMA1, "schemaVersion"),
        (_manifest_doc(config=None), None, "config"),
        (_manifest_doc(layers=None), None, "layers must be a list"),
        (_manifest_doc(layers=[], config=_desc(OCI_CONFIG, 100)), None, "at least one layer"),
        (_index_doc(manifests=None), None, "manifests must be a list"),
    ],
)
def test_structural_errors(doc: dict[str, Any], header: str | None, says: str) -> None:
    assert says in _one_line_error(_body(doc), header)


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"\x1f\x8b\x08\x00binary", "not UTF-8"),
        (b"{", "not valid JSON"),
        (b"[]", "expected a JSON object"),
        (b'"text"', "expected a JSON object"),
        (b"[" * 100_000, "manifest"),
        (b'{"schemaVersion": ' + b"9" * 5000 + b"}", "manifest"),
    ],
    ids=["gzip", "truncated", "array", "string", "deep-nesting", "5000-digit-number"],
)
def test_garbage_bodies_give_one_line_errors(body: bytes, says: str) -> None:
    assert says in _one_line_error(body)


def test_error_messages_name_the_location_of_the_problem() -> None:
    doc = _index_doc(_desc(OCI_MANIFEST), _desc(OCI_MANIFEST, 2, size="12"))
    assert "manifests[1].size must be an integer" in _one_line_error(_body(doc))
    layers = [_desc(), {**_desc(), "platform": {"os": "linux"}}]
    doc = _manifest_doc(layers=layers)
    assert "layers[1].platform.architecture is missing" in _one_line_error(_body(doc))


# Descriptor validation -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("size", -1, "out of range"),
        ("size", 2**63, "out of range"),
        ("size", 1.5, "must be an integer"),
        ("size", True, "must be an integer"),
        ("size", "10", "must be an integer"),
        ("size", None, "must be an integer"),
        ("digest", "sha256:../../etc/passwd", "not a valid digest"),
        ("digest", "sha256:abc/def", "not a valid digest"),
        ("digest", "", "not a valid digest"),
        ("digest", 123, "must be a string"),
        ("mediaType", "", "not a valid media type"),
        ("mediaType", "no-slash", "not a valid media type"),
        ("mediaType", ["a/b"], "must be a string"),
        ("annotations", {"a": 1}, "must map strings to strings"),
        ("annotations", [], "must map strings to strings"),
        ("urls", "http://x", "must be a list of strings"),
        ("platform", "linux/amd64", "must be an object"),
        ("artifactType", "bad", "not a valid media type"),
    ],
)
def test_descriptor_fields_are_checked(field: str, value: Any, says: str) -> None:
    layer = _desc()
    layer[field] = value
    message = _one_line_error(_body(_manifest_doc(layers=[layer])))
    assert "layers[0]" in message
    assert says in message


def test_largest_size_is_accepted() -> None:
    manifest = parse_manifest(_body(_manifest_doc(layers=[_desc(size=2**63 - 1)])))
    assert isinstance(manifest, ImageManifest)
    assert manifest.layers[0].size == 2**63 - 1


def test_unverifiable_digest_algorithm_is_shown_but_flagged() -> None:
    layer = _desc()
    layer["digest"] = "sha256+b64:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564"
    manifest = parse_manifest(_body(_manifest_doc(layers=[layer])))
    assert isinstance(manifest, ImageManifest)
    assert any("cannot verify digest algorithm" in p for p in manifest.problems)


def test_unknown_layer_type_of_an_image_is_flagged_but_artifact_layers_are_not() -> None:
    odd = _desc("application/vnd.oci.image.layer.v1.tar+lz4")
    image = parse_manifest(_body(_manifest_doc(layers=[odd])))
    assert isinstance(image, ImageManifest)
    assert image.problems == (f"layer 1 has an unknown media type {odd['mediaType']}",)
    artifact = parse_manifest(
        _body(_manifest_doc(config=_desc(OCI_EMPTY, 9, 2), layers=[_desc("text/plain")]))
    )
    assert isinstance(artifact, ImageManifest)
    assert artifact.problems == ()
    assert not artifact.is_image
    assert artifact.kind == OCI_EMPTY


def test_manifest_properties() -> None:
    manifest = parse_manifest(
        _body(_manifest_doc(annotations={"a": "b"}, subject=_desc(OCI_MANIFEST, 7)))
    )
    assert isinstance(manifest, ImageManifest)
    assert manifest.is_image
    assert manifest.kind == "image"
    assert manifest.total_size == 50 + 1000 + 2000
    assert manifest.annotations == {"a": "b"}
    assert manifest.subject is not None and manifest.subject.digest == _digest(7)
    typed = parse_manifest(_body(_manifest_doc(artifactType="application/vnd.example.sbom")))
    assert isinstance(typed, ImageManifest)
    assert typed.kind == "application/vnd.example.sbom"


def test_docker_manifest_with_a_foreign_config_type_is_flagged() -> None:
    doc = _manifest_doc(
        mediaType=DOCKER_MANIFEST, config=_desc("application/vnd.docker.plugin.v1+json")
    )
    manifest = parse_manifest(_body(doc))
    assert isinstance(manifest, ImageManifest)
    assert manifest.problems and "config type" in manifest.problems[0]


def test_withdrawn_artifact_manifest_is_recognised() -> None:
    doc = {
        "mediaType": OCI_ARTIFACT_MANIFEST,
        "artifactType": "application/example",
        "blobs": [_desc("text/plain")],
    }
    manifest = parse_manifest(_body(doc))
    assert isinstance(manifest, ArtifactManifest)
    assert manifest.artifact_type == "application/example"
    assert [b.media_type for b in manifest.blobs] == ["text/plain"]


# Platforms -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("linux/amd64", Platform("linux", "amd64")),
        ("linux/arm64/v8", Platform("linux", "arm64", "v8")),
        ("Linux/ARM/v7", Platform("linux", "arm", "v7")),
        (" windows/amd64 ", Platform("windows", "amd64")),
    ],
)
def test_parse_platform(text: str, expected: Platform) -> None:
    assert parse_platform(text) == expected


@pytest.mark.parametrize(
    "text", ["linux", "linux/", "/amd64", "a/b/c/d", "linux/amd 64", "", "l!nux/x"]
)
def test_parse_platform_rejects_malformed_text(text: str) -> None:
    with pytest.raises(InvalidPlatformError) as info:
        parse_platform(text)
    assert "os/arch" in str(info.value) or "unexpected characters" in str(info.value)


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        (Platform("linux", "aarch64"), "linux/arm64/v8"),
        (Platform("linux", "arm64", "8"), "linux/arm64/v8"),
        (Platform("linux", "x86_64"), "linux/amd64"),
        (Platform("linux", "arm"), "linux/arm/v7"),
        (Platform("linux", "armhf", "6"), "linux/arm/v6"),
        (Platform("linux", "i686"), "linux/386"),
        (Platform("linux", "riscv64"), "linux/riscv64"),
    ],
)
def test_platform_normalisation(raw: Platform, canonical: str) -> None:
    assert str(raw.normalized()) == canonical


@pytest.mark.parametrize(
    ("entry", "wanted", "matches"),
    [
        ("linux/arm64/v8", "linux/arm64", True),
        ("linux/arm64", "linux/arm64/v8", True),
        ("linux/aarch64", "linux/arm64/v8", True),
        ("linux/arm/v7", "linux/arm", True),
        ("linux/arm/v6", "linux/arm/v7", False),
        ("linux/arm/v7", "linux/arm/v6", False),
        ("linux/amd64", "linux/arm64", False),
        ("windows/amd64", "linux/amd64", False),
        ("linux/x86_64", "linux/amd64", True),
    ],
)
def test_platform_matching(entry: str, wanted: str, matches: bool) -> None:
    os_name, arch, *variant = entry.split("/")
    platform = Platform(os_name, arch, variant[0] if variant else None)
    assert platform.matches(parse_platform(wanted)) is matches


def test_windows_os_version_must_match_when_asked() -> None:
    server = Platform("windows", "amd64", os_version="10.0.17763.1697")
    assert server.matches(Platform("windows", "amd64"))
    assert server.matches(Platform("windows", "amd64", os_version="10.0.17763.1697"))
    assert not server.matches(Platform("windows", "amd64", os_version="10.0.20348.1249"))


@pytest.mark.parametrize(
    ("machine", "expected"),
    [
        ("x86_64", "linux/amd64"),
        ("AMD64", "linux/amd64"),
        ("aarch64", "linux/arm64/v8"),
        ("arm64", "linux/arm64/v8"),
        ("armv7l", "linux/arm/v7"),
        ("armv6l", "linux/arm/v6"),
        ("i686", "linux/386"),
        ("ppc64le", "linux/ppc64le"),
        ("", "linux/amd64"),
    ],
)
def test_host_platform(monkeypatch: pytest.MonkeyPatch, machine: str, expected: str) -> None:
    monkeypatch.setattr("regtui.core.manifest._platform.machine", lambda: machine)
    assert str(host_platform()) == expected


def test_host_platform_of_this_machine_is_a_valid_linux_platform() -> None:
    platform = host_platform()
    assert platform.os == "linux"
    assert parse_platform(str(platform)) == platform


# Indexes ---------------------------------------------------------------------------------------
def _platform_desc(n: int, os_name: str, arch: str, variant: str | None = None) -> dict[str, Any]:
    platform = {"os": os_name, "architecture": arch}
    if variant:
        platform["variant"] = variant
    return _desc(OCI_MANIFEST, n, 500, platform=platform)


def _attestation(n: int, subject: int, kind: str = "attestation-manifest") -> dict[str, Any]:
    return _desc(
        OCI_MANIFEST,
        n,
        300,
        platform={"os": "unknown", "architecture": "unknown"},
        annotations={
            "vnd.docker.reference.type": kind,
            "vnd.docker.reference.digest": _digest(subject),
        },
    )


def _parse_index(*manifests: dict[str, Any]) -> ImageIndex:
    index = parse_manifest(_body(_index_doc(*manifests)))
    assert isinstance(index, ImageIndex)
    return index


def test_attestations_are_attached_to_the_platform_they_reference() -> None:
    index = _parse_index(
        _platform_desc(1, "linux", "amd64"),
        _platform_desc(2, "linux", "arm64", "v8"),
        _attestation(11, 1),
        _attestation(12, 2),
        _attestation(13, 2, "builder"),
    )
    entries = index.entries()
    assert [str(e.platform) for e in entries] == ["linux/amd64", "linux/arm64/v8"]
    assert [a.digest for a in entries[0].attestations] == [_digest(11)]
    assert [a.reference_type for a in entries[1].attestations] == [
        "attestation-manifest",
        "builder",
    ]
    assert all(
        a.is_attestation and a.attests == e.descriptor.digest
        for e in entries
        for a in e.attestations
    )


def test_orphan_attestation_stays_visible_as_its_own_entry() -> None:
    index = _parse_index(_platform_desc(1, "linux", "amd64"), _attestation(11, 99))
    entries = index.entries()
    assert [e.descriptor.digest for e in entries] == [_digest(1), _digest(11)]
    assert entries[0].attestations == ()


def test_reference_annotation_on_a_real_platform_is_not_an_attestation() -> None:
    real = _platform_desc(2, "linux", "arm64")
    real["annotations"] = {
        "vnd.docker.reference.type": "x",
        "vnd.docker.reference.digest": _digest(1),
    }
    index = _parse_index(_platform_desc(1, "linux", "amd64"), real)
    assert len(index.entries()) == 2


def test_select_prefers_the_exact_variant_and_skips_attestations() -> None:
    index = _parse_index(
        _attestation(10, 3),
        _platform_desc(1, "linux", "arm", "v6"),
        _platform_desc(2, "linux", "arm64", "v8"),
        _platform_desc(3, "linux", "arm", "v7"),
        _platform_desc(4, "linux", "amd64"),
    )
    assert index.select(parse_platform("linux/arm")).descriptor.digest == _digest(3)  # type: ignore[union-attr]
    assert index.select(parse_platform("linux/arm/v6")).descriptor.digest == _digest(1)  # type: ignore[union-attr]
    assert index.select(parse_platform("linux/arm64")).descriptor.digest == _digest(2)  # type: ignore[union-attr]
    assert index.select(Platform("linux", "aarch64")).descriptor.digest == _digest(2)  # type: ignore[union-attr]
    assert index.select(parse_platform("linux/s390x")) is None
    assert index.select(Platform("unknown", "unknown")) is None


def test_select_in_an_index_without_platforms_finds_nothing() -> None:
    index = _parse_index(_desc(OCI_MANIFEST, 1), _desc(OCI_MANIFEST, 2))
    assert len(index.entries()) == 2
    assert index.select(parse_platform("linux/amd64")) is None


def test_docker_list_is_docker() -> None:
    index = parse_manifest(_body(_index_doc(mediaType=DOCKER_LIST)))
    assert isinstance(index, ImageIndex)
    assert index.is_docker
    assert index.entries() == []


# Layers ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("media_type", "compression"),
    [
        ("application/vnd.oci.image.layer.v1.tar", "none"),
        ("application/vnd.oci.image.layer.v1.tar+gzip", "gzip"),
        ("application/vnd.oci.image.layer.v1.tar+zstd", "zstd"),
        ("application/vnd.oci.image.layer.v1.tar+gzip+encrypted", "encrypted"),
        ("application/vnd.oci.image.layer.v1.tar+encrypted", "encrypted"),
        ("application/vnd.oci.image.layer.v1.tar+lz4", "unknown"),
        ("application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", "gzip"),
        ("application/vnd.docker.image.rootfs.diff.tar", "none"),
        ("application/vnd.docker.image.rootfs.diff.tar.gzip", "gzip"),
        ("application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", "gzip"),
        ("application/vnd.docker.image.rootfs.diff.tar.bz2", "unknown"),
        ("application/vnd.in-toto+json", ""),
        (OCI_CONFIG, ""),
    ],
)
def test_layer_compression(media_type: str, compression: str) -> None:
    assert layer_compression(media_type) == compression


def test_foreign_layers() -> None:
    foreign = Descriptor("application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", _digest(1), 1)
    assert foreign.is_foreign
    nondist = Descriptor("application/vnd.oci.image.layer.nondistributable.v1.tar", _digest(1), 1)
    assert nondist.is_foreign
    assert not Descriptor(OCI_GZIP, _digest(1), 1).is_foreign
    (info,) = align_history([foreign], None)
    assert info.compression == "foreign"


# Image config ----------------------------------------------------------------------------------
def _config(**fields: Any) -> bytes:
    return json.dumps(fields).encode()


def test_parse_config_reads_what_a_person_wants() -> None:
    config = parse_config(
        _config(
            architecture="arm64",
            os="linux",
            variant="v8",
            created="2024-01-02T03:04:05Z",
            author="me",
            config={
                "Env": ["PATH=/bin", "A=1"],
                "Cmd": ["sh", "-c", "echo hi"],
                "Entrypoint": ["/init"],
                "WorkingDir": "/app",
                "User": "1000:1000",
                "Labels": {"org.opencontainers.image.source": "https://x"},
                "ExposedPorts": {"80/tcp": {}, "443/tcp": {}},
                "Volumes": {"/data": {}},
                "StopSignal": "SIGTERM",
            },
            rootfs={"type": "layers", "diff_ids": [_digest(1), _digest(2)]},
            history=[{"created_by": "ADD rootfs", "created": "2024-01-01T00:00:00Z"}],
        )
    )
    assert str(config.platform) == "linux/arm64/v8"
    assert config.env == ("PATH=/bin", "A=1")
    assert config.cmd == ("sh", "-c", "echo hi")
    assert config.entrypoint == ("/init",)
    assert (config.working_dir, config.user, config.stop_signal) == ("/app", "1000:1000", "SIGTERM")
    assert config.labels == {"org.opencontainers.image.source": "https://x"}
    assert config.exposed_ports == ("443/tcp", "80/tcp")
    assert config.volumes == ("/data",)
    assert config.diff_ids == (_digest(1), _digest(2))
    assert config.history[0].created_by == "ADD rootfs"


def test_parse_config_is_lenient_about_odd_fields() -> None:
    config = parse_config(
        _config(
            architecture=7,
            os=None,
            created=12345,
            config={
                "Env": None,
                "Cmd": "echo shell-form",
                "Entrypoint": 5,
                "Labels": ["not", "a", "map"],
                "ExposedPorts": ["80/tcp"],
                "Volumes": None,
                "WorkingDir": {"x": 1},
            },
            rootfs={"diff_ids": [_digest(1), 5, None]},
            history=[
                "garbage",
                {"created_by": ["x"], "created": 5, "empty_layer": "yes"},
                {"created_by": "RUN x", "empty_layer": True},
            ],
            unknown_field={"deep": [1, 2, 3]},
        )
    )
    assert (config.architecture, config.os, config.created) == ("", "", None)
    assert config.env == ()
    assert config.cmd == ("echo shell-form",)
    assert config.entrypoint is None
    assert config.labels == {}
    assert config.exposed_ports == ()
    assert config.volumes == ()
    assert config.working_dir == ""
    assert config.diff_ids == (_digest(1),)
    # A non-object history item is skipped; mistyped fields become empty; only `true` is empty.
    assert [(h.created_by, h.created, h.empty_layer) for h in config.history] == [
        ("", None, False),
        ("RUN x", None, True),
    ]


def test_parse_config_with_config_not_an_object() -> None:
    config = parse_config(_config(config="nope", rootfs=[], history={"a": 1}))
    assert config == ImageConfig()


@pytest.mark.parametrize("body", [b"", b"{", b"[]", b"null", b"\xff\xfe\x00", b"[" * 100_000])
def test_parse_config_refuses_non_objects(body: bytes) -> None:
    with pytest.raises(ManifestError) as info:
        parse_config(body)
    assert str(info.value).startswith("invalid image config")


# History alignment -----------------------------------------------------------------------------
def _layers(n: int) -> list[Descriptor]:
    return [Descriptor(OCI_GZIP, _digest(i + 1), 100 + i) for i in range(n)]


def _history(*steps: tuple[str, bool]) -> bytes:
    return _config(history=[{"created_by": c, "empty_layer": e} for c, e in steps])


def test_history_skips_empty_layer_steps() -> None:
    config = parse_config(
        _history(
            ("ADD file:abc in /", False),
            ('CMD ["sh"]', True),
            ("ENV A=1", True),
            ("RUN apk add curl", False),
            ("LABEL x=y", True),
            ("COPY . /app", False),
            ('ENTRYPOINT ["/app"]', True),
        )
    )
    infos = align_history(_layers(3), config)
    assert [i.created_by for i in infos] == ["ADD file:abc in /", "RUN apk add curl", "COPY . /app"]
    assert [i.index for i in infos] == [0, 1, 2]
    assert [i.descriptor.digest for i in infos] == [_digest(1), _digest(2), _digest(3)]


def test_history_with_fewer_entries_than_layers_leaves_the_rest_unknown() -> None:
    config = parse_config(_history(("ADD a", False), ("CMD x", True)))
    infos = align_history(_layers(3), config)
    assert [i.created_by for i in infos] == ["ADD a", "", ""]
    assert infos[1].history is None


def test_history_with_more_entries_than_layers_ignores_the_extra() -> None:
    config = parse_config(_history(("ADD a", False), ("RUN b", False), ("RUN c", False)))
    infos = align_history(_layers(2), config)
    assert [i.created_by for i in infos] == ["ADD a", "RUN b"]


def test_history_alignment_with_diff_ids_and_without_config() -> None:
    body = json.loads(_history(("ADD a", False), ("RUN b", False)))
    body["rootfs"] = {"diff_ids": [_digest(50)]}
    infos = align_history(_layers(2), parse_config(json.dumps(body).encode()))
    assert [i.diff_id for i in infos] == [_digest(50), None]
    infos = align_history(_layers(2), None)
    assert [(i.history, i.diff_id, i.created_by) for i in infos] == [(None, None, "")] * 2
    assert [i.compression for i in infos] == ["gzip", "gzip"]


# The fixture corpus ----------------------------------------------------------------------------
CORPUS = Path(__file__).resolve().parent.parent / ".." / "shared" / "fixtures" / "manifests"
PARSEABLE = ("valid", "index", "artifacts")

# SOURCES.md says containers/image refuses this one, but Docker plugins (`docker plugin push`)
# are real schema 2 manifests with config type application/vnd.docker.plugin.v1+json, so
# regtui shows such manifests with a warning instead of refusing them.
FLAGGED_BY_DESIGN = {"docker-v2s2-octet-stream-config-zstd-docker-layer.json"}


def _sources() -> dict[str, dict[str, str]]:
    """``folder/name`` -> {"sha256": ..., "size": ..., "media_type": ..., "text": ...}."""
    path = CORPUS / "SOURCES.md"
    if not path.is_file():
        return {}
    entries: dict[str, dict[str, str]] = {}
    for block in re.split(r"^### ", path.read_text("utf-8"), flags=re.M)[1:]:
        header, _, text = block.partition("\n")
        name = header.strip().strip("`")
        entry = {"text": text}
        sized = re.search(r"Size / sha256 of the file: (\d+) bytes, `(sha256:[0-9a-f]{64})`", text)
        if sized:
            entry["size"], entry["sha256"] = sized.groups()
        declared = re.search(r"^- Media type: `([^`]+)`", text, flags=re.M)
        if declared:
            entry["media_type"] = declared.group(1)
        entries[name] = entry
    return entries


SOURCES = _sources()


def _files(*folders: str) -> list[Any]:
    if not CORPUS.is_dir():
        return [pytest.param(None, id="corpus-missing")]
    return [
        pytest.param(f"{p.parent.name}/{p.name}", id=f"{p.parent.name}/{p.name}")
        for folder in folders
        for p in sorted((CORPUS / folder).glob("*"))
        if p.is_file()
    ]


def _read(name: str | None) -> bytes:
    if name is None:
        pytest.skip(f"fixture corpus not found at {CORPUS}")
    return (CORPUS / name).read_bytes()


def _served_type(name: str) -> str | None:
    """The Content-Type a registry would send, when SOURCES.md names a manifest type."""
    declared = SOURCES.get(name, {}).get("media_type")
    return declared if declared in MANIFEST_TYPES else None


def _all_descriptors(manifest: Any) -> list[Descriptor]:
    if isinstance(manifest, ImageIndex):
        found = list(manifest.manifests)
    elif isinstance(manifest, ImageManifest):
        found = [manifest.config, *manifest.layers]
    elif isinstance(manifest, ArtifactManifest):
        found = list(manifest.blobs)
    else:
        found = []
    subject = getattr(manifest, "subject", None)
    return found + ([subject] if subject is not None else [])


def test_corpus_is_complete() -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"fixture corpus not found at {CORPUS}")
    on_disk = {f"{p.parent.name}/{p.name}" for p in CORPUS.glob("*/*") if p.is_file()}
    assert on_disk == set(SOURCES), "SOURCES.md and the fixture folders disagree"


@pytest.mark.parametrize("name", _files(*PARSEABLE, "legacy", "invalid"))
def test_corpus_bytes_are_exact(name: str | None) -> None:
    data = _read(name)
    assert name is not None
    entry = SOURCES[name]
    assert len(data) == int(entry["size"])
    assert compute_digest(data) == entry["sha256"]


@pytest.mark.parametrize("name", _files(*PARSEABLE))
def test_corpus_documents_parse(name: str | None) -> None:
    data = _read(name)
    assert name is not None
    for content_type in {None, "application/json", _served_type(name)}:
        manifest = parse_manifest(data, content_type)
        assert isinstance(manifest, ImageIndex | ImageManifest | ArtifactManifest)
        if name.startswith("index/"):
            assert isinstance(manifest, ImageIndex)
            assert manifest.media_type in INDEX_TYPES
        else:
            assert not isinstance(manifest, ImageIndex)
        for desc in _all_descriptors(manifest):
            assert isinstance(desc.size, int) and not isinstance(desc.size, bool)
            assert 0 <= desc.size < 2**63
        # The index's entries never lose a descriptor: attestations are only re-homed.
        if isinstance(manifest, ImageIndex):
            entries = manifest.entries()
            kept = [e.descriptor for e in entries] + [a for e in entries for a in e.attestations]
            assert sorted(d.digest for d in kept) == sorted(d.digest for d in manifest.manifests)


@pytest.mark.parametrize("name", _files("legacy"))
def test_corpus_legacy_documents_parse_as_legacy(name: str | None) -> None:
    data = _read(name)
    assert name is not None
    for content_type in {None, _served_type(name)}:
        manifest = parse_manifest(data, content_type)
        assert isinstance(manifest, LegacyManifest)
        assert manifest.media_type in LEGACY_TYPES
        assert manifest.signed == (b'"signatures"' in data)
        assert manifest.fs_layers
        assert not isinstance(manifest, ImageManifest | ImageIndex)  # never pullable


@pytest.mark.parametrize("name", _files("invalid"))
def test_corpus_invalid_documents_are_refused_or_flagged(name: str | None) -> None:
    data = _read(name)
    assert name is not None
    flag = "keep displaying" in SOURCES[name]["text"] or name.split("/")[1] in FLAGGED_BY_DESIGN
    for content_type in {None, _served_type(name)}:
        if flag:
            manifest = parse_manifest(data, content_type)
            assert isinstance(manifest, ImageManifest)
            assert manifest.problems
            assert all("\n" not in p for p in manifest.problems)
        else:
            _one_line_error(data, content_type)


# Facts about particular corpus documents, from their sources --------------------------------
def _corpus_doc(name: str, content_type: str | None = None) -> Any:
    return parse_manifest(_read(name if CORPUS.is_dir() else None), content_type)


@pytest.mark.parametrize(
    ("name", "payload_digest"),
    [
        (
            "legacy/schema1-signed-busybox-containers-image.json",
            "sha256:7364fea9d84ee548ab67d4c46c6006289800c98de3fbf8c0a97138dfcc23f000",
        ),
        (
            "legacy/schema1-unsigned-busybox-containers-image.json",
            "sha256:7364fea9d84ee548ab67d4c46c6006289800c98de3fbf8c0a97138dfcc23f000",
        ),
        (
            "legacy/schema1-signed-hello-world-moby.json",
            "sha256:02fee8c3220ba806531f606525eceb83f4feb654f62b207191b1c9209188dedd",
        ),
        (
            "legacy/schema1-signed-extra-unsigned-fslayers-duplicate-key.json",
            "sha256:02fee8c3220ba806531f606525eceb83f4feb654f62b207191b1c9209188dedd",
        ),
        (
            "legacy/schema1-signed-converted-by-docker-15-layers.json",
            "sha256:c8a08b90c4899c341695c8b52733faace453cda3c20b2f9ad2c4390eac8eaee4",
        ),
        (
            "legacy/schema1-signed-rhosp12-red-hat-registry.json",
            "sha256:5a26403ca5f91c7f04300e397efc83960afbfe2d2b34314383a53e267a604455",
        ),
        (
            # Leading newline before the JSON: the payload is counted from the first brace.
            "legacy/schema1-signed-debian6-trailing-space-regclient.json",
            "sha256:f3ef067962554c3352dc0c659ca563f73cc396fe0dea2a2c23a7964c6290f782",
        ),
        (
            "invalid/schema1-schemaversion-2-signature-digest-mismatch.json",
            "sha256:4e99582254b60272e49b2fd1f01e834a038a575eb542e46fba0662f1e74b3927",
        ),
    ],
)
def test_schema1_payload_digests_match_docker(name: str, payload_digest: str) -> None:
    data = _read(name if CORPUS.is_dir() else None)
    assert schema1_payload_digest(data) == payload_digest


def test_schema1_signature_with_impossible_format_length_is_refused() -> None:
    data = _read(
        "legacy/schema1-signed-hello-world-distribution-spec-doc.json" if CORPUS.is_dir() else None
    )
    with pytest.raises(ManifestError) as info:
        schema1_payload_digest(data)
    assert "formatLength" in str(info.value)
    assert isinstance(parse_manifest(data), LegacyManifest)  # still shown for information


def test_schema1_layers_come_from_the_signed_payload() -> None:
    # A second fsLayers key appended after the signed range must not replace the layers
    # that the (payload) digest actually identifies.
    forged = _corpus_doc("legacy/schema1-signed-extra-unsigned-fslayers-duplicate-key.json")
    good = _corpus_doc("legacy/schema1-signed-hello-world-moby.json")
    assert forged.fs_layers == good.fs_layers
    assert not any(layer.startswith("sha256:ffff") for layer in forged.fs_layers)


def test_corpus_hello_world_list_points_at_the_captured_child() -> None:
    index = _corpus_doc("index/docker-hub-hello-world-manifest-list-escaped-slashes.json")
    assert index.media_type == DOCKER_LIST  # despite the JSON-escaped slashes
    child = _read("valid/docker-hub-hello-world-linux-amd64-v2s2.json")
    amd64 = index.select(parse_platform("linux/amd64"))
    assert amd64.descriptor.digest == compute_digest(child)
    assert amd64.descriptor.size == len(child)
    assert str(index.select(parse_platform("linux/arm64")).platform) == "linux/arm64/v8"
    assert str(index.select(parse_platform("linux/arm/v5")).platform) == "linux/arm/v5"
    windows = [e.platform for e in index.entries() if e.platform and e.platform.os == "windows"]
    assert [w.os_version for w in windows] == ["10.0.20348.1249", "10.0.17763.3650"]


def test_corpus_buildx_index_attaches_builder_attestations() -> None:
    index = _corpus_doc("index/oci-index-buildx-builder-attestations-unknown-platform.json")
    entries = index.entries()
    assert [str(e.platform) for e in entries] == ["linux/amd64", "linux/arm64"]
    assert all(len(e.attestations) == 1 for e in entries)
    assert all(a.reference_type == "builder" for e in entries for a in e.attestations)
    amd64_manifest = _read("valid/oci-manifest-buildx-linux-amd64-regclient.json")
    assert entries[0].descriptor.digest == compute_digest(amd64_manifest)
    assert entries[0].attestations[0].attests == compute_digest(amd64_manifest)


def test_corpus_buildkit_attestation_example() -> None:
    index = _corpus_doc("index/oci-index-attestation-manifest-buildkit-doc.json")
    (entry,) = index.entries()
    assert str(entry.platform) == "linux/amd64"
    assert [a.reference_type for a in entry.attestations] == ["attestation-manifest"]


def test_corpus_documents_without_media_type_are_typed_by_shape() -> None:
    assert _corpus_doc("valid/oci-manifest-no-mediatype-field.json").media_type == OCI_MANIFEST
    assert (
        _corpus_doc("valid/docker-v2s2-no-mediatype-empty-layers.json").media_type
        == DOCKER_MANIFEST
    )
    assert (
        _corpus_doc("index/oci-index-no-mediatype-described-as-docker-list-ggcr.json").media_type
        == OCI_INDEX
    )


def test_corpus_layer_types() -> None:
    every = _corpus_doc("valid/oci-manifest-all-layer-media-types.json")
    assert [layer_compression(layer.media_type) for layer in every.layers] == [
        "none",
        "zstd",
        "gzip",
        "none",
        "zstd",
        "gzip",
    ]
    assert [layer.is_foreign for layer in every.layers] == [False] * 3 + [True] * 3
    encrypted = _corpus_doc("valid/oci-manifest-encrypted-layers-unicode-annotation-keys.json")
    assert {layer_compression(layer.media_type) for layer in encrypted.layers} == {"encrypted"}
    assert any("…" in key for layer in encrypted.layers for key in layer.annotations)


def test_corpus_unusual_digest_algorithms_are_flagged() -> None:
    manifest = _corpus_doc("valid/oci-manifest-unusual-digest-algorithms.json")
    flagged = [p for p in manifest.problems if "cannot verify digest algorithm" in p]
    assert len(flagged) == 4


def test_corpus_artifacts_are_not_images() -> None:
    helm = _corpus_doc("artifacts/helm-chart-with-provenance-layer.json")
    assert not helm.is_image
    assert helm.kind == "application/vnd.cncf.helm.config.v1+json"
    attestation = _corpus_doc("artifacts/buildkit-attestation-manifest-in-toto.json")
    assert attestation.kind == "application/vnd.docker.attestation.manifest.v1+json"
    assert attestation.subject is not None
    withdrawn = _corpus_doc("artifacts/withdrawn-oci-artifact-manifest-blobs.json")
    assert isinstance(withdrawn, ArtifactManifest)


# Hostile documents -----------------------------------------------------------------------------
_NESTED: Any = []
for _ in range(40):
    _NESTED = [_NESTED]

_JSON_LEAF = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
_JSON = st.recursive(
    _JSON_LEAF,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
_HOSTILE = st.one_of(
    _JSON,
    st.sampled_from(
        [
            -1,
            2**63,
            2**63 - 1,
            2**64,
            1.0,
            1e308,
            True,
            False,
            "",
            "sha256:../../../etc/passwd",
            "sha256:" + "z" * 64,
            "sha256:" + "A" * 64,
            "sha256:" + "a" * 63 + "\n",
            "../" * 50,
            "a/b\n",
            "\x00",
            OCI_MANIFEST,
            OCI_INDEX,
            DOCKER_LIST,
            DOCKER_SCHEMA1,
            _NESTED,
            list(range(2000)),
            {"os": "linux"},
            {"os": "linux", "architecture": 5},
            {"vnd.docker.reference.digest": 1},
        ]
    ),
)
_FIELDS = (
    "mediaType",
    "digest",
    "size",
    "platform",
    "annotations",
    "urls",
    "artifactType",
    "data",
)
_TOP_FIELDS = (
    "schemaVersion",
    "mediaType",
    "config",
    "layers",
    "manifests",
    "subject",
    "annotations",
    "artifactType",
    "fsLayers",
    "signatures",
    "history",
    "blobs",
)


@st.composite
def _hostile_document(draw: st.DrawFn) -> tuple[bytes, str | None]:
    kind = draw(st.sampled_from(["manifest", "index", "legacy", "artifact"]))
    if kind == "manifest":
        doc: Any = _manifest_doc()
        targets = [doc["config"], *doc["layers"]]
    elif kind == "index":
        doc = _index_doc(_platform_desc(1, "linux", "amd64"), _attestation(2, 1))
        targets = list(doc["manifests"])
    elif kind == "legacy":
        doc = {
            "schemaVersion": 1,
            "fsLayers": [{"blobSum": _digest(1)}],
            "history": [{"v1Compatibility": "{}"}],
        }
        targets = [doc["fsLayers"][0], doc["history"][0]]
    else:
        doc = {"mediaType": OCI_ARTIFACT_MANIFEST, "blobs": [_desc()]}
        targets = list(doc["blobs"])
    for _ in range(draw(st.integers(1, 4))):
        if draw(st.booleans()):
            target = draw(st.sampled_from(targets))
            field = draw(st.sampled_from((*_FIELDS, "blobSum", "v1Compatibility")))
            target[field] = draw(_HOSTILE)
        else:
            doc[draw(st.sampled_from(_TOP_FIELDS))] = draw(_HOSTILE)
    if draw(st.booleans()):
        doc = draw(_HOSTILE)  # the whole document is something else
    content_type = draw(
        st.sampled_from([None, "application/json", *sorted(MANIFEST_TYPES), "text/html"])
    )
    return json.dumps(doc).encode(), content_type


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_hostile_document())
def test_hostile_documents_raise_only_manifest_errors(case: tuple[bytes, str | None]) -> None:
    body, content_type = case
    try:
        manifest = parse_manifest(body, content_type)
    except ManifestError as exc:
        message = str(exc)
        assert message and "\n" not in message and len(message) < 300
        return
    # Whatever is accepted has sane descriptors: integer sizes in range, grammatical digests.
    for desc in _all_descriptors(manifest):
        assert type(desc.size) is int and 0 <= desc.size < 2**63
        assert re.fullmatch(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+", desc.digest)
        assert "/" in desc.media_type
    if isinstance(manifest, LegacyManifest):
        assert all(":" in blob for blob in manifest.fs_layers)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200) | _JSON.map(lambda v: json.dumps(v).encode()))
def test_arbitrary_bytes_raise_only_manifest_errors(body: bytes) -> None:
    for parse in (parse_manifest, parse_config, schema1_payload_digest):
        try:
            parse(body)
        except ManifestError as exc:
            assert "\n" not in str(exc)


@pytest.mark.parametrize("depth", [500, 990, 1000, 5000, 200_000])
def test_deep_nesting_anywhere_raises_only_manifest_errors(depth: int) -> None:
    nested = "[" * depth + "]" * depth
    bodies = [
        nested,
        f'{{"schemaVersion": {nested}, "config": {{}}}}',
        f'{{"mediaType": "{OCI_MANIFEST}", "schemaVersion": {nested}, "fsLayers": 1}}',
        f'{{"schemaVersion": 1, "fsLayers": [], "history": [{{"v1Compatibility": {nested}}}]}}',
        json.dumps(_manifest_doc())[:-1] + f', "annotations": {{"a": {nested}}}}}',
    ]
    for body in bodies:
        try:
            parse_manifest(body.encode())
        except ManifestError as exc:
            assert "\n" not in str(exc) and len(str(exc)) < 300
        try:
            parse_config(
                (f'{{"config": {{"Env": [{nested}], "Labels": {{"a": {nested}}}}}}}').encode()
            )
        except ManifestError:
            pass


def test_huge_arrays_are_handled() -> None:
    layers = [_desc(OCI_GZIP, i, i) for i in range(5_000)]
    manifest = parse_manifest(_body(_manifest_doc(layers=layers)))
    assert isinstance(manifest, ImageManifest)
    assert len(manifest.layers) == 5_000
    layers[-1]["size"] = -1
    assert "layers[4999].size" in _one_line_error(_body(_manifest_doc(layers=layers)))
