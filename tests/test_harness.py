"""The integration harness itself: generated images, the seeded registry, the fixtures.

These tests speak to the registry with raw httpx and skopeo only, never regtui, so a failure
here is a harness (or environment) problem, not a regtui bug.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import ssl
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.images import (
    ACCEPT_ALL_MANIFESTS,
    ATTESTATION_SUBJECT,
    ATTESTATION_TYPE,
    DOCKER_LAYER_GZIP,
    DOCKER_LIST,
    DOCKER_MANIFEST,
    IN_TOTO,
    OCI_INDEX,
    OCI_MANIFEST,
    PREDICATE_TYPE,
    SeededImage,
    build_image,
    build_seed_images,
)
from support.registry import (
    HTPASSWD_PASSWORD,
    HTPASSWD_USER,
    RegistryStartError,
    RunningRegistry,
    deep_merge,
    htpasswd_config,
    skopeo,
    start_registry,
    tls_config,
)
from support.seed import RegistryHandle, seed_image

RegistryFactory = Callable[[dict[str, Any] | None], RunningRegistry]


def test_skopeo_inspect_raw_is_the_generated_index(registry: RegistryHandle) -> None:
    multi = registry.images["multi"]
    for tag in multi.tags:
        raw = skopeo(
            "inspect", "--tls-verify=false", "--raw", f"docker://{registry.host}/app:{tag}"
        )
        assert raw.stdout == multi.raw


def test_catalog_pages_list_every_repository(registry: RegistryHandle) -> None:
    repositories: list[str] = []
    pages = 0
    url: httpx.URL | None = httpx.URL(f"{registry.url}/v2/_catalog")
    with httpx.Client() as client:
        while url is not None:
            response = client.get(url)
            response.raise_for_status()
            repositories += response.json()["repositories"]
            pages += 1
            link = response.links.get("next")
            url = response.url.join(link["url"]) if link else None
    assert len(repositories) >= 1100
    assert repositories == registry.all_repos
    assert set(registry.bulk_repos) <= set(repositories)
    assert pages == -(-len(registry.all_repos) // 100)  # distribution's default page is 100


def test_every_seeded_tag_serves_the_generated_bytes(registry: RegistryHandle) -> None:
    with httpx.Client(base_url=registry.url, headers={"Accept": ACCEPT_ALL_MANIFESTS}) as client:
        for image in registry.images.values():
            references = [*image.tags]
            expected = {tag: (image.raw, image.media_type, image.digest) for tag in image.tags}
            for manifest in image.manifests.values():
                references.append(manifest.digest)
                expected[manifest.digest] = (manifest.raw, manifest.media_type, manifest.digest)
            for reference in references:
                raw, media_type, digest = expected[reference]
                response = client.get(f"/v2/{image.repo}/manifests/{reference}")
                assert response.status_code == 200, (image.repo, reference, response.text)
                assert response.content == raw
                assert response.headers["Content-Type"] == media_type
                assert response.headers["Docker-Content-Digest"] == digest
                assert digest == "sha256:" + hashlib.sha256(raw).hexdigest()


def test_seeded_images_have_the_documented_shapes(registry: RegistryHandle) -> None:
    multi, single = registry.images["multi"], registry.images["single"]
    schema2, dockerlist = registry.images["schema2"], registry.images["dockerlist"]
    assert (multi.repo, multi.tags, multi.media_type) == ("app", ("1.0", "latest"), OCI_INDEX)
    assert multi.platforms == ("linux/amd64", "linux/arm64/v8", "linux/arm/v7")
    assert (single.repo, single.tag, single.media_type) == ("tools/single", "latest", OCI_MANIFEST)
    assert not single.is_index and single.platforms == ("linux/amd64",)
    assert (schema2.repo, schema2.tag, schema2.media_type) == (
        "legacy/docker2",
        "2.0",
        DOCKER_MANIFEST,
    )
    assert (dockerlist.repo, dockerlist.media_type) == ("legacy/dockerlist", DOCKER_LIST)
    assert dockerlist.platforms == ("linux/amd64", "linux/arm64/v8")
    for image in (schema2, dockerlist):
        for manifest in image.manifests.values():
            assert manifest.media_type == DOCKER_MANIFEST
            assert {layer.media_type for layer in manifest.layers} == {DOCKER_LAYER_GZIP}

    # The attestation entry, BuildKit style.
    amd64, arm64 = multi.manifests["linux/amd64"], multi.manifests["linux/arm64/v8"]
    entries = json.loads(multi.raw)["manifests"]
    (attestation,) = [
        e for e in entries if e["platform"] == {"architecture": "unknown", "os": "unknown"}
    ]
    assert attestation["digest"] == multi.attestations["linux/amd64"]
    assert attestation["annotations"] == {
        ATTESTATION_SUBJECT: amd64.digest,
        ATTESTATION_TYPE: "attestation-manifest",
    }
    attestation_manifest = json.loads(multi.blob_path(attestation["digest"]).read_bytes())
    (statement,) = attestation_manifest["layers"]
    assert statement["mediaType"] == IN_TOTO and PREDICATE_TYPE in statement["annotations"]

    # Shared base layer, a big layer, history aligned with layers around empty_layer steps.
    assert amd64.layers[0] == arm64.layers[0]
    assert max(layer.size for layer in amd64.layers) > 3_000_000
    for image in (multi, single, schema2, dockerlist):
        for manifest in image.manifests.values():
            history = manifest.config["history"]
            assert any(entry.get("empty_layer") for entry in history)
            layer_steps = [e["created_by"] for e in history if not e.get("empty_layer")]
            assert layer_steps == [layer.created_by for layer in manifest.layers]
            assert manifest.config["rootfs"]["diff_ids"] == [x.diff_id for x in manifest.layers]


def test_layers_download_as_real_gzip_tars(registry: RegistryHandle) -> None:
    amd64 = registry.images["multi"].manifests["linux/amd64"]
    with httpx.Client(base_url=registry.url) as client:
        config = client.get(f"/v2/app/blobs/{amd64.config_digest}")
        assert config.content == amd64.config_raw
        for layer in amd64.layers:
            digest, chunks = hashlib.sha256(), 0
            body = io.BytesIO()
            with client.stream("GET", f"/v2/app/blobs/{layer.digest}") as response:
                assert response.status_code == 200
                for chunk in response.iter_bytes():
                    digest.update(chunk)
                    body.write(chunk)
                    chunks += 1
            assert "sha256:" + digest.hexdigest() == layer.digest
            assert body.tell() == layer.size
            tar = gzip.decompress(body.getvalue())
            assert "sha256:" + hashlib.sha256(tar).hexdigest() == layer.diff_id
            with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
                assert tuple(archive.getnames()) == tuple(f.rstrip("/") for f in layer.files)
            if layer.size > 3_000_000:
                assert chunks > 1  # the big layer really takes several reads


def test_many_tags_are_all_listed(registry: RegistryHandle) -> None:
    response = httpx.get(f"{registry.url}/v2/{registry.manytags_repo}/tags/list")
    response.raise_for_status()
    tags = response.json()["tags"]
    assert len(registry.manytags) == 302
    assert sorted(tags) == registry.manytags
    assert {"1.9", "1.10", "v2.0.0-rc1", "v2.0.0"} <= set(tags)


def test_generation_is_deterministic(tmp_path: Path) -> None:
    first, second = build_seed_images(tmp_path / "a"), build_seed_images(tmp_path / "b")
    for key, image in first.items():
        assert image.raw == second[key].raw, key
        for platform, manifest in image.manifests.items():
            assert manifest.config_raw == second[key].manifests[platform].config_raw
    again = build_image(tmp_path / "c", platforms=["linux/amd64", "linux/arm/v7"], attest=True)
    same = build_image(tmp_path / "d", platforms=["linux/amd64", "linux/arm/v7"], attest=True)
    assert again.digest == same.digest and again.is_index and len(again.attestations) == 2


def test_factory_registry_with_basic_auth(
    registry_factory: RegistryFactory,
    oci_image_builder: Callable[..., SeededImage],
    tmp_path: Path,
) -> None:
    running = registry_factory(htpasswd_config(tmp_path / "auth"))
    anonymous = httpx.get(f"{running.url}/v2/")
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"] == 'Basic realm="regtui-lab"'

    credentials = (HTPASSWD_USER, HTPASSWD_PASSWORD)
    docker_list = oci_image_builder(
        repo="private/list", platforms=["linux/amd64", "linux/arm64/v8"], docker_types=True
    )
    seed_image(running, docker_list, auth=credentials)
    oci = oci_image_builder(repo="private/oci", tag="v1", layer_sizes=[10, 20, 30], attest=True)
    seed_image(running, oci, auth=credentials, via="skopeo")

    creds = f"--creds={HTPASSWD_USER}:{HTPASSWD_PASSWORD}"
    for image in (docker_list, oci):
        ref = f"docker://{running.host}/{image.reference}"
        raw = skopeo("inspect", "--tls-verify=false", creds, "--raw", ref)
        assert raw.stdout == image.raw


def test_factory_registry_with_tls_and_clean_stop(
    registry_factory: RegistryFactory, tmp_path: Path
) -> None:
    running = registry_factory(tls_config(tmp_path / "tls"))
    assert running.url == f"https://{running.host}"
    trusted = ssl.create_default_context(cafile=tmp_path / "tls" / "tls.crt")
    assert httpx.get(f"{running.url}/v2/", verify=trusted).status_code == 200
    running.stop()
    assert running.process.poll() is not None
    running.stop()  # idempotent: the fixture's teardown stops it again


def test_start_failure_reports_the_log(real_registry_tools: None, tmp_path: Path) -> None:
    broken: dict[str, Any] = {"storage": {"filesystem": None, "no-such-driver": {}}}
    with pytest.raises(RegistryStartError, match="no-such-driver"):
        start_registry(tmp_path, extra_config=broken)


def test_deep_merge() -> None:
    base = {"http": {"addr": "x", "secret": "s"}, "log": {"level": "warn"}}
    merged = deep_merge(base, {"http": {"tls": {"key": "k"}, "secret": None}, "auth": {"a": 1}})
    assert merged == {
        "http": {"addr": "x", "tls": {"key": "k"}},
        "log": {"level": "warn"},
        "auth": {"a": 1},
    }
    assert base["http"] == {"addr": "x", "secret": "s"}
