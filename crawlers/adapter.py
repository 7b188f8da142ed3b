"""Site adapters: a marketplace described in a small TOML file, loaded into a typed model.

An adapter says where a marketplace's search pages are, how to find the listing cards on them and the
fields inside each card, how to page, how to read prices, and whether the pages need a browser (or a
JSON API to call instead). Adding a marketplace is adding a file to ``crawlers/adapters/``; see
``crawlers/adapters/README.md`` for the format.
"""

from __future__ import annotations

import fnmatch
import re
import string
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote_plus, urlsplit

from lxml import etree
from parsel import Selector
from parsel.csstranslator import HTMLTranslator
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from hallmark.errors import HallmarkError, NotFoundError

BUILTIN_DIR = Path(__file__).resolve().parent / "adapters"


class AdapterError(HallmarkError):
    """An adapter file is invalid: bad TOML, an unknown key, a selector that does not compile."""


class _Strict(BaseModel):
    # Unknown keys are typos in a hand-written file; refusing them beats silently ignoring a selector.
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldSelector(_Strict):
    """Where one value lives in a page: a CSS or XPath selector, and what to read from the element.

    In TOML a bare string is a CSS selector read as text (``title = ".item-title"``); a table gives
    the options (``image = { css = "img", attr = "src" }``). Parsel's ``::attr(name)`` and ``::text``
    pseudo-elements also work in CSS strings.
    """

    css: str | None = None
    xpath: str | None = None
    attr: str | None = Field(default=None, description="Attribute to read; the element's text when unset.")
    strip: tuple[str, ...] = Field(
        default=(), description="CSS selectors of descendants left out of the text (badges, hidden prefixes)."
    )
    regex: str | None = Field(default=None, description="Keep the first group (or the whole match) of this.")

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: Any) -> Any:
        return {"css": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _compiles(self) -> FieldSelector:
        if (self.css is None) == (self.xpath is None):
            raise ValueError("give exactly one of css or xpath")
        try:
            if self.css is not None:
                HTMLTranslator().css_to_xpath(self.css)
            if self.xpath is not None:
                etree.XPath(self.xpath)
            for css in self.strip:
                HTMLTranslator().css_to_xpath(css)
            if self.regex is not None:
                re.compile(self.regex)
        except Exception as error:  # cssselect, lxml and re each raise their own type
            raise ValueError(f"selector does not compile: {error}") from error
        return self

    def select(self, node: Selector) -> list[Selector]:
        """The elements (or attribute/text nodes) this selector picks under ``node``."""
        if self.css is not None:
            return list(node.css(self.css))
        return list(node.xpath(self.xpath or ""))


def _as_list(value: Any) -> Any:
    # One selector or a list of fallbacks tried in order: both read naturally in TOML.
    return value if isinstance(value, list) else [value]


Selectors = Annotated[tuple[FieldSelector, ...], BeforeValidator(_as_list)]


class CardFields(_Strict):
    """Selectors for the fields of one listing card, relative to the card element."""

    url: Selectors
    title: Selectors
    price: Selectors = ()
    currency: Selectors = ()
    image: Selectors = ()
    seller: Selectors = ()
    quantity: Selectors = ()
    listed_at: Selectors = ()


class ItemFields(_Strict):
    """Selectors for the fields of an item page, relative to the page."""

    url: Selectors = ()
    title: Selectors = ()
    price: Selectors = ()
    currency: Selectors = ()
    image: Selectors = ()
    seller: Selectors = ()
    quantity: Selectors = ()
    listed_at: Selectors = ()


class Pagination(_Strict):
    """How to reach the next page of results, and how far to go."""

    next: Selectors = Field(default=(), description="Link to the next page; its href is followed.")
    page_param: str | None = Field(default=None, description="Query parameter carrying the page number.")
    first_page: int = Field(default=1, ge=0)
    max_pages: int = Field(default=5, ge=1, le=1000, description="Bound on pages (or scrolls) per search.")
    infinite_scroll: bool = Field(
        default=False, description="Browser pages that load more cards when scrolled to the bottom."
    )


class SearchSpec(_Strict):
    """A marketplace's search results pages."""

    url: str = Field(description="Template with {base_url}, {query} and {page}.")
    cards: Selectors = Field(
        description="Listing cards. Several selectors are read in order; a listing seen twice keeps "
        "the first card, so put the main results first and carousels after."
    )
    fields: CardFields
    pagination: Pagination = Pagination()


class ItemSpec(_Strict):
    """A marketplace's item (listing) pages."""

    url_pattern: str | None = Field(default=None, description="Regex on the URL path of item pages.")
    fields: ItemFields = ItemFields()
    structured: bool = Field(
        default=True, description="Fill fields the selectors miss from JSON-LD, microdata and OpenGraph."
    )


class ApiFields(_Strict):
    """Dotted JSON paths (``price.amount``, ``images.0``) of each field inside one API item."""

    url: str
    title: str
    price: str | None = None
    price_max: str | None = None
    currency: str | None = None
    image: str | None = None
    seller: str | None = None
    quantity: str | None = None
    listed_at: str | None = None


class ApiSpec(_Strict):
    """A JSON API that JavaScript storefronts load their listings from."""

    url: str = Field(description="Template with {base_url}, {query}, {offset}, {limit} and {page}.")
    page_size: int = Field(default=24, ge=1, le=500)
    items: str = Field(description="JSON path of the list of items in a response.")
    next_offset: str | None = Field(default=None, description="JSON path of the next offset; null ends.")
    fields: ApiFields


class PriceHints(_Strict):
    """How a marketplace writes prices, for text the parser could read two ways."""

    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$", description="ISO code when unmarked.")
    decimal_separator: Literal[",", "."] | None = None


class UrlRules(_Strict):
    """How listing URLs are made canonical, so one listing has one URL."""

    keep_query: tuple[str, ...] | None = Field(
        default=None,
        description="Query parameters that identify a listing; every other one is dropped. "
        "Unset: only well-known tracking parameters are dropped.",
    )


_TEMPLATE_FIELDS = {"base_url", "query", "page", "offset", "limit"}


def _check_template(template: str) -> None:
    names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    unknown = names - _TEMPLATE_FIELDS
    if unknown:
        raise ValueError(f"unknown placeholders {sorted(unknown)} in {template!r}")


class Adapter(_Strict):
    """One marketplace, as described by its adapter file."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=64)
    description: str = ""
    hosts: tuple[str, ...] = Field(
        min_length=1,
        description="Host patterns the adapter applies to: 'ebay.de', '*.ebay.de', or '*' for any host.",
    )
    paths: tuple[str, ...] = Field(
        default=(), description="Path globs that must match too ('/ssr/*'); any path when empty."
    )
    base_url: str | None = Field(default=None, description="Default base URL when a crawl job gives none.")
    needs_browser: bool = Field(default=False, description="Pages build their listings in JavaScript.")
    search: SearchSpec | None = None
    item: ItemSpec | None = None
    api: ApiSpec | None = None
    price: PriceHints = PriceHints()
    urls: UrlRules = UrlRules()

    @model_validator(mode="after")
    def _consistent(self) -> Adapter:
        if self.search is None and self.api is None and self.item is None:
            raise ValueError("an adapter needs a [search], [api] or [item] section")
        if self.search is not None:
            _check_template(self.search.url)
        if self.api is not None:
            _check_template(self.api.url)
        if self.item is not None and self.item.url_pattern is not None:
            re.compile(self.item.url_pattern)
        return self

    def specificity(self, url: str) -> int | None:
        """How specifically this adapter matches ``url``; ``None`` when it does not apply.

        An exact host beats a ``*.domain`` pattern, which beats ``*``; a matching path adds to it,
        so a catch-all demo adapter never shadows a real marketplace's.
        """
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        best: int | None = None
        for pattern in self.hosts:
            pattern = pattern.lower()
            if pattern == host:
                score = 3
            elif pattern.startswith("*.") and (host == pattern[2:] or host.endswith(pattern[1:])):
                score = 2
            elif pattern == "*":
                score = 0
            else:
                continue
            best = score if best is None else max(best, score)
        if best is None:
            return None
        if self.paths:
            path = parts.path or "/"
            if not any(fnmatch.fnmatchcase(path, glob) for glob in self.paths):
                return None
            best += 1
        return best

    def search_url(self, base_url: str | None, query: str, page: int | None = None) -> str:
        """The search results URL for ``query`` (page ``page``, the first when ``None``)."""
        if self.search is None:
            raise AdapterError(f"adapter {self.name!r} has no [search] section")
        first = self.search.pagination.first_page
        return self.search.url.format(
            base_url=self._base(base_url), query=quote_plus(query), page=first if page is None else page
        )

    def api_url(self, base_url: str | None, query: str, offset: int = 0) -> str:
        """The API URL for ``query`` starting at ``offset``."""
        if self.api is None:
            raise AdapterError(f"adapter {self.name!r} has no [api] section")
        size = self.api.page_size
        return self.api.url.format(
            base_url=self._base(base_url),
            query=quote_plus(query),
            offset=offset,
            limit=size,
            page=offset // size + 1,
        )

    def _base(self, base_url: str | None) -> str:
        base = base_url or self.base_url
        if not base:
            raise AdapterError(f"adapter {self.name!r} has no default base URL; give one")
        return base.rstrip("/")


def load_adapter(path: Path) -> Adapter:
    """Reads and validates one adapter file.

    Raises:
        AdapterError: the file is missing, not TOML, or not a valid adapter; the message names the file
            and the offending key.
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise AdapterError(f"cannot read adapter {path}: {error.strerror or error}") from error
    except tomllib.TOMLDecodeError as error:
        raise AdapterError(f"adapter {path} is not valid TOML: {error}") from error
    try:
        return Adapter.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(top level)"
        raise AdapterError(f"adapter {path}: {where}: {first['msg']}") from error


def load_adapters(*directories: Path) -> dict[str, Adapter]:
    """Every ``*.toml`` adapter in ``directories`` (the built-in ones when none are given), by name.

    A later directory's adapter replaces an earlier one of the same name, so operators can override a
    built-in adapter without editing it.
    """
    adapters: dict[str, Adapter] = {}
    for directory in directories or (BUILTIN_DIR,):
        for path in sorted(directory.glob("*.toml")):
            adapter = load_adapter(path)
            adapters[adapter.name] = adapter
    return adapters


@lru_cache(maxsize=1)
def builtin_adapters() -> dict[str, Adapter]:
    """The adapters shipped in ``crawlers/adapters/``, loaded once."""
    return load_adapters(BUILTIN_DIR)


def get_adapter(name: str, adapters: dict[str, Adapter] | None = None) -> Adapter:
    """The adapter called ``name``.

    Raises:
        NotFoundError: no adapter has that name; the message lists the known ones.
    """
    known = builtin_adapters() if adapters is None else adapters
    try:
        return known[name]
    except KeyError:
        raise NotFoundError(f"no adapter named {name!r}; known: {', '.join(sorted(known))}") from None


def match_adapter(url: str, adapters: dict[str, Adapter] | None = None) -> Adapter | None:
    """The most specific adapter that applies to ``url``, or ``None`` (generic extraction then)."""
    best: tuple[int, Adapter] | None = None
    for adapter in (builtin_adapters() if adapters is None else adapters).values():
        score = adapter.specificity(url)
        if score is not None and (best is None or score > best[0]):
            best = (score, adapter)
    return best[1] if best else None
