"""Parsing what users type: image references, registries, tags and digests.

The grammar is Docker's (``distribution/reference``); the expected values below are what
``docker pull`` does with the same text.
"""

from __future__ import annotations

import re
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regtui.core.errors import InvalidReferenceError, UsageError
from regtui.core.reference import (
    DOCKER_HUB,
    DOCKER_HUB_API,
    Reference,
    Registry,
    is_digest,
    parse_reference,
    parse_registry,
    validate_digest,
    validate_repository,
    validate_tag,
)

SHA = "sha256:" + "0123456789abcdef" * 4
SHA512 = "sha512:" + "0123456789abcdef" * 8


def _error(text: str, **kwargs: object) -> str:
    with pytest.raises(InvalidReferenceError) as info:
        parse_reference(text, **kwargs)  # type: ignore[arg-type]
    message = str(info.value)
    assert "\n" not in message
    return message


# Docker Hub normalisation -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "repository", "tag"),
    [
        ("alpine", "library/alpine", "latest"),
        ("alpine:3.19", "library/alpine", "3.19"),
        ("docker.io/alpine", "library/alpine", "latest"),
        ("docker.io/library/alpine", "library/alpine", "latest"),
        ("index.docker.io/x/y", "x/y", "latest"),
        ("registry-1.docker.io/alpine:edge", "library/alpine", "edge"),
        ("registry.hub.docker.com/user/app", "user/app", "latest"),
        ("user/repo", "user/repo", "latest"),
        ("user/repo:v1", "user/repo", "v1"),
        ("a/b/c", "a/b/c", "latest"),
    ],
)
def test_docker_hub_references_are_normalised(text: str, repository: str, tag: str) -> None:
    ref = parse_reference(text)
    assert ref.registry.host == DOCKER_HUB
    assert ref.registry.is_docker_hub
    assert ref.registry.api_host == DOCKER_HUB_API
    assert ref.repository == repository
    assert ref.tag == tag
    assert ref.digest is None
    assert ref.name == f"docker.io/{repository}"


def test_hub_reference_scope_and_api_path_use_the_library_namespace() -> None:
    ref = parse_reference("alpine")
    assert ref.scope() == "repository:library/alpine:pull"
    assert ref.ref == "latest"
    assert str(ref) == "docker.io/library/alpine:latest"


# Registry detection -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "host", "repository"),
    [
        ("ghcr.io/org/app", "ghcr.io", "org/app"),
        ("quay.io/app", "quay.io", "app"),
        ("localhost/app", "localhost", "app"),
        ("localhost:5000/app", "localhost:5000", "app"),
        ("127.0.0.1:5000/a/b", "127.0.0.1:5000", "a/b"),
        ("registry.example.com:443/team/app", "registry.example.com:443", "team/app"),
        ("[::1]:5000/app", "[::1]:5000", "app"),
        ("[::1]/app", "[::1]", "app"),
        ("[2001:db8::1]:5000/app", "[2001:db8::1]:5000", "app"),
        # Upper case makes the first component a host (Docker's rule); hosts are lowercased.
        ("MyRegistry/app", "MyRegistry", "app"),
    ],
)
def test_first_component_is_a_registry_only_when_it_looks_like_one(
    text: str, host: str, repository: str
) -> None:
    ref = parse_reference(text)
    assert ref.registry.host == host
    assert ref.registry.api_host == host
    assert not ref.registry.is_docker_hub
    assert ref.repository == repository  # no library/ outside Docker Hub
    assert ref.tag == "latest"


def test_a_plain_first_component_is_a_docker_hub_namespace() -> None:
    ref = parse_reference("myregistry/app")
    assert ref.registry.host == DOCKER_HUB
    assert ref.repository == "myregistry/app"


def test_port_is_not_mistaken_for_a_tag() -> None:
    ref = parse_reference("localhost:5000/app")
    assert (ref.registry.host, ref.repository, ref.tag) == ("localhost:5000", "app", "latest")
    ref = parse_reference("localhost:5000/app:5001")
    assert (ref.registry.host, ref.repository, ref.tag) == ("localhost:5000", "app", "5001")


def test_ipv6_registry_hostname_and_loopback() -> None:
    registry = parse_reference("[::1]:5000/app").registry
    assert registry.hostname == "::1"
    assert registry.is_loopback


@pytest.mark.parametrize(
    "text", ["[::1:5000/app", "[zz::1]/app", "[1:2:3:4:5:6:7:8:9]/app", "host:99999/app"]
)
def test_malformed_hosts_are_rejected(text: str) -> None:
    _error(text)


