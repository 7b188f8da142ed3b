"""Listing and image URLs: made absolute, stripped of tracking, one canonical form per listing."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from w3lib.url import canonicalize_url, safe_url_string

# Parameters that only say where a click came from, on any site. Marketplace-specific ones belong in
# the marketplace's adapter (``[urls] keep_query``), not here.
_TRACKING = re.compile(
    r"^(utm_\w+|gclid|gbraid|wbraid|fbclid|msclkid|yclid|dclid|mc_cid|mc_eid|_ga|_gl|igshid|"
    r"srsltid|spm|scm|ref|ref_src|ref_url|trk|trkid|tracking_id|campaign_id|ad_id|affiliate_id)$",
    re.IGNORECASE,
)


def absolute_url(href: str | None, base: str) -> str | None:
    """``href`` resolved against ``base``; ``None`` unless the result is an http(s) URL."""
    if not href:
        return None
    href = href.strip()
    if not href or href.startswith(("#", "javascript:", "mailto:", "tel:", "data:")):
        return None
    resolved = urljoin(base, href)
    if urlsplit(resolved).scheme not in ("http", "https"):
        return None
    return safe_url_string(resolved)


def canonical_url(url: str, keep_query: Iterable[str] | None = None) -> str:
    """One spelling of ``url``: no fragment, sorted query, tracking parameters removed.

    Args:
        url: an absolute URL.
        keep_query: the parameters that identify a listing; every other one is dropped. ``None`` keeps
            everything but well-known tracking parameters.
    """
    parts = urlsplit(url)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    if keep_query is None:
        pairs = [(key, value) for key, value in pairs if not _TRACKING.match(key)]
    else:
        kept = set(keep_query)
        pairs = [(key, value) for key, value in pairs if key in kept]
    rebuilt = urlunsplit((parts.scheme, parts.netloc.lower(), parts.path or "/", urlencode(pairs), ""))
    return canonicalize_url(rebuilt)


def without_query(url: str) -> str:
    """``url`` with its query string and fragment removed."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", "", ""))


def paths_identify(urls: Iterable[str]) -> bool:
    """Whether the URL paths alone tell these listings apart.

    When every card in one group of results links to a different path, the query strings only carry
    tracking (and differ between two cards of one listing); when cards share a path
    (``item.php?id=1``), the query is the listing's identity and must stay.
    """
    seen: dict[tuple[str, str], str] = {}
    for url in urls:
        parts = urlsplit(url)
        key = (parts.netloc, parts.path)
        if key in seen and seen[key] != url:
            return False
        seen[key] = url
    return len(seen) > 1


def best_from_srcset(srcset: str) -> str | None:
    """The largest candidate of a ``srcset`` attribute ("a.jpg 320w, b.jpg 640w" gives "b.jpg")."""
    best: tuple[float, str] | None = None
    for candidate in srcset.split(","):
        fields = candidate.split()
        if not fields:
            continue
        size = 1.0
        if len(fields) > 1:
            try:
                size = float(fields[1][:-1])
            except ValueError:
                size = 1.0
        if best is None or size > best[0]:
            best = (size, fields[0])
    return best[1] if best else None
