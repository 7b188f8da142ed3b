"""The SSRF guard inside a crawl: URLs found in crawled pages never reach private networks.

A crawl's pages come from the base URL its operator configured; everything a page names (listing
photos above all) is untrusted. Three pieces enforce the address rules of
:func:`hallmark.safe_fetch.check_address` (one copy of those rules, shared with the API):

- :class:`GuardedResolver`, Scrapy's ``DNS_RESOLVER``: every host name Scrapy connects to is resolved
  here, at connect time, and a host with any refused address resolves to nothing, so the connection
  is never made. Only the crawl job's own base host is exempt.
- :class:`UntrustedUrlMiddleware`: requests marked untrusted (``meta["hallmark_untrusted"]``) are
  checked before they are sent, also on the base host (a page may point its photos at
  ``127.0.0.1``), and refused with :class:`UnsafeRequest`.
- :class:`BrowserRequestFilter`: Chromium does its own name resolution, so a rendered page may only
  load from the base host, and never images (listing photos are downloaded by the guarded downloader).

``HALLMARK_ALLOW_PRIVATE_NETWORKS`` is the one bypass; metadata addresses stay refused even then.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request
from twisted.internet.interfaces import (
    IAddress,
    IHostnameResolver,
    IHostResolution,
    IResolutionReceiver,
)
from zope.interface import implementer, provider

from hallmark.errors import HallmarkError, UnsafeUrlError
from hallmark.safe_fetch import check_address, check_url

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from twisted.internet.base import ReactorBase

#: Request meta key: the URL came from a crawled page and must pass the address guard.
UNTRUSTED = "hallmark_untrusted"
#: Crawler settings the guard reads (set by ``crawlers.process`` from Hallmark's settings).
ALLOW_PRIVATE_SETTING = "HALLMARK_ALLOW_PRIVATE_NETWORKS"
TRUSTED_HOSTS_SETTING = "HALLMARK_TRUSTED_HOSTS"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeRequest(IgnoreRequest):
    """A request refused by the address guard; the message says which address and why."""


def refusal(addresses: Iterable[IPAddress], *, allow_private: bool) -> str | None:
    """Why one of ``addresses`` may not be reached, or ``None`` when all of them may.

    Every address must pass: a host that lists a public address beside a private one is refused.
    """
    for address in addresses:
        try:
            check_address(address, allow_private=allow_private)
        except UnsafeUrlError as error:
            return str(error)
    return None


def resolve_host(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (the address itself for an IP literal).

    Raises:
        UnsafeUrlError: the host does not resolve.
    """
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise UnsafeUrlError(f"cannot resolve host {host!r}: {error}") from None
    # The scope of a link-local IPv6 address ("fe80::1%eth0") is not part of the address.
    return list(dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos))


def check_untrusted_url(url: str, *, allow_private: bool) -> None:
    """Checks an untrusted URL's form and every address its host resolves to now.

    Raises:
        UnsafeUrlError: not http(s), credentials in it, unresolvable, or a refused address.
    """
    parsed = check_url(url)
    host = parsed.host
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    reason = refusal(resolve_host(host, port), allow_private=allow_private)
    if reason is not None:
        raise UnsafeUrlError(f"{url}: {reason}")


def host_of(url: str) -> str:
    """The lower-cased host name of ``url`` (without brackets or port)."""
    return (urlsplit(url).hostname or "").lower()


class UntrustedUrlMiddleware:
    """Downloader middleware: refuses untrusted requests to addresses the guard does not allow."""

    def __init__(self, allow_private: bool) -> None:
        self.allow_private = allow_private

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> UntrustedUrlMiddleware:
        return cls(crawler.settings.getbool(ALLOW_PRIVATE_SETTING))

    async def process_request(self, request: Request) -> None:
        if not request.meta.get(UNTRUSTED):
            return
        try:
            # getaddrinfo blocks; keep it off the reactor thread.
            await asyncio.to_thread(check_untrusted_url, request.url, allow_private=self.allow_private)
        except HallmarkError as error:
            raise UnsafeRequest(str(error)) from None


@implementer(IHostResolution)
class _Resolution:
    def __init__(self, name: str) -> None:
        self.name = name

    def cancel(self) -> None:  # pragma: no cover - Twisted never cancels these
        pass


