"""``RegistryClient`` against ``httpx.MockTransport``: pagination, manifests, blobs, errors.

Every client talks to ``http://127.0.0.1:5000`` (an explicit scheme on a loopback host, so
no HTTPS probe happens) unless a test is about the probe itself.
"""

from __future__ import annotations

import gzip
import json
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from regtui.core.client import (
    MAX_MANIFEST_BYTES,
    RegistryClient,
    RetryPolicy,
    TransportOptions,
    describe_transport_error,
    parse_retry_after,
)
from regtui.core.errors import (
    AuthenticationError,
    DigestError,
    InsecureTransportError,
    InvalidReferenceError,
    ManifestError,
    NetworkError,
    NotFoundError,
    PermissionDeniedError,
    ProtocolError,
    RateLimitedError,
    RegistryError,
    RegtuiError,
    ServerError,
    TLSError,
)
from regtui.core.manifest import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    DOCKER_SCHEMA1,
    DOCKER_SCHEMA1_SIGNED,
    OCI_CONFIG,
    OCI_INDEX,
    OCI_MANIFEST,
    Descriptor,
    ImageIndex,
    ImageManifest,
    LegacyManifest,
    compute_digest,
)

REGISTRY = "http://127.0.0.1:5000"
BASE = REGISTRY
Handler = Callable[[httpx.Request], httpx.Response | Awaitable[httpx.Response]]

_NO_JSON = object()


def _resp(
    status: int = 200,
    *,
    content: bytes | AsyncIterator[bytes] = b"",
    headers: dict[str, str] | None = None,
    json_doc: Any = _NO_JSON,
) -> httpx.Response:
    """A response whose body is still unread, as from a real server.

    ``httpx.Response(content=b"...")`` pre-reads its body, which a real transport never
    does and which the client's ``aiter_raw()`` refuses (StreamConsumed).
    """
    headers = dict(headers or {})
    if json_doc is not _NO_JSON:
        content = json.dumps(json_doc).encode()
        headers.setdefault("Content-Type", "application/json")
    if isinstance(content, bytes):
        headers.setdefault("Content-Length", str(len(content)))
        return httpx.Response(status, headers=headers, stream=httpx.ByteStream(content))
    return httpx.Response(status, headers=headers, content=content)