def test_port_zero_and_out_of_range_ports_are_rejected() -> None:
    assert "port" in _error("host:0/app")
    assert "port" in _error("host:65536/app")
    assert parse_reference("host:65535/app").registry.host == "host:65535"


# Schemes --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "scheme"),
    [
        ("http://localhost:5000/app", "http"),
        ("https://ghcr.io/org/app:1", "https"),
        ("HTTPS://ghcr.io/org/app", "https"),
        ("ghcr.io/org/app", None),
    ],
)
def test_scheme_prefix_is_kept_on_the_registry(text: str, scheme: str | None) -> None:
    ref = parse_reference(text)
    assert ref.registry.scheme == scheme
    assert "://" not in ref.registry.host
    assert "://" not in str(ref)


@pytest.mark.parametrize(
    "text", ["http://10.0.0.5:5000", "http://10.0.0.5:5000/", "https://ghcr.io"]
)
def test_scheme_of_a_bare_registry_is_kept(text: str) -> None:
    # `regtui ls http://host:5000` must not silently switch to HTTPS (or drop the scheme
    # that makes the client refuse plain HTTP to a non-loopback host).
    ref = parse_reference(text, require_repository=False)
    assert ref.repository == ""
    assert ref.registry.scheme == text.split("://")[0]


# Tags and digests -------------------------------------------------------------------------
def test_tag_and_digest_together() -> None:
    ref = parse_reference(f"ghcr.io/org/app:1.2@{SHA}")
    assert ref.tag == "1.2"
    assert ref.digest == SHA
    assert ref.ref == SHA  # the digest is what gets fetched
    assert str(ref) == f"ghcr.io/org/app:1.2@{SHA}"


def test_digest_only_gets_no_default_tag() -> None:
    ref = parse_reference(f"alpine@{SHA}")
    assert ref.tag is None
    assert ref.digest == SHA
    assert ref.ref == SHA


def test_default_tag_can_be_left_empty() -> None:
    ref = parse_reference("ghcr.io/org/app", default_tag=None)
    assert ref.tag is None
    assert ref.ref == "latest"  # the registry default is still what a fetch asks for


def test_with_tag_drops_digest_and_with_digest_validates() -> None:
    ref = parse_reference(f"ghcr.io/org/app:1@{SHA}")
    assert ref.with_tag("2") == Reference(ref.registry, "org/app", "2", None)
    assert ref.with_digest(SHA512).digest == SHA512
    with pytest.raises(InvalidReferenceError):
        ref.with_digest("sha256:../../etc/passwd")


@pytest.mark.parametrize(
    "tag", ["latest", "v1.2.3", "1.0-rc_1", "_underscore", "A" * 128, "UPPER", "0"]
)
def test_valid_tags(tag: str) -> None:
    assert parse_reference(f"ghcr.io/org/app:{tag}").tag == tag
    assert validate_tag(tag) == tag


@pytest.mark.parametrize(
    "tag", ["", ".hidden", "-dash", "A" * 129, "tag+plus", "tag/slash", "é", "٣", "tag\x00"]
)
def test_invalid_tags_are_rejected_with_the_rule(tag: str) -> None:
    with pytest.raises(InvalidReferenceError) as info:
        validate_tag(tag)
    assert "128" in str(info.value)
    assert "not starting with '.' or '-'" in str(info.value)
    assert "\n" not in str(info.value)


def test_non_ascii_tag_in_a_reference_is_rejected() -> None:
    assert "invalid tag" in _error("alpine:café")


# validate_digest ------------------------------------------------------------------------------
def test_valid_digests() -> None:
    assert validate_digest(SHA) == SHA
    assert validate_digest(SHA512) == SHA512
    assert is_digest(SHA)
    assert not is_digest("latest")


@pytest.mark.parametrize(
    ("digest", "says"),
    [
        ("sha256:" + "0123456789ABCDEF" * 4, "lowercase hex"),
        ("sha256:" + "a" * 63, "64 lowercase hex"),
        ("sha256:" + "a" * 65, "64 lowercase hex"),
        ("sha256:../../../../etc/passwd", "64 lowercase hex"),
        ("sha256:../" + "a" * 61, "64 lowercase hex"),
        ("sha256:" + "g" * 64, "64 lowercase hex"),
        ("sha512:" + "a" * 64, "128 lowercase hex"),
        ("md5:d41d8cd98f00b204e9800998ecf8427e", "unsupported digest algorithm 'md5'"),
        ("sha256+b64:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564", "unsupported"),
        ("0123456789abcdef" * 4, "expected 'sha256:'"),
        ("", "expected 'sha256:'"),
        ("sha256:", "64 lowercase hex"),
        ("SHA256:" + "a" * 64, "sha256"),
    ],
)
def test_invalid_digests_say_what_is_wrong(digest: str, says: str) -> None:
    with pytest.raises(InvalidReferenceError) as info:
        validate_digest(digest)
    message = str(info.value)
    assert says in message
    assert "\n" not in message
    assert len(message) < 200  # a hostile digest is clipped, not echoed in full
    assert not is_digest(digest)


