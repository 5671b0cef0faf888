"""SSRF protection: internal addresses and odd schemes are refused, before and after DNS, on every redirect."""

from __future__ import annotations

import asyncio

import pytest
from httpserver import Reply, allow_loopback, fast_settings, fetch, server  # noqa: F401

from marsad.ingest.fetch import FetchSettings
from marsad.ingest.safety import Blocked, NetworkPolicy, blocked_reason, check_url, resolve_checked

NONE = NetworkPolicy()
LOOPBACK = NetworkPolicy.from_setting("127.0.0.0/8,::1/128")


@pytest.mark.parametrize("ip, reason", [
    ("127.0.0.1", "loopback"), ("127.8.9.10", "loopback"), ("::1", "loopback"),
    ("10.0.0.1", "private"), ("172.16.5.4", "private"), ("192.168.1.1", "private"), ("fd00::1", "private"),
    ("169.254.169.254", "link-local"), ("fe80::1", "link-local"),
    ("224.0.0.1", "multicast"), ("ff02::1", "multicast"),
    ("0.0.0.0", "unspecified"), ("240.0.0.1", "reserved"), ("100.64.0.1", "carrier-grade NAT"),
    ("::ffff:10.0.0.1", "private"), ("::ffff:127.0.0.1", "loopback"), ("2002:a00:1::", "private"),
])
def test_internal_addresses_are_named(ip, reason):
    assert blocked_reason(ip) == reason


@pytest.mark.parametrize("ip", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "185.199.108.153"])
def test_public_addresses_pass(ip):
    assert blocked_reason(ip) is None


def test_policy_settings():
    assert NetworkPolicy.from_setting(None) == NONE
    assert NetworkPolicy.from_setting("0") == NONE
    assert NetworkPolicy.from_setting("1").allow_all
    assert NetworkPolicy.from_setting("true").allow_all
    assert LOOPBACK.refusal("127.0.0.1") is None
    assert LOOPBACK.refusal("10.0.0.1") == "private"
    assert LOOPBACK.refusal("169.254.169.254") == "link-local"
    assert NetworkPolicy.from_env({"MARSAD_ALLOW_PRIVATE_NETWORKS": "1"}).allow_all
    assert NetworkPolicy.from_env({}) == NONE
    with pytest.raises(Exception, match="MARSAD_ALLOW_PRIVATE_NETWORKS"):
        NetworkPolicy.from_setting("not-a-network")


@pytest.mark.parametrize("url, message", [
    ("file:///etc/passwd", "only http and https"),
    ("gopher://example.com/", "only http and https"),
    ("ftp://example.com/x", "only http and https"),
    ("javascript:alert(1)", "only http and https"),
    ("http://user:pw@example.com/", "credentials"),
    ("http:///nohost", "no host"),
    ("http://10.0.0.1/", "private address"),
    ("http://169.254.169.254/latest/meta-data/", "link-local address"),
    ("http://[::1]:8080/", "loopback address"),
    ("http://localhost/", "loopback address"),
    ("http://0.0.0.0/", "unspecified address"),
])
def test_check_url_refuses(url, message):
    with pytest.raises(Blocked, match=message):
        check_url(url, NONE)


def test_refusal_message_says_how_to_allow():
    with pytest.raises(Blocked) as info:
        check_url("http://10.0.0.1/", NONE)
    assert "MARSAD_ALLOW_PRIVATE_NETWORKS=1" in str(info.value)
    assert info.value.status == 403


def test_name_resolving_to_internal_address_is_refused_after_dns():
    with pytest.raises(Blocked, match="localhost .*loopback"):
        asyncio.run(resolve_checked("localhost", 80, NONE))
    assert asyncio.run(resolve_checked("localhost", 80, LOOPBACK))


def test_loopback_server_refused_by_default(server, monkeypatch):
    monkeypatch.delenv("MARSAD_ALLOW_PRIVATE_NETWORKS", raising=False)
    server.route("/", Reply("hello"))
    with pytest.raises(Blocked, match="127.0.0.1.*loopback"):
        fetch(server.url("/"), FetchSettings.from_env())
    assert server.hits["/"] == 0


def test_loopback_server_allowed_by_setting(server, allow_loopback):
    server.route("/", Reply("hello"))
    settings = FetchSettings.from_env(per_host_delay=0.0)
    assert fetch(server.url("/"), settings).content == b"hello"


def test_decimal_ip_host_is_checked_at_connect_time(server, monkeypatch):
    # "2130706433" is 127.0.0.1 written as one number: no literal-IP check sees it, DNS does.
    server.route("/", Reply("hello"))
    url = f"http://2130706433:{server.port}/"
    with pytest.raises(Blocked, match="loopback"):
        fetch(url, fast_settings(network=NONE))
    assert server.hits["/"] == 0


@pytest.mark.parametrize("target", ["http://10.0.0.1/admin", "http://169.254.169.254/latest/meta-data/",
                                    "http://[fd00::1]/", "file:///etc/passwd"])
def test_redirect_to_internal_address_is_refused(server, target):
    # Loopback is allowed (the test server) but nothing else: the redirect target is refused
    # before any connection to it is attempted.
    server.route("/go", Reply(status=302, headers={"Location": target}))
    with pytest.raises(Blocked) as info:
        fetch(server.url("/go"))
    assert "refused" in str(info.value)
    assert server.hits["/go"] == 1


def test_unix_socket_and_proxy_env_are_not_used(server, monkeypatch):
    # A proxy from the environment would connect to the proxy, bypassing the address checks.
    monkeypatch.setenv("HTTP_PROXY", "http://10.0.0.1:3128")
    server.route("/", Reply("direct"))
    assert fetch(server.url("/")).content == b"direct"
