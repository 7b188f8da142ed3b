"""Fetching untrusted URLs without letting them reach inside the network (SSRF).

Every URL a user or a crawled page gives us comes through :func:`fetch_url`:

- only ``http`` and ``https``, no credentials in the URL, default or explicit ports only;
- the host name is resolved *when the connection is made*, every address it resolves to is checked,
  and the connection goes to the checked address (so DNS cannot answer one address to the check and
  another to the connection); loopback, private, link-local, shared, multicast, reserved and cloud
  metadata addresses are refused;
- redirects are followed by hand, each new URL checked again like the first;
- the body is read in chunks up to a byte cap and the whole fetch has a deadline;
- proxies from the environment are ignored: a proxy would make the connection for us, unchecked.

``HALLMARK_ALLOW_PRIVATE_NETWORKS`` (tests and the demo) lets loopback and private addresses through;
the metadata addresses stay refused whatever the settings.
"""

from __future__ import annotations

import ipaddress
import socket
import time
import typing
from dataclasses import dataclass
from urllib.parse import urljoin

import httpcore
import httpx

from hallmark.errors import FetchError, FetchTimeoutError, FetchTooLargeError, UnsafeUrlError
from hallmark.settings import Settings, get_settings

__all__ = ["FetchedResource", "check_address", "check_url", "fetch_url"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Cloud instance metadata services: never reachable, not even with private networks allowed.
METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    {
        ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, OpenStack...
        ipaddress.ip_address("169.254.170.2"),  # AWS ECS task metadata
        ipaddress.ip_address("fd00:ec2::254"),  # AWS IMDS over IPv6
        ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
    }
)
ALLOWED_SCHEMES = frozenset({"http", "https"})
USER_AGENT = "Hallmark/0.1 (+https://github.com/hallmark; counterfeit monitoring)"


@dataclass(frozen=True)
class FetchedResource:
    """A fetched URL.

    Attributes:
        url: The URL as asked for.
        final_url: The URL the body came from, after redirects.
        status: The final HTTP status (any status; callers decide what an error is).
        content_type: The media type without parameters, lower-cased, or None.
        body: The body, at most ``max_bytes`` long.
    """

    url: str
    final_url: str
    status: int
    content_type: str | None
    body: bytes


def check_address(address: IPAddress, *, allow_private: bool) -> None:
    """Refuses addresses a fetch must not reach.

    Raises:
        UnsafeUrlError: A metadata address, or (unless ``allow_private``) any address that is not
            globally routable: loopback, private, link-local, shared (CGNAT), multicast, reserved,
            unspecified.
    """
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address in METADATA_ADDRESSES:
        raise UnsafeUrlError(f"address {address} is a cloud metadata service; refused")
    if allow_private:
        return
    if address.is_loopback:
        kind = "loopback"
    elif address.is_link_local:
        kind = "link-local"
    elif address.is_multicast:
        kind = "multicast"
    elif address.is_unspecified:
        kind = "unspecified"
    elif address.is_private:
        kind = "private"
    elif address.is_reserved or not address.is_global:
        kind = "reserved or non-public"
    else:
        return
    raise UnsafeUrlError(f"address {address} is {kind}; refused")


def check_url(url: str) -> httpx.URL:
    """Checks a URL's form (scheme, host, no credentials) before any network use.

    Raises:
        UnsafeUrlError: Not an absolute http(s) URL with a host, or credentials in it.
    """
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as error:
        raise UnsafeUrlError(f"not a valid URL: {error}") from None
    if parsed.scheme not in ALLOWED_SCHEMES:
        scheme = parsed.scheme or "no scheme"
        raise UnsafeUrlError(f"only http and https URLs can be fetched, not {scheme}")
    if not parsed.host:
        raise UnsafeUrlError("the URL has no host")
    if parsed.userinfo:
        raise UnsafeUrlError("URLs with credentials are not fetched")
    return parsed


def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise FetchError(f"cannot resolve host {host!r}: {error}") from None
    addresses: list[IPAddress] = []
    for info in infos:
        # The scope of a link-local IPv6 address ("fe80::1%eth0") is not part of the address.
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise FetchError(f"host {host!r} has no address")
    return addresses