@provider(IResolutionReceiver)
class _CheckingReceiver:
    """Collects the addresses of one resolution and hands them on only if every one passes."""

    def __init__(self, receiver: Any, host: str, resolver: GuardedResolver) -> None:
        # Any: zope interfaces are not types mypy can check calls against.
        self.receiver: Any = receiver
        self.host = host
        self.resolver = resolver
        self.addresses: list[IAddress] = []

    def resolutionBegan(self, resolution: IHostResolution) -> None:  # noqa: N802 - Twisted's names
        self.receiver.resolutionBegan(resolution)

    def addressResolved(self, address: IAddress) -> None:  # noqa: N802
        self.addresses.append(address)

    def resolutionComplete(self) -> None:  # noqa: N802
        parsed = [ipaddress.ip_address(str(getattr(a, "host", "")).split("%", 1)[0]) for a in self.addresses]
        reason = refusal(parsed, allow_private=self.resolver.allow_private)
        if reason is None:
            for address in self.addresses:
                self.receiver.addressResolved(address)
        else:
            # No address: Twisted fails the connection with a DNS lookup error; the reason is kept
            # so that the failure can be reported as a refusal, not as a missing host.
            self.resolver.refused[self.host] = reason
        self.receiver.resolutionComplete()


@implementer(IHostnameResolver)
class GuardedResolver:
    """Scrapy's name resolver with the address guard applied to every resolution.

    Args:
        reactor: the reactor whose resolver does the lookups.
        allow_private: ``HALLMARK_ALLOW_PRIVATE_NETWORKS``.
        trusted_hosts: hosts the operator configured (the crawl's base URL); not checked.
    """

    def __init__(self, reactor: ReactorBase, allow_private: bool, trusted_hosts: Sequence[str]) -> None:
        self.reactor = reactor
        self.original: Any = reactor.nameResolver  # an IHostnameResolver
        self.allow_private = allow_private
        self.trusted_hosts = frozenset(host.lower() for host in trusted_hosts)
        #: Host -> why it was refused, for error reports.
        self.refused: dict[str, str] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler, reactor: ReactorBase) -> GuardedResolver:
        resolver = cls(
            reactor,
            crawler.settings.getbool(ALLOW_PRIVATE_SETTING),
            crawler.settings.getlist(TRUSTED_HOSTS_SETTING),
        )
        crawler.hallmark_resolver = resolver  # type: ignore[attr-defined]  # read by error reports
        return resolver

    def install_on_reactor(self) -> None:
        self.reactor.installNameResolver(self)  # type: ignore[arg-type]  # zope's implementer

    def resolveHostName(  # noqa: N802 - Twisted's interface
        self,
        resolutionReceiver: IResolutionReceiver,  # noqa: N803
        hostName: str,  # noqa: N803
        portNumber: int = 0,  # noqa: N803
        addressTypes: Sequence[type[IAddress]] | None = None,  # noqa: N803
        transportSemantics: str = "TCP",  # noqa: N803
    ) -> Any:
        host = hostName.lower().strip("[]")
        if host in self.trusted_hosts:
            return self.original.resolveHostName(
                resolutionReceiver, hostName, portNumber, addressTypes, transportSemantics
            )
        self.original.resolveHostName(
            _CheckingReceiver(resolutionReceiver, host, self),
            hostName,
            portNumber,
            addressTypes,
            transportSemantics,
        )
        return _Resolution(hostName)


class BrowserRequestFilter:
    """``PLAYWRIGHT_ABORT_REQUEST``: what a rendered page may not load.

    Chromium resolves names itself, past :class:`GuardedResolver`; so a page may load its scripts and
    data from the crawl's own host only, and no images, media or fonts at all (the crawl downloads
    listing photos itself, through the guard).
    """

    BLOCKED_TYPES = frozenset({"image", "media", "font"})

    def __init__(self, trusted_hosts: Iterable[str]) -> None:
        self.trusted_hosts = frozenset(host.lower() for host in trusted_hosts)

    def __call__(self, request: Any) -> bool:
        if request.resource_type in self.BLOCKED_TYPES:
            return True
        return host_of(request.url) not in self.trusted_hosts
