"""The webhook address policy on its own: which URLs are refused and why, what the allow-list
opens, and where a checked URL connects. No network: names resolve through an injected table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest
from pydantic import ValidationError

from deshi.settings import Settings
from deshi.webhooks.models import WebhookCreate
from deshi.webhooks.outbound import (
    OutboundPolicy,
    RefusedDestinationError,
    Resolver,
    UnresolvedHostError,
    check_destination,
    check_url_form,
)

PUBLIC_V4 = "93.184.215.14"
PUBLIC_V6 = "2606:2800:21f:cb07:6820:80da:af6b:8b2c"


def table(answers: Mapping[str, Sequence[str]]) -> OutboundPolicy:
    """A policy resolving names from `answers` (unknown names do not resolve)."""
    return OutboundPolicy(resolver=_table_resolver(answers))


def _table_resolver(answers: Mapping[str, Sequence[str]]) -> Resolver:
    def resolve(host: str) -> Sequence[str]:
        if host not in answers:
            raise OSError(-2, "Name or service not known")
        return answers[host]

    return resolve


STRICT = table({})


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:8080/hook", "loopback"),
        ("http://127.9.9.9/", "loopback"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[::1]:6379", "loopback"),
        ("http://10.0.0.1", "private"),
        ("http://172.16.0.1/", "private"),
        ("http://192.168.1.1/", "private"),
        ("http://[fd00:ec2::254]/", "private"),  # a ULA: AWS's IPv6 metadata service
        ("http://[fe80::1]/", "link-local"),
        ("http://100.64.0.1/", "CGNAT"),
        ("http://100.100.100.200/", "CGNAT"),  # Alibaba Cloud's metadata service
        ("http://192.0.0.192/", "special-purpose"),  # Oracle Cloud's metadata service
        ("http://224.0.0.1/", "multicast"),
        ("http://[ff02::1]/", "multicast"),
        ("http://0.0.0.0:8000/", "unspecified"),
        ("http://[::]/", "unspecified"),
        ("http://240.0.0.1/", "private"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),  # IPv4-mapped
        ("http://[::ffff:a9fe:a9fe]/", "link-local"),  # 169.254.169.254, mapped
        ("http://[::7f00:1]/", "IPv4-compatible"),
        ("http://[2002:7f00:1::]/", "loopback"),  # 6to4 of 127.0.0.1
        ("http://[64:ff9b::a00:1]/", "private"),  # NAT64 of 10.0.0.1
    ],
)
def test_internal_addresses_are_refused_without_any_lookup(url: str, reason: str) -> None:
    with pytest.raises(RefusedDestinationError, match=reason) as refused:
        check_destination(url, STRICT)  # STRICT resolves nothing: a lookup would fail otherwise
    assert "DESHI_WEBHOOK_ALLOW_HOSTS" in str(refused.value)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://2130706433/", "IPv4 address"),  # 127.0.0.1 in decimal
        ("http://0x7f000001/", "IPv4 address"),
        ("http://0x7f.0.0.1/", "IPv4 address"),
        ("http://0177.0.0.1/", "IPv4 address"),  # octal
        ("http://127.1/", "IPv4 address"),
        ("http://127.0.0.1./", "IPv4 address"),
        ("http://134744072/", "IPv4 address"),  # 8.8.8.8: odd forms go, whatever
        ("http://user:pass@example.com/hook", "credentials"),
        ("https://token@example.com/hook", "credentials"),
        ("ftp://example.com/x", "only http and https"),
        ("file:///etc/passwd", "only http and https"),
        ("gopher://example.com:6379/_", "only http and https"),
        ("http:///nohost", "no host"),
    ],
)
def test_odd_forms_credentials_and_other_schemes_are_refused(url: str, reason: str) -> None:
    with pytest.raises(RefusedDestinationError, match=reason):
        check_url_form(url)
    with pytest.raises(RefusedDestinationError, match=reason):
        check_destination(url, OutboundPolicy.from_entries(["0.0.0.0/0", "::/0"]))


def test_the_schema_refuses_odd_forms_before_parsing_normalises_them() -> None:
    with pytest.raises(ValidationError, match="reads as an IPv4 address") as error:
        WebhookCreate.model_validate({"url": "http://2130706433/"})
    assert error.value.errors()[0]["loc"] == ("url",)
    with pytest.raises(ValidationError, match="credentials"):
        WebhookCreate.model_validate({"url": "https://user:pass@example.com/"})


@pytest.mark.parametrize(
    "answers",
    [
        ["10.1.2.3"],
        ["127.0.0.1", "::1"],
        [PUBLIC_V4, "169.254.169.254"],  # one internal answer among public ones is enough
        [PUBLIC_V6, "fd12::1"],
        ["::ffff:192.168.0.1"],
    ],
)
def test_names_resolving_to_an_internal_address_are_refused(answers: list[str]) -> None:
    policy = table({"hooks.example.com": answers})
    with pytest.raises(RefusedDestinationError, match=r"hooks\.example\.com resolves to"):
        check_destination("https://hooks.example.com/deshi", policy)


def test_a_name_that_does_not_resolve_is_unresolved_not_refused() -> None:
    with pytest.raises(UnresolvedHostError, match=r"nowhere\.example does not resolve"):
        check_destination("https://nowhere.example/", STRICT)
    with pytest.raises(UnresolvedHostError, match="no address"):
        check_destination("https://empty.example/", table({"empty.example": []}))


def test_a_public_name_is_pinned_to_the_address_that_was_checked() -> None:
    policy = table({"hooks.example.com": [PUBLIC_V4, PUBLIC_V6]})
    target = check_destination("https://Hooks.Example.com:8443/deshi?x=1", policy)
    assert str(target.url) == f"https://{PUBLIC_V4}:8443/deshi?x=1"
    assert target.host_header == "hooks.example.com:8443"
    assert target.extensions == {"sni_hostname": "hooks.example.com"}


def test_an_ipv6_answer_is_pinned_in_brackets() -> None:
    target = check_destination("http://v6.example/", table({"v6.example": [PUBLIC_V6]}))
    assert str(target.url) == f"http://[{PUBLIC_V6}]/"
    assert target.host_header == "v6.example"


def test_a_public_address_literal_needs_no_lookup_and_keeps_its_own_tls_name() -> None:
    target = check_destination(f"https://{PUBLIC_V4}/hook", STRICT)
    assert str(target.url) == f"https://{PUBLIC_V4}/hook"
    assert target.host_header == PUBLIC_V4 and target.extensions == {}


def test_an_international_name_is_resolved_and_sent_in_its_ascii_form() -> None:
    target = check_destination(
        "https://bücher.example/", table({"xn--bcher-kva.example": [PUBLIC_V4]})
    )
    assert target.host_header == "xn--bcher-kva.example"
    assert target.extensions == {"sni_hostname": "xn--bcher-kva.example"}


def test_the_allow_list_opens_exactly_the_hosts_and_networks_it_names() -> None:
    answers = {
        "erp.intranet.example": ["10.20.0.5"],
        "other.intranet.example": ["10.30.0.5"],
        "db.intranet.example": ["10.20.0.9", "127.0.0.1"],
    }
    policy = OutboundPolicy.from_entries(
        ["ERP.intranet.example", "10.20.0.0/16", "fd00:1::/32"],
        resolver=_table_resolver(answers),
    )
    assert str(check_destination("http://erp.intranet.example/", policy).url) == "http://10.20.0.5/"
    assert str(check_destination("http://10.20.3.4:8080/", policy).url) == "http://10.20.3.4:8080/"
    check_destination("http://[fd00:1::5]/", policy)
    for refused in (
        "http://other.intranet.example/",  # a private address outside the allowed network
        "http://db.intranet.example/",  # one answer (127.0.0.1) is outside it
        "http://10.21.0.1/",
        "http://127.0.0.1/",
    ):
        with pytest.raises(RefusedDestinationError):
            check_destination(refused, policy)
    with pytest.raises(RefusedDestinationError, match="credentials"):
        check_destination("http://u:p@erp.intranet.example/", policy)  # never allowed


def test_the_allow_list_setting_is_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DESHI_WEBHOOK_ALLOW_HOSTS", " Hooks.Intranet.example, 10.0.0.0/8,::1 ")
    settings = Settings()
    assert settings.webhook_allow_hosts == ("hooks.intranet.example", "10.0.0.0/8", "::1")
    policy = OutboundPolicy.from_settings(settings)
    assert policy.allow_hosts == {"hooks.intranet.example"}
    assert [str(n) for n in policy.allow_networks] == ["10.0.0.0/8", "::1/128"]
    assert Settings(webhook_allow_hosts="").webhook_allow_hosts == ()
    with pytest.raises(ValidationError, match="neither a host name nor an IP"):
        Settings(webhook_allow_hosts="hooks.example:8080")