def test_a_huge_invalid_digest_is_clipped_in_the_message() -> None:
    with pytest.raises(InvalidReferenceError) as info:
        validate_digest("sha256:" + "a" * 100_000)
    assert len(str(info.value)) < 200


def test_reference_with_a_bad_digest_is_rejected() -> None:
    assert "64 lowercase hex" in _error("alpine@sha256:abc")


# Repository names ---------------------------------------------------------------------------
def test_uppercase_repository_gets_a_clear_message() -> None:
    message = _error("Alpine")
    assert "lowercase" in message
    assert "Alpine" in message
    assert "lowercase" in _error("ghcr.io/Org/app")


@pytest.mark.parametrize(
    "text",
    [
        "ghcr.io/org//app",
        "ghcr.io/org/app/",
        "ghcr.io/-app",
        "ghcr.io/app-",
        "ghcr.io/a..b",
        "ghcr.io/a___b",
        "ghcr.io/a%20b",
        "ghcr.io/",  # a bare registry is not an image
    ],
)
def test_malformed_repositories_are_rejected(text: str) -> None:
    _error(text)


@pytest.mark.parametrize("name", ["a", "a-b", "a--b", "a__b", "a.b", "a_b", "0/1/2", "a-b.c_d"])
def test_repository_separators_follow_the_grammar(name: str) -> None:
    assert validate_repository(name) == name


def test_repository_length_limit() -> None:
    # distribution limits the whole name (host/path) to 255 characters.
    host = "ghcr.io"
    longest = "a" * (255 - len(host) - 1)
    assert parse_reference(f"{host}/{longest}").repository == longest
    assert "255" in _error(f"{host}/{longest}a")
    # On Docker Hub the implicit "docker.io/library/" counts too.
    assert "255" in _error("a" * 250)


def test_surrounding_whitespace_is_ignored_but_inner_whitespace_is_not() -> None:
    assert parse_reference("  alpine:3\n").tag == "3"
    assert "whitespace" in _error("alpine :3")
    assert "whitespace" in _error("ghcr.io/org/app\tx")


@pytest.mark.parametrize("text", ["", "   ", "\n"])
def test_empty_input(text: str) -> None:
    assert "empty" in _error(text)


def test_errors_are_usage_errors() -> None:
    # The CLI maps UsageError to exit status 2; a bad reference is the user's mistake.
    with pytest.raises(UsageError):
        parse_reference("Alpine")


# Bare registries (ls / TUI) -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "host"),
    [
        ("ghcr.io", "ghcr.io"),
        ("ghcr.io/", "ghcr.io"),
        ("localhost", "localhost"),
        ("127.0.0.1:5000", "127.0.0.1:5000"),
        ("[::1]:5000", "[::1]:5000"),
        ("docker.io", DOCKER_HUB),
        ("index.docker.io", DOCKER_HUB),
    ],
)
def test_bare_registry_without_repository(text: str, host: str) -> None:
    ref = parse_reference(text, require_repository=False, default_tag=None)
    assert ref.registry.host == host
    assert ref.repository == ""
    assert ref.tag is None


def test_require_repository_false_still_parses_repositories() -> None:
    ref = parse_reference("ghcr.io/org/app", require_repository=False, default_tag=None)
    assert (ref.registry.host, ref.repository, ref.tag) == ("ghcr.io", "org/app", None)
    ref = parse_reference("ghcr.io/org/", require_repository=False, default_tag=None)
    assert ref.repository == "org"
    # A lone word that is not a host is still a Docker Hub repository.
    ref = parse_reference("alpine", require_repository=False, default_tag=None)
    assert (ref.registry.host, ref.repository) == (DOCKER_HUB, "library/alpine")


def test_without_require_repository_a_lone_host_with_port_is_not_hub_tag() -> None:
    # With a repository required, Docker reads "localhost:5000" as library/localhost:5000.
    ref = parse_reference("localhost:5000")
    assert (ref.registry.host, ref.repository, ref.tag) == (
        DOCKER_HUB,
        "library/localhost",
        "5000",
    )


