"""The client's address behind (or without) a reverse proxy, as login throttling sees it."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from kunskap.accounts import Accounts
from kunskap.config import Settings
from kunskap.ingest import ingest
from kunskap.web.app import create_app
from kunskap.web.clients import client_address, uvicorn_proxy_options

from .test_curation_web import PASSWORD, csrf_of


def scope(peer, *headers):
    return {"client": (peer, 4711), "headers": [(k.lower().encode(), v.encode()) for k, v in headers]}


def settings(**extra):
    return Settings(model="hashing", **extra)


def test_without_trusted_proxies_the_peer_is_the_client():
    plain = settings()
    assert client_address(scope("127.0.0.1", ("X-Forwarded-For", "203.0.113.9")), plain) == "127.0.0.1"
    header_only = settings(client_ip_header="X-Real-IP")
    assert client_address(scope("127.0.0.1", ("X-Real-IP", "203.0.113.9")), header_only) == "127.0.0.1"
    assert uvicorn_proxy_options(plain)["proxy_headers"] is False


def test_behind_trusted_proxies_the_rightmost_untrusted_hop_is_the_client():
    proxied = settings(trusted_proxies="10.0.0.0/24, 192.0.2.7", client_ip_header="X-Forwarded-For")
    assert proxied.trusted_proxies == ["10.0.0.0/24", "192.0.2.7"]
    # The client may send its own X-Forwarded-For: everything left of our proxies' part is ignored.
    forged = scope("10.0.0.3", ("X-Forwarded-For", "1.1.1.1, 203.0.113.9, 192.0.2.7"))
    assert client_address(forged, proxied) == "203.0.113.9"
    assert client_address(scope("10.0.0.3", ("X-Forwarded-For", "1.1.1.1"), ("X-Forwarded-For", "[2001:db8::5]:443")),
                          proxied) == "2001:db8::5"
    assert client_address(scope("10.0.0.3", ("X-Forwarded-For", "203.0.113.9:5555")), proxied) == "203.0.113.9"
    assert client_address(scope("10.0.0.3", ("X-Forwarded-For", "inte-en-adress")), proxied) == "10.0.0.3"
    assert client_address(scope("10.0.0.3"), proxied) == "10.0.0.3"
    assert client_address(scope("::ffff:10.0.0.3", ("X-Forwarded-For", "203.0.113.9")), proxied) == "203.0.113.9"
    assert client_address(scope("198.51.100.1", ("X-Forwarded-For", "203.0.113.9")), proxied) == "198.51.100.1"
    assert uvicorn_proxy_options(proxied) == {"proxy_headers": True, "forwarded_allow_ips": "10.0.0.0/24,192.0.2.7"}
    real_ip = settings(trusted_proxies="10.0.0.1", client_ip_header="X-Real-IP")
    assert client_address(scope("10.0.0.1", ("X-Real-IP", "203.0.113.9"), ("X-Forwarded-For", "1.1.1.1")),
                          real_ip) == "203.0.113.9"
    assert uvicorn_proxy_options(real_ip)["proxy_headers"] is False   # uvicorn would read X-Forwarded-For


@pytest.mark.parametrize("extra", [{"trusted_proxies": "proxyn"}, {"trusted_proxies": "10.0.0.300"},
                                   {"client_ip_header": "X Forwarded For"}])
def test_bad_proxy_settings_are_refused(extra):
    with pytest.raises(ValueError):
        settings(**extra)


@pytest.fixture
def proxied_app(corpus, kb_factory):
    kb = kb_factory(corpus, trusted_proxies=["10.0.0.0/24"], client_ip_header="X-Forwarded-For")
    ingest(kb, corpus)
    Accounts(kb.store).add_user("anna", PASSWORD)
    return create_app(kb.settings, knowledge_base=kb)


def attempt(client, username, forwarded_for, password="fel-losenord"):
    csrf = csrf_of(client.get("/logga-in").text)
    return client.post("/logga-in", data={"username": username, "password": password, "csrf": csrf},
                       headers={"X-Forwarded-For": forwarded_for}, follow_redirects=False).status_code


def test_login_throttling_counts_per_client_behind_a_trusted_proxy(proxied_app):
    with TestClient(proxied_app, client=("10.0.0.2", 50000)) as proxy:
        assert [attempt(proxy, f"gissning{i}", "203.0.113.1") for i in range(6)] == [401] * 5 + [429]
        assert attempt(proxy, "anna", "203.0.113.2", PASSWORD) == 303     # another client behind the proxy
    with TestClient(proxied_app, client=("198.51.100.1", 50000)) as direct:
        assert [attempt(direct, f"gissning{i}", f"203.0.113.{10 + i}") for i in range(6)] == [401] * 5 + [429]