class Recorder:
    """A MockTransport handler that records every request it answers."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[httpx.Request] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        result = self.handler(request)
        if isinstance(result, Awaitable):
            result = await result
        return result

    @property
    def urls(self) -> list[str]:
        return [str(r.url) for r in self.requests]


QUICK_RETRY = RetryPolicy(attempts=2, base_delay=0.0, max_retry_after=1.0)


def client_for(
    handler: Handler, registry: str = REGISTRY, **kwargs: Any
) -> tuple[RegistryClient, Recorder]:
    recorder = Recorder(handler)
    # Retries are covered by their own tests; elsewhere one quick retry keeps tests fast.
    kwargs.setdefault("options", TransportOptions(retry=QUICK_RETRY))
    return RegistryClient(registry, transport=httpx.MockTransport(recorder), **kwargs), recorder


def _json(doc: Any, status: int = 200, **headers: str) -> httpx.Response:
    return _resp(status, json_doc=doc, headers=headers)


def _errors(status: int, code: str, message: str, **headers: str) -> httpx.Response:
    return _json(
        {"errors": [{"code": code, "message": message, "detail": None}]}, status, **headers
    )


async def _chunks(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def _digest(n: int) -> str:
    return "sha256:" + f"{n:064x}"


def _manifest_bytes(**extra: Any) -> bytes:
    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": _digest(1), "size": 2},
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": _digest(2),
                "size": 3,
            }
        ],
        **extra,
    }
    # Deliberately odd whitespace: the digest is over these bytes, not a re-serialisation.
    return (json.dumps(doc, indent=3) + "\n\n").encode()


# Pagination ----------------------------------------------------------------------------------
def _paged(pages: dict[str, tuple[list[str], str | None]], key: str) -> Handler:
    """Serve ``pages`` keyed by ``last`` query value ('' for the first page)."""

    def handler(request: httpx.Request) -> httpx.Response:
        names, link = pages[request.url.params.get("last", "")]
        headers = {"Link": link} if link else {}
        return _json({"name": "app", key: names}, **headers)

    return handler


async def test_catalog_follows_relative_links() -> None:
    client, rec = client_for(
        _paged(
            {
                "": (["a", "b"], '</v2/_catalog?last=b&n=2>; rel="next"'),
                "b": (["c", "d"], '</v2/_catalog?last=d&n=2>; rel="next"'),
                "d": (["e"], None),
            },
            "repositories",
        )
    )
    async with client:
        assert await client.list_repositories(page_size=2) == ["a", "b", "c", "d", "e"]
    assert rec.urls == [
        f"{BASE}/v2/_catalog?n=2",
        f"{BASE}/v2/_catalog?last=b&n=2",
        f"{BASE}/v2/_catalog?last=d&n=2",
    ]


async def test_tags_follow_absolute_links_with_extra_params_and_other_rels() -> None:
    client, rec = client_for(
        _paged(
            {
                "": (
                    ["1.0", "1.1"],
                    f'<{BASE}/v2/app/tags/list?n=2&last=0.9>; rel="prev", '
                    f'<{BASE}/v2/app/tags/list?n=2&last=1.1&sig=x%2Cy>; rel="next"',
                ),
                "1.1": (["2.0"], f'<{BASE}/v2/app/tags/list?last=0>; rel=first; title="a, b"'),
            },
            "tags",
        )
    )
    async with client:
        assert await client.list_tags("app", page_size=2) == ["1.0", "1.1", "2.0"]
    assert rec.urls[1] == f"{BASE}/v2/app/tags/list?n=2&last=1.1&sig=x%2Cy"
    assert len(rec.urls) == 2  # rel="first" is not followed


@pytest.mark.parametrize("rel", ['rel="next"', "rel=next", 'REL="next"', 'rel="last next"'])
async def test_rel_next_spellings(rel: str) -> None:
    client, _rec = client_for(
        _paged({"": (["a"], f"</v2/_catalog?last=a>; {rel}"), "a": (["b"], None)}, "repositories")
    )
    async with client:
        assert await client.list_repositories() == ["a", "b"]


async def test_catalog_pages_are_streamed_page_by_page() -> None:
    client, _ = client_for(
        _paged(
            {"": (["a", "b"], '</v2/_catalog?last=b>; rel="next"'), "b": (["c"], None)},
            "repositories",
        )
    )
    async with client:
        pages = [page async for page in client.catalog_pages(page_size=2)]
    assert pages == [["a", "b"], ["c"]]


@pytest.mark.parametrize(
    "link",
    [
        '<https://evil.example/v2/_catalog?last=b>; rel="next"',
        '<//evil.example/v2/_catalog?last=b>; rel="next"',
        '<http://127.0.0.1:5001/v2/_catalog?last=b>; rel="next"',
        '<https://127.0.0.1:5000/v2/_catalog?last=b>; rel="next"',
    ],
)
async def test_link_to_another_host_is_refused(link: str) -> None:
    client, rec = client_for(_paged({"": (["a"], link)}, "repositories"))
    async with client:
        with pytest.raises(ProtocolError) as info:
            await client.list_repositories()
    assert "another host" in str(info.value)
    assert len(rec.requests) == 1  # nothing was sent to the other host


async def test_pagination_loop_is_detected() -> None:
    client, rec = client_for(
        _paged(
            {
                "": (["a"], '</v2/app/tags/list?last=a>; rel="next"'),
                "a": (["b"], '</v2/app/tags/list?last=a>; rel="next"'),
            },
            "tags",
        )
    )
    async with client:
        with pytest.raises(ProtocolError) as info:
            await client.list_tags("app")
    assert "loop" in str(info.value)
    assert len(rec.requests) == 2


async def test_loop_back_to_the_first_page_yields_no_duplicate_page() -> None:
    client, _ = client_for(
        _paged(
            {
                "": (["a"], '</v2/_catalog?last=a&n=1>; rel="next"'),
                "a": (["b"], '</v2/_catalog?n=1>; rel="next"'),
            },
            "repositories",
        )
    )
    pages: list[list[str]] = []
    async with client:
        with pytest.raises(ProtocolError):
            async for page in client.catalog_pages(page_size=1):
                pages.append(page)
    assert pages == [["a"], ["b"]]


async def test_null_tags_is_an_empty_list() -> None:
    client, _ = client_for(lambda r: _json({"name": "app", "tags": None}))
    async with client:
        assert await client.list_tags("app") == []


async def test_missing_repositories_is_an_empty_catalog() -> None:
    client, _ = client_for(lambda r: _json({}))
    async with client:
        assert await client.list_repositories() == []


@pytest.mark.parametrize("tags", ["latest", {"a": 1}, ["ok", 5], [None], 7])
async def test_malformed_tag_lists_are_protocol_errors(tags: Any) -> None:
    client, _ = client_for(lambda r: _json({"name": "app", "tags": tags}))
    async with client:
        with pytest.raises(ProtocolError) as info:
            await client.list_tags("app")
    assert "invalid tag list" in str(info.value)


@pytest.mark.parametrize("doc", [["a", "b"], "text", None, 5])
async def test_non_object_listing_is_a_protocol_error(doc: Any) -> None:
    client, _ = client_for(lambda r: _json(doc))
    async with client:
        with pytest.raises(ProtocolError):
            await client.list_repositories()


async def test_tag_listing_checks_the_repository_name_before_any_request() -> None:
    client, rec = client_for(lambda r: _json({"tags": []}))
    async with client:
        with pytest.raises(InvalidReferenceError):
            await client.list_tags("../../etc")
    assert rec.requests == []


HTML = b"<!DOCTYPE html><html><body><h1>Welcome to nginx!</h1></body></html>"


async def test_html_listing_gives_a_clear_error() -> None:
    client, _ = client_for(
        lambda r: _resp(200, content=HTML, headers={"Content-Type": "text/html"})
    )
    async with client:
        with pytest.raises(ProtocolError) as info:
            await client.list_tags("app")
    message = str(info.value)
    assert "not JSON" in message and "HTML" in message
    assert "<" not in message


async def test_html_error_page_gives_a_clear_error() -> None:
    client, _ = client_for(
        lambda r: _resp(404, content=HTML, headers={"Content-Type": "text/html"})
    )
    async with client:
        with pytest.raises(NotFoundError) as info:
            await client.list_tags("app")
    assert "HTML page" in str(info.value)
    assert "<" not in str(info.value)


async def test_ping_refuses_an_html_200() -> None:
    client, _ = client_for(
        lambda r: _resp(200, content=HTML, headers={"Content-Type": "text/html"})
    )
    async with client:
        with pytest.raises(ProtocolError) as info:
            await client.ping()
    assert "does not look like a registry" in str(info.value)


async def test_ping_reports_the_auth_challenge() -> None:
    challenge = 'Bearer realm="https://auth.example/token",service="registry"'
    client, _ = client_for(
        lambda r: _resp(
            401,
            json_doc={"errors": [{"code": "UNAUTHORIZED"}]},
            headers={
                "WWW-Authenticate": challenge,
                "Docker-Distribution-API-Version": "registry/2.0",
            },
        )
    )
    async with client:
        result = await client.ping()
    assert (result.status, result.challenge, result.api_version) == (401, challenge, "registry/2.0")
    assert result.scheme == "http"


# Manifests ----------------------------------------------------------------------------------
async def test_manifest_get_sends_the_accept_list_and_digests_the_exact_bytes() -> None:
    raw = _manifest_bytes()

    def handler(request: httpx.Request) -> httpx.Response:
        return _resp(
            200,
            content=raw,
            headers={"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": compute_digest(raw)},
        )

    client, rec = client_for(handler)
    async with client:
        fetched = await client.get_manifest("team/app", "1.0")
    (request,) = rec.requests
    assert request.method == "GET"
    assert request.url.path == "/v2/team/app/manifests/1.0"
    offered = [p.split(";")[0].strip() for p in request.headers["accept"].split(",")]
    assert offered[:4] == [OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST]
    assert set(offered[4:]) == {DOCKER_SCHEMA1_SIGNED, DOCKER_SCHEMA1}
    assert fetched.raw == raw
    assert fetched.digest == compute_digest(raw)
    assert fetched.header_digest == compute_digest(raw)
    assert fetched.size == len(raw)
    assert fetched.media_type == OCI_MANIFEST
    assert isinstance(fetched.manifest, ImageManifest)
    assert fetched.descriptor() == Descriptor(OCI_MANIFEST, compute_digest(raw), len(raw))


async def test_manifest_by_digest_is_verified() -> None:
    raw = _manifest_bytes()
    good = compute_digest(raw)
    client, _ = client_for(
        lambda r: _resp(200, content=raw, headers={"Content-Type": OCI_MANIFEST})
    )
    async with client:
        fetched = await client.get_manifest("app", good)
        assert fetched.digest == good
        with pytest.raises((DigestError, ManifestError)) as info:
            await client.get_manifest("app", _digest(99))
    assert "does not match" in str(info.value)


async def test_manifest_by_sha512_digest_is_verified() -> None:
    raw = _manifest_bytes()
    client, _ = client_for(
        lambda r: _resp(200, content=raw, headers={"Content-Type": OCI_MANIFEST})
    )
    async with client:
        fetched = await client.get_manifest("app", compute_digest(raw, "sha512"))
        assert fetched.digest == compute_digest(raw, "sha512")
        with pytest.raises((DigestError, ManifestError)):
            await client.get_manifest("app", "sha512:" + "0" * 128)


async def test_manifest_by_an_unverifiable_digest_is_not_returned_unverified() -> None:
    raw = _manifest_bytes()
    client, _ = client_for(
        lambda r: _resp(200, content=raw, headers={"Content-Type": OCI_MANIFEST})
    )
    async with client:
        with pytest.raises(RegtuiError):
            await client.get_manifest("app", "sha384:" + "0" * 96)


async def test_manifest_type_comes_from_content_type_or_body() -> None:
    index = json.dumps({"schemaVersion": 2, "manifests": []}).encode()
    client, _ = client_for(
        lambda r: _resp(200, content=index, headers={"Content-Type": "application/json"})
    )
    async with client:
        fetched = await client.get_manifest("app", "latest")
    assert isinstance(fetched.manifest, ImageIndex)
    assert fetched.media_type == OCI_INDEX


async def test_content_type_contradicting_the_body_is_refused() -> None:
    raw = _manifest_bytes()
    client, _ = client_for(lambda r: _resp(200, content=raw, headers={"Content-Type": OCI_INDEX}))
    async with client:
        with pytest.raises(ManifestError) as info:
            await client.get_manifest("app", "latest")
    assert "Content-Type" in str(info.value)


async def test_manifest_over_4_mib_is_refused_by_content_length() -> None:
    size = MAX_MANIFEST_BYTES + 1

    def handler(request: httpx.Request) -> httpx.Response:
        return _resp(
            200,
            content=_chunks(b" " * size),
            headers={"Content-Type": OCI_MANIFEST, "Content-Length": str(size)},
        )

    client, _ = client_for(handler)
    async with client:
        with pytest.raises(ManifestError) as info:
            await client.get_manifest("app", "latest")
    assert "too large" in str(info.value)
    assert str(size) in str(info.value)


async def test_manifest_over_4_mib_is_refused_while_streaming() -> None:
    sent = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(200):  # up to 12.5 MiB if the client kept reading
            sent += 64 * 1024
            yield b" " * (64 * 1024)

    def handler(request: httpx.Request) -> httpx.Response:
        return _resp(200, content=body(), headers={"Content-Type": OCI_MANIFEST})

    client, _ = client_for(handler)
    async with client:
        with pytest.raises(ManifestError) as info:
            await client.get_manifest("app", "latest")
    assert "too large" in str(info.value)
    assert sent <= MAX_MANIFEST_BYTES + 64 * 1024  # stopped reading at the limit


async def test_manifest_exactly_at_the_limit_is_accepted() -> None:
    raw = _manifest_bytes()
    padded = raw + b" " * (MAX_MANIFEST_BYTES - len(raw))
    client, _ = client_for(
        lambda r: _resp(200, content=_chunks(padded), headers={"Content-Type": OCI_MANIFEST})
    )
    async with client:
        fetched = await client.get_manifest("app", "latest")
    assert fetched.digest == compute_digest(padded)


CORPUS = Path(__file__).resolve().parent.parent / ".." / "shared" / "fixtures" / "manifests"


async def test_signed_schema1_is_identified_by_its_payload_digest() -> None:
    path = CORPUS / "legacy" / "schema1-signed-hello-world-moby.json"
    if not path.is_file():
        pytest.skip(f"fixture corpus not found at {CORPUS}")
    raw = path.read_bytes()
    # moby's TestValidateManifest expects this digest for the file.
    payload = "sha256:02fee8c3220ba806531f606525eceb83f4feb654f62b207191b1c9209188dedd"
    client, _ = client_for(
        lambda r: _resp(200, content=raw, headers={"Content-Type": DOCKER_SCHEMA1_SIGNED})
    )
    async with client:
        by_tag = await client.get_manifest("library/hello-world", "latest")
        by_digest = await client.get_manifest("library/hello-world", payload)
    assert isinstance(by_tag.manifest, LegacyManifest)
    assert by_tag.digest == payload != compute_digest(raw)
    assert by_digest.digest == payload


# Error mapping ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "code", "error_type"),
    [
        (401, "UNAUTHORIZED", AuthenticationError),
        (403, "DENIED", PermissionDeniedError),
        (404, "MANIFEST_UNKNOWN", NotFoundError),
        (429, "TOOMANYREQUESTS", RateLimitedError),
        (500, "UNKNOWN", ServerError),
        (503, "UNAVAILABLE", ServerError),
        (400, "NAME_INVALID", RegistryError),
    ],
)
async def test_http_errors_map_to_typed_errors(status: int, code: str, error_type: type) -> None:
    client, _ = client_for(lambda r: _errors(status, code, "the registry\nsays why"))
    async with client:
        with pytest.raises(error_type) as info:
            await client.get_manifest("app", "latest")
    error = info.value
    assert type(error) is error_type
    assert error.status == status
    assert error.has_code(code)
    assert error.errors[0].message == "the registry says why"
    text = str(error)
    assert "\n" not in text
    assert f"HTTP {status}" in text and code in text and "the registry says why" in text
    assert "/v2/app/manifests/latest" in text


async def test_401_without_body_says_authentication_is_required() -> None:
    client, _ = client_for(lambda r: _resp(401))
    async with client:
        with pytest.raises(AuthenticationError) as info:
            await client.list_tags("app")
    assert "authentication required by 127.0.0.1:5000" in str(info.value)


async def test_error_messages_never_contain_the_query_string() -> None:
    # Signed storage URLs carry credentials in their query.
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "127.0.0.1":
            return _resp(
                307, headers={"Location": "https://storage.example/blob?X-Amz-Signature=secret"}
            )
        return _resp(
            403, content=b"<Error>AccessDenied</Error>", headers={"Content-Type": "application/xml"}
        )

    client, _ = client_for(handler)
    async with client:
        with pytest.raises(PermissionDeniedError) as info:
            await client.get_blob("app", Descriptor(OCI_CONFIG, _digest(1), 2))
    assert "secret" not in str(info.value)
    assert "storage.example" in str(info.value)


async def test_huge_error_bodies_are_not_read_or_echoed() -> None:
    message = "x" * 10_000
    body = json.dumps({"errors": [{"code": "DENIED", "message": message}]}).encode()
    client, _ = client_for(
        lambda r: _resp(403, content=body, headers={"Content-Type": "application/json"})
    )
    async with client:
        with pytest.raises(PermissionDeniedError) as info:
            await client.list_tags("app")
    assert len(str(info.value)) < 500


async def test_plain_text_error_is_summarised() -> None:
    client, _ = client_for(
        lambda r: _resp(
            502, content=b"Bad Gateway\nupstream down\n", headers={"Content-Type": "text/plain"}
        )
    )
    async with client:
        with pytest.raises(ServerError) as info:
            await client.list_tags("app")
    assert "Bad Gateway upstream down" in str(info.value)


@pytest.mark.parametrize(
    ("header", "expected"),
    [("30", 30.0), ("0", 0.0), ("1.5", 1.5), ("-5", 0.0), ("999999", 3600.0)],
)
async def test_429_carries_retry_after_seconds(header: str, expected: float) -> None:
    client, _ = client_for(
        lambda r: _errors(429, "TOOMANYREQUESTS", "slow down", **{"Retry-After": header})
    )
    async with client:
        with pytest.raises(RateLimitedError) as info:
            await client.get_manifest("app", "latest")
    assert info.value.retry_after == expected


async def test_429_carries_retry_after_http_date() -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    client, _ = client_for(
        lambda r: _errors(429, "TOOMANYREQUESTS", "slow down", **{"Retry-After": when})
    )
    async with client:
        with pytest.raises(RateLimitedError) as info:
            await client.get_manifest("app", "latest")
    assert info.value.retry_after is not None
    assert 110 <= info.value.retry_after <= 121


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("  42 ", 42.0),
        ("abc", None),
        ("nan", None),
        ("-1", 0.0),
        ("7200", 3600.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # in the past: retry now
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


def test_parse_retry_after_future_date() -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=600), usegmt=True)
    result = parse_retry_after(when)
    assert result is not None and 590 <= result <= 601


def test_parse_retry_after_date_without_zone() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 -0000") == 0.0


# HEAD -----------------------------------------------------------------------------------------
async def test_head_manifest() -> None:
    digest = _digest(7)

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.method == "HEAD"
        assert request.headers["accept"].startswith(OCI_INDEX)
        return _resp(
            200,
            headers={
                "Content-Type": f"{OCI_INDEX}; charset=utf-8",
                "Content-Length": "1234",
                "Docker-Content-Digest": digest,
            },
        )

    client, rec = client_for(handler)
    async with client:
        head = await client.head_manifest("team/app", "v1")
    assert (head.digest, head.media_type, head.size) == (digest, OCI_INDEX, 1234)
    assert rec.requests[0].url.path == "/v2/team/app/manifests/v1"


@pytest.mark.parametrize("bad", ["sha256:../../etc/passwd", "SHA256:" + "a" * 64, "garbage"])
async def test_head_manifest_ignores_an_invalid_digest_header(bad: str) -> None:
    client, _ = client_for(lambda r: _resp(200, headers={"Docker-Content-Digest": bad}))
    async with client:
        head = await client.head_manifest("app", "v1")
    assert head.digest is None
    assert head.size is None or head.size == 0


async def test_head_manifest_404() -> None:
    client, _ = client_for(lambda r: _resp(404))
    async with client:
        with pytest.raises(NotFoundError):
            await client.head_manifest("app", "missing")


# Blobs ----------------------------------------------------------------------------------------
CONFIG = b'{"architecture":"amd64","os":"linux"}'


def _blob_client(
    body: bytes | AsyncIterator[bytes], **headers: str
) -> tuple[RegistryClient, Recorder]:
    return client_for(lambda r: _resp(200, content=body, headers=headers))


async def test_get_blob_returns_verified_bytes() -> None:
    client, rec = _blob_client(CONFIG)
    async with client:
        data = await client.get_blob(
            "app", Descriptor(OCI_CONFIG, compute_digest(CONFIG), len(CONFIG))
        )
    assert data == CONFIG
    assert rec.requests[0].url.path == f"/v2/app/blobs/{compute_digest(CONFIG)}"


async def test_get_blob_with_wrong_content_is_refused() -> None:
    tampered = CONFIG.replace(b"amd64", b"arm64")
    client, _ = _blob_client(tampered)
    async with client:
        with pytest.raises(DigestError) as info:
            await client.get_blob(
                "app", Descriptor(OCI_CONFIG, compute_digest(CONFIG), len(CONFIG))
            )
    assert "failed verification" in str(info.value)


async def test_get_blob_shorter_than_its_descriptor_is_refused() -> None:
    client, _ = _blob_client(CONFIG[:-1])
    async with client:
        with pytest.raises(DigestError):
            await client.get_blob(
                "app", Descriptor(OCI_CONFIG, compute_digest(CONFIG), len(CONFIG))
            )


@pytest.mark.parametrize("with_length", [True, False])
async def test_get_blob_longer_than_its_descriptor_is_refused(with_length: bool) -> None:
    longer = CONFIG + b" " * 100
    headers = {"Content-Length": str(len(longer))} if with_length else {}
    client, _ = _blob_client(_chunks(longer, 16), **headers)
    async with client:
        with pytest.raises((DigestError, ManifestError)) as info:
            await client.get_blob(
                "app", Descriptor(OCI_CONFIG, compute_digest(CONFIG), len(CONFIG))
            )
    assert "larger than its descriptor" in str(info.value)


async def test_get_blob_over_the_size_limit_is_refused_without_a_request() -> None:
    client, rec = _blob_client(CONFIG)
    async with client:
        with pytest.raises(ManifestError) as info:
            await client.get_blob("app", Descriptor(OCI_CONFIG, _digest(1), 10_000), max_size=1000)
    assert "limit" in str(info.value)
    assert rec.requests == []


@pytest.mark.parametrize(
    "digest", ["sha256:../../../etc/passwd", "sha256+b64:abc", "md5:" + "0" * 32]
)
async def test_get_blob_refuses_unverifiable_digests_without_a_request(digest: str) -> None:
    client, rec = _blob_client(CONFIG)
    async with client:
        # The registry's document named the digest, not the user: a manifest problem.
        with pytest.raises(ManifestError, match="cannot verify blob"):
            await client.get_blob("app", Descriptor(OCI_CONFIG, digest, len(CONFIG)))
    assert rec.requests == []


async def test_blob_redirect_to_storage_drops_credentials() -> None:
    digest = compute_digest(CONFIG)

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "127.0.0.1":
            return _resp(307, headers={"Location": "https://storage.example/b?sig=1"})
        return _resp(200, content=CONFIG)

    client, rec = client_for(handler, auth=httpx.BasicAuth("user", "s3cret"))
    async with client:
        assert await client.get_blob("app", Descriptor(OCI_CONFIG, digest, len(CONFIG))) == CONFIG
    registry_request, storage_request = rec.requests
    assert "authorization" in registry_request.headers
    assert "authorization" not in storage_request.headers


async def test_stream_blob_sends_a_range_when_resuming() -> None:
    client, rec = _blob_client(CONFIG[10:])
    async with client, client.stream_blob("app", compute_digest(CONFIG), offset=10) as response:
        assert response.status_code == 200
    assert rec.requests[0].headers["range"] == "bytes=10-"


# Transport ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "registry", ["http://10.0.0.5:5000", "http://registry.example.com", "http://docker.io"]
)
def test_plain_http_to_a_non_loopback_registry_is_refused(registry: str) -> None:
    with pytest.raises(InsecureTransportError) as info:
        RegistryClient(registry)
    assert "--insecure" in str(info.value)


@pytest.mark.parametrize(
    "registry", ["http://localhost:5000", "http://127.0.0.1:5000", "http://[::1]:5000"]
)
async def test_plain_http_to_loopback_is_allowed(registry: str) -> None:
    client, rec = client_for(lambda r: _json({"tags": ["a"]}), registry)
    async with client:
        assert await client.list_tags("app") == ["a"]
    assert rec.requests[0].url.scheme == "http"


async def test_plain_http_with_insecure_is_allowed() -> None:
    client, rec = client_for(
        lambda r: _json({"tags": []}),
        "http://10.0.0.5:5000",
        options=TransportOptions(insecure=True),
    )
    async with client:
        await client.list_tags("app")
    assert str(rec.requests[0].url).startswith("http://10.0.0.5:5000/")


async def test_non_loopback_registry_uses_https_without_probing() -> None:
    client, rec = client_for(lambda r: _json({"tags": []}), "ghcr.io")
    async with client:
        assert await client.base_url() == "https://ghcr.io"
        await client.list_tags("org/app")
    assert [r.url.scheme for r in rec.requests] == ["https"]


async def test_docker_hub_api_host_is_used() -> None:
    client, rec = client_for(lambda r: _json({"tags": []}), "docker.io")
    async with client:
        await client.list_tags("library/alpine")
    assert rec.requests[0].url.host == "registry-1.docker.io"


async def test_loopback_without_scheme_uses_plain_http() -> None:
    client, rec = client_for(lambda r: _json({"tags": ["x"]}), "127.0.0.1:5000")
    async with client:
        assert await client.list_tags("app") == ["x"]
        assert await client.base_url() == "http://127.0.0.1:5000"
    assert [r.url.scheme for r in rec.requests] == ["http", "http"]  # probed once


async def test_loopback_tls_server_is_recognised_by_its_answer_to_plain_http() -> None:
    # Go (distribution) and nginx answer a plain request on a TLS port with such a 400.
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.scheme == "http":
            return httpx.Response(400, text="Client sent an HTTP request to an HTTPS server.")
        return _json({"tags": ["x"]})

    client, rec = client_for(handler, "localhost:5000")
    async with client:
        assert await client.list_tags("app") == ["x"]
        assert await client.base_url() == "https://localhost:5000"
    assert [r.url.scheme for r in rec.requests] == ["http", "https"]


async def test_loopback_server_dropping_plain_http_gets_https() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.scheme == "http":
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
        return _json({"tags": []})

    client, _rec = client_for(handler, "localhost:5000")
    async with client:
        assert await client.base_url() == "https://localhost:5000"


async def test_loopback_with_untrusted_certificate_stays_on_https() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        cause = ssl.SSLCertVerificationError("certificate verify failed: self-signed certificate")
        raise httpx.ConnectError(
            "[SSL: CERTIFICATE_VERIFY_FAILED] self-signed certificate"
        ) from cause

    client, _ = client_for(handler, "127.0.0.1:5000")
    async with client:
        assert await client.base_url() == "https://127.0.0.1:5000"
        with pytest.raises(TLSError) as info:
            await client.list_tags("app")
    assert "--ca-file" in str(info.value) and "self-signed certificate" in str(info.value)


async def test_transport_failures_become_network_errors() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused")

    client, _ = client_for(handler)
    async with client:
        with pytest.raises(NetworkError) as info:
            await client.get_manifest("app", "latest")
    assert str(info.value) == "cannot connect to 127.0.0.1:5000: connection refused"


async def test_read_timeout_mid_body_becomes_a_network_error() -> None:
    async def body() -> AsyncIterator[bytes]:
        yield b'{"schemaVersion": 2,'
        raise httpx.ReadTimeout("timed out")

    client, _ = client_for(
        lambda r: _resp(200, content=body(), headers={"Content-Type": OCI_MANIFEST})
    )
    async with client:
        with pytest.raises(NetworkError) as info:
            await client.get_manifest("app", "latest")
    assert "read timeout" in str(info.value)


async def test_redirect_loop_is_a_protocol_error() -> None:
    client, _ = client_for(lambda r: _resp(302, headers={"Location": "/v2/app/tags/list"}))
    async with client:
        with pytest.raises(ProtocolError) as info:
            await client.list_tags("app")
    assert "redirects" in str(info.value)


async def test_connection_refused_by_a_real_closed_port() -> None:
    started = time.monotonic()
    async with RegistryClient("http://127.0.0.1:1") as client:
        with pytest.raises(NetworkError) as info:
            await client.ping()
    assert "connection refused" in str(info.value)
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    ("exc", "error_type", "says"),
    [
        (httpx.ConnectError("[Errno 111] Connection refused"), NetworkError, "connection refused"),
        (httpx.ConnectError("All connection attempts failed"), NetworkError, "connection refused"),
        (
            httpx.ConnectError("[Errno -2] Name or service not known"),
            NetworkError,
            "cannot resolve host",
        ),
        (
            httpx.ConnectError("[Errno 8] nodename nor servname provided"),
            NetworkError,
            "cannot resolve host",
        ),
        (
            httpx.ConnectError("[Errno 101] Network is unreachable"),
            NetworkError,
            "Network is unreachable",
        ),
        (httpx.ConnectTimeout("timed out"), NetworkError, "timed out connecting to"),
        (httpx.ReadTimeout("timed out"), NetworkError, "read timeout"),
        (httpx.PoolTimeout("timed out"), NetworkError, "timed out talking to"),
        (httpx.WriteTimeout("timed out"), NetworkError, "timed out talking to"),
        (
            httpx.RemoteProtocolError("Server disconnected\nwithout sending a response."),
            NetworkError,
            "broke",
        ),
        (
            httpx.ConnectError("[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)"),
            TLSError,
            "does not speak HTTPS",
        ),
        (
            httpx.ConnectError(
                "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: "
                "certificate has expired"
            ),
            TLSError,
            "certificate has expired",
        ),
        (
            httpx.ConnectError("[SSL: TLSV1_ALERT_PROTOCOL_VERSION] tlsv1 alert"),
            TLSError,
            "TLS handshake",
        ),
    ],
)
def test_describe_transport_error(exc: httpx.TransportError, error_type: type, says: str) -> None:
    error = describe_transport_error(exc, "registry.example:5000")
    assert type(error) is error_type
    text = str(error)
    assert says in text
    assert "registry.example:5000" in text
    assert "\n" not in text


def test_describe_connection_refused_from_its_cause() -> None:
    try:
        try:
            raise ConnectionRefusedError(111, "Connect call failed")
        except ConnectionRefusedError as inner:
            raise httpx.ConnectError("") from inner
    except httpx.ConnectError as exc:
        error = describe_transport_error(exc, "h:1")
    assert str(error) == "cannot connect to h:1: connection refused"


async def test_content_encoded_documents_are_decoded() -> None:
    # A proxy may gzip JSON (nginx gzip_types application/json); the digest of a manifest
    # is that of the document, not of its transfer encoding.
    raw = _manifest_bytes()
    tags = json.dumps({"name": "app", "tags": ["1.0"]}).encode()

    def handler(request: httpx.Request) -> httpx.Response:
        body, ctype = (
            (tags, "application/json") if "tags" in request.url.path else (raw, OCI_MANIFEST)
        )
        return _resp(
            content=gzip.compress(body), headers={"Content-Type": ctype, "Content-Encoding": "gzip"}
        )

    client, _ = client_for(handler)
    async with client:
        assert await client.list_tags("app") == ["1.0"]
        fetched = await client.get_manifest("app", compute_digest(raw))
    assert fetched.raw == raw


async def test_blobs_are_requested_without_content_encoding() -> None:
    client, rec = _blob_client(CONFIG)
    async with client:
        await client.get_blob("app", Descriptor(OCI_CONFIG, compute_digest(CONFIG), len(CONFIG)))
    assert rec.requests[0].headers["accept-encoding"] == "identity"


class _BodyReadingAuth(httpx.Auth):
    """Like a token auth that inspects 401 bodies: httpx then reads every response."""

    requires_response_body = True

    def auth_flow(self, request: httpx.Request) -> Any:
        request.headers["Authorization"] = "Bearer token"
        yield request


async def test_auth_that_reads_response_bodies_works() -> None:
    client, _ = client_for(lambda r: _json({"tags": ["a"]}), auth=_BodyReadingAuth())
    async with client:
        assert await client.list_tags("app") == ["a"]


async def test_small_first_catalog_page_then_full_pages() -> None:
    # Rows appear after a small first request; later pages are full-sized.
    repos = [f"r{i:04d}" for i in range(250)]

    def handler(request: httpx.Request) -> httpx.Response:
        n = int(request.url.params["n"])
        last = request.url.params.get("last")
        start = repos.index(last) + 1 if last else 0
        page = repos[start : start + n]
        headers = {}
        if start + n < len(repos):
            headers["Link"] = f'</v2/_catalog?last={page[-1]}&n={n}>; rel="next"'
        return _json({"repositories": page}, **headers)

    client, rec = client_for(handler)
    async with client:
        pages = [p async for p in client.catalog_pages(100, first_page_size=10)]
    assert [len(p) for p in pages] == [10, 100, 100, 40]
    assert [r.url.params["n"] for r in rec.requests] == ["10", "100", "100", "100"]
    assert [r for p in pages for r in p] == repos