# parse_registry and is_loopback -------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "host", "scheme"),
    [
        ("ghcr.io", "ghcr.io", None),
        ("https://quay.io/", "quay.io", "https"),
        ("http://127.0.0.1:5000", "127.0.0.1:5000", "http"),
        ("GHCR.IO", "ghcr.io", None),
        ("index.docker.io", DOCKER_HUB, None),
        ("registry-1.docker.io", DOCKER_HUB, None),
    ],
)
def test_parse_registry(text: str, host: str, scheme: str | None) -> None:
    registry = parse_registry(text)
    assert (registry.host, registry.scheme) == (host, scheme)


@pytest.mark.parametrize("text", ["", "https://", "ghcr.io/org", "gh cr.io", "-bad-.io", "a:b"])
def test_parse_registry_rejects_non_hosts(text: str) -> None:
    with pytest.raises(InvalidReferenceError):
        parse_registry(text)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("localhost:5000", True),
        ("LOCALHOST:5000", True),
        ("registry.localhost", True),
        ("a.b.localhost:443", True),
        ("127.0.0.1", True),
        ("127.0.0.1:5000", True),
        ("127.255.255.254:80", True),
        ("[::1]", True),
        ("[::1]:5000", True),
        ("10.0.0.1:5000", False),
        ("192.168.1.10", False),
        ("128.0.0.1", False),
        ("example.com", False),
        ("localhost.example.com", False),
        ("notlocalhost", False),
        ("[::2]:5000", False),
        ("docker.io", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert parse_registry(host).is_loopback is loopback


def test_registry_str_is_the_host() -> None:
    assert str(Registry("ghcr.io", "https")) == "ghcr.io"


# Properties -----------------------------------------------------------------------------------
_COMPONENT = st.from_regex(r"[a-z0-9]{1,4}(?:(?:[._]|__|-{1,2})[a-z0-9]{1,4}){0,2}", fullmatch=True)
_REPOSITORY = st.lists(_COMPONENT, min_size=1, max_size=3).map("/".join)
_TAG_TEXT = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True)
_DIGEST_TEXT = st.text(alphabet="0123456789abcdef", min_size=64, max_size=64).map(
    lambda h: "sha256:" + h
)
_HOST_TEXT = st.sampled_from(
    [
        "ghcr.io",
        "quay.io",
        "localhost",
        "localhost:5000",
        "127.0.0.1:5000",
        "[::1]:5000",
        "registry.example.com:8443",
        "docker.io",
    ]
)

_TAG_GRAMMAR = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\Z")
_COMPONENT_GRAMMAR = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*\Z")


@settings(max_examples=120, deadline=None)
@given(
    host=_HOST_TEXT,
    repository=_REPOSITORY,
    tag=st.none() | _TAG_TEXT,
    digest=st.none() | _DIGEST_TEXT,
)
def test_round_trip_of_generated_references(
    host: str, repository: str, tag: str | None, digest: str | None
) -> None:
    text = f"{host}/{repository}"
    if tag:
        text += f":{tag}"
    if digest:
        text += f"@{digest}"
    ref = parse_reference(text)
    expected_repo = (
        f"library/{repository}" if host == "docker.io" and "/" not in repository else repository
    )
    assert ref.registry.host == host
    assert ref.repository == expected_repo
    assert ref.digest == digest
    assert ref.tag == (tag if tag or digest else "latest")
    # What regtui prints parses back to the same reference.
    assert parse_reference(str(ref)) == ref


@settings(max_examples=500, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(string.ascii_letters + string.digits + "/:@._-[]+ ")
        | st.characters(),
        max_size=60,
    ),
    st.booleans(),
)
def test_any_text_parses_or_raises_invalid_reference(text: str, require_repository: bool) -> None:
    try:
        ref = parse_reference(text, require_repository=require_repository)
    except InvalidReferenceError as exc:
        assert str(exc)
        assert "\n" not in str(exc)
        return
    # Whatever is accepted obeys the grammar a registry will enforce.
    if ref.tag is not None:
        assert _TAG_GRAMMAR.match(ref.tag), ref.tag
    if ref.digest is not None:
        assert validate_digest(ref.digest)
    if ref.repository or require_repository:
        assert all(_COMPONENT_GRAMMAR.match(c) for c in ref.repository.split("/")), ref
    assert not any(c.isspace() for c in str(ref))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_validate_digest_and_parse_registry_never_crash(text: str) -> None:
    for func in (validate_digest, parse_registry):
        try:
            func(text)
        except InvalidReferenceError:
            pass


def test_upper_case_host_round_trips() -> None:
    ref = parse_reference("MyRegistry/app")
    assert parse_reference(str(ref)) == ref