class _GuardedBackend(httpcore.SyncBackend):
    """Resolves, checks and connects in one step, to the address that was checked."""

    def __init__(self, allow_private: bool) -> None:
        self.allow_private = allow_private

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = _resolve(host, port)
        # Every address must pass: otherwise a host could list a public address beside a private one.
        for address in addresses:
            check_address(address, allow_private=self.allow_private)
        return super().connect_tcp(str(addresses[0]), port, timeout, local_address, socket_options)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        raise UnsafeUrlError("unix sockets are not fetched")


class _GuardedTransport(httpx.HTTPTransport):
    """httpx's transport with its connection pool on the guarded network backend."""

    def __init__(self, allow_private: bool) -> None:
        super().__init__(trust_env=False)
        # httpx takes no network backend; the pool it builds is swapped for one that has ours (TLS
        # still verifies the certificate against the URL's host name, not the address).
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=4,
            max_keepalive_connections=0,
            network_backend=_GuardedBackend(allow_private),
        )


def fetch_url(
    url: str,
    *,
    max_bytes: int | None = None,
    timeout: float | None = None,
    settings: Settings | None = None,
    accept: str = "*/*",
) -> FetchedResource:
    """Fetches an untrusted URL with the SSRF guard, a byte cap and a deadline.

    Args:
        url: An absolute http or https URL.
        max_bytes: Byte cap on the body; ``settings.max_image_bytes`` when None.
        timeout: Seconds for the whole fetch, redirects included; ``settings.fetch_timeout`` when None.
        settings: The settings (``allow_private_networks``, ``fetch_max_redirects``); the process's
            when None.
        accept: The ``Accept`` header.

    Returns:
        The final response, whatever its status.

    Raises:
        UnsafeUrlError: The URL, a redirect or a resolved address is not allowed.
        FetchTooLargeError: The body is over ``max_bytes``.
        FetchTimeoutError: The fetch took longer than ``timeout``.
        FetchError: The host cannot be resolved or reached, or too many redirects.
    """
    settings = settings or get_settings()
    max_bytes = settings.max_image_bytes if max_bytes is None else max_bytes
    timeout = settings.fetch_timeout if timeout is None else timeout
    deadline = time.monotonic() + timeout
    current = str(check_url(url))
    headers = {"User-Agent": USER_AGENT, "Accept": accept}
    with httpx.Client(
        transport=_GuardedTransport(settings.allow_private_networks),
        follow_redirects=False,
        trust_env=False,
        headers=headers,
    ) as client:
        for _ in range(settings.fetch_max_redirects + 1):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise FetchTimeoutError(f"fetching {url} took longer than {timeout:g} s")
            try:
                with client.stream("GET", current, timeout=httpx.Timeout(remaining)) as response:
                    if response.is_redirect and "location" in response.headers:
                        current = str(check_url(urljoin(current, response.headers["location"])))
                        continue
                    body = _read_capped(response, max_bytes, deadline, url, timeout)
                    content_type = response.headers.get("content-type")
                    return FetchedResource(
                        url=url,
                        final_url=current,
                        status=response.status_code,
                        content_type=content_type.split(";", 1)[0].strip().lower() if content_type else None,
                        body=body,
                    )
            except httpx.TimeoutException:
                raise FetchTimeoutError(f"fetching {url} took longer than {timeout:g} s") from None
            except httpx.HTTPError as error:
                raise FetchError(f"cannot fetch {url}: {error}") from None
        raise FetchError(f"too many redirects (more than {settings.fetch_max_redirects}) from {url}")


def _read_capped(
    response: httpx.Response, max_bytes: int, deadline: float, url: str, timeout: float
) -> bytes:
    declared = response.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise FetchTooLargeError(f"{url} is {int(declared)} bytes, over the cap of {max_bytes}")
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise FetchTooLargeError(f"{url} is over the cap of {max_bytes} bytes")
        # A server that trickles a byte at a time never trips the per-read timeout; the deadline does.
        if time.monotonic() > deadline:
            raise FetchTimeoutError(f"fetching {url} took longer than {timeout:g} s")
        chunks.append(chunk)
    return b"".join(chunks)
