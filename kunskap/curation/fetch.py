"""Fetching a web page for intake, within limits: http/https only, at most MAX_BYTES, MAX_SECONDS
in all, MAX_REDIRECTS redirects, and never a private, loopback, link-local or otherwise
non-public address (the server must not become a way into the network it runs in).

The host is resolved and every address it resolves to is checked, at the start and after each
redirect; the connection then goes to the address that was checked (a second lookup could
answer differently: DNS rebinding). `allow_private` (Settings.intake_allow_private, KUNSKAP_INTAKE_ALLOW_PRIVATE=true) lifts
the address check, for tests that serve pages from 127.0.0.1. Every failure is a FetchError
with a Swedish message; nothing is stored by fetching.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from ..errors import ValidationError

MAX_BYTES = 5 * 1024 * 1024
MAX_SECONDS = 10.0
MAX_REDIRECTS = 5
USER_AGENT = "kunskap-intake/1.0 (+kurering av klimatexempel)"


class FetchError(ValidationError):
    """A page that could not be fetched; the message says why, in Swedish."""

    def __init__(self, message: str, field: str = "url"):
        super().__init__(field, message)


@dataclass
class Fetched:
    url: str              # after redirects
    content_type: str     # e.g. text/html
    charset: str | None
    data: bytes


def check_url(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path+query) of an http(s) URL, or FetchError."""
    url = (url or "").strip()
    if not url:
        raise FetchError("Ange en webbadress.")
    if len(url) > 2000:
        raise FetchError("Webbadressen är för lång (högst 2000 tecken).")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise FetchError("Bara webbadresser som börjar med http:// eller https:// kan hämtas.")
    if not parts.hostname:
        raise FetchError("Webbadressen saknar värdnamn.")
    if parts.username or parts.password:
        raise FetchError("Webbadressen får inte innehålla användarnamn eller lösenord.")
    try:
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    except ValueError:
        raise FetchError("Webbadressen har ett ogiltigt portnummer.") from None
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme.lower(), parts.hostname, port, path


def public_addresses(host: str, port: int, allow_private: bool) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise FetchError(f"Värden ”{host[:100]}” finns inte (namnet gick inte att slå upp).") from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not allow_private:
        for address in addresses:
            ip = ipaddress.ip_address(address.split("%")[0])
            if not ip.is_global or ip.is_multicast:
                raise FetchError(f"Adressen ”{host[:100]}” pekar på ett internt nätverk ({ip}); "
                                 "bara publika webbplatser kan hämtas.")
    if not addresses:
        raise FetchError(f"Värden ”{host[:100]}” finns inte.")
    return addresses


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the checked address, whatever a new lookup of the host would say."""

    def __init__(self, host, port, address, timeout):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host, port, address, timeout):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def fetch(url: str, allow_private: bool = False, max_bytes: int = MAX_BYTES, max_seconds: float = MAX_SECONDS,
          max_redirects: int = MAX_REDIRECTS) -> Fetched:
    deadline = time.monotonic() + max_seconds
    seen: set[str] = set()
    for _ in range(max_redirects + 1):
        scheme, host, port, path = check_url(url)
        if url in seen:
            raise FetchError("Webbadressen skickar vidare i en slinga och gick inte att hämta.")
        seen.add(url)
        address = public_addresses(host, port, allow_private)[0]
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _timeout(max_seconds)
        cls = _PinnedHTTPSConnection if scheme == "https" else _PinnedHTTPConnection
        connection = cls(host, port, address, timeout=remaining)
        try:
            connection.request("GET", path, headers={"User-Agent": USER_AGENT, "Accept": "text/html,*/*;q=0.5",
                                                     "Accept-Encoding": "identity"})
            response = connection.getresponse()
            if response.status in (301, 302, 303, 307, 308):
                location = response.getheader("Location")
                if not location:
                    raise FetchError(f"Sidan svarade med en vidarebefordran ({response.status}) utan adress.")
                url = urljoin(url, location.strip())
                continue
            if response.status >= 400:
                raise FetchError(f"Webbplatsen svarade med fel {response.status} ({response.reason[:60]}); "
                                 "kontrollera adressen eller försök senare.")
            length = response.getheader("Content-Length")
            if length and length.isdigit() and int(length) > max_bytes:
                raise _too_big(max_bytes)
            data = _read(response, max_bytes, deadline, max_seconds, connection)
            content_type = (response.getheader("Content-Type") or "").split(";")[0].strip().lower()
            charset = response.headers.get_content_charset()
            return Fetched(url=url, content_type=content_type, charset=charset, data=data)
        except (socket.timeout, TimeoutError):
            raise _timeout(max_seconds) from None
        except ssl.SSLError:
            raise FetchError("Webbplatsens säkra anslutning (TLS) gick inte att upprätta.") from None
        except (ConnectionError, OSError, http.client.HTTPException) as exc:
            if isinstance(exc, FetchError):
                raise
            raise FetchError("Webbplatsen gick inte att nå (anslutningen bröts eller nekades).") from None
        finally:
            connection.close()
    raise FetchError(f"Webbadressen skickade vidare fler än {max_redirects} gånger och gick inte att hämta.")


def _read(response, max_bytes: int, deadline: float, max_seconds: float, connection) -> bytes:
    chunks, size = [], 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _timeout(max_seconds)
        if connection.sock is not None:
            connection.sock.settimeout(remaining)
        chunk = response.read1(64 * 1024) if hasattr(response, "read1") else response.read(64 * 1024)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > max_bytes:
            raise _too_big(max_bytes)
        chunks.append(chunk)


def _timeout(seconds: float) -> FetchError:
    return FetchError(f"Webbplatsen svarade inte inom {seconds:.0f} sekunder.")


def _too_big(max_bytes: int) -> FetchError:
    return FetchError(f"Sidan är större än {max_bytes // (1024 * 1024)} MB och hämtades inte.")
