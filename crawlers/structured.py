"""Listings a page declares itself: schema.org Product, Offer and ItemList (JSON-LD, microdata) and
OpenGraph product tags on item pages."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import extruct
from lxml.html import HtmlElement

from crawlers.listing import ExtractedListing, clean_text, parse_listed_at, parse_quantity
from crawlers.prices import currency_code, parse_price
from crawlers.urls import absolute_url, canonical_url

log = logging.getLogger(__name__)

_PRODUCT_TYPES = {"product", "productmodel", "productgroup", "individualproduct", "vehicle", "car"}


def _types(node: dict[str, Any]) -> set[str]:
    kind = node.get("@type", ())
    kinds = [kind] if isinstance(kind, str) else list(kind) if isinstance(kind, list) else []
    # Microdata types come as full IRIs ("http://schema.org/Product").
    return {str(k).rsplit("/", 1)[-1].lower() for k in kinds}


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value


def _text(value: Any) -> str | None:
    value = _first(value)
    if isinstance(value, dict):
        value = value.get("name") or value.get("@value")
    if value is None or isinstance(value, dict | list):
        return None
    return clean_text(str(value))


def _image(value: Any) -> str | None:
    value = _first(value)
    if isinstance(value, dict):
        value = value.get("url") or value.get("contentUrl") or value.get("@id")
    return str(value) if isinstance(value, str) else None


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    """Every object in a JSON-LD document, ``@graph`` and nested values included."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _offers(product: dict[str, Any]) -> list[dict[str, Any]]:
    offers = product.get("offers")
    if isinstance(offers, dict):
        return [offers]
    if isinstance(offers, list):
        return [offer for offer in offers if isinstance(offer, dict)]
    return []


def _from_product(
    product: dict[str, Any], page_url: str, fallback_url: str | None
) -> ExtractedListing | None:
    offers = _offers(product)
    offer = offers[0] if offers else {}
    href = product.get("url") or offer.get("url") or product.get("@id")
    url = absolute_url(_text(href), page_url) if href else fallback_url
    if url is None:
        return None

    spec = offer.get("priceSpecification")
    spec = _first(spec) if isinstance(spec, dict | list) else {}
    marker = offer.get("priceCurrency") or (spec or {}).get("priceCurrency")
    currency = currency_code(_text(marker))
    low = offer.get("lowPrice")
    high = offer.get("highPrice")
    if low is None:
        low = offer.get("price", (spec or {}).get("price"))
    price = parse_price(_text(low), default_currency=currency, decimal_separator=".")
    high_price = parse_price(_text(high), decimal_separator=".").amount if high is not None else None
    # Several offers and no AggregateOffer: the range across them.
    if len(offers) > 1 and high is None:
        parsed = (parse_price(_text(o.get("price")), decimal_separator=".").amount for o in offers)
        amounts = [amount for amount in parsed if amount is not None]
        if amounts:
            price = parse_price(min(amounts), default_currency=currency)
            high_price = max(amounts) if max(amounts) != min(amounts) else None

    inventory = offer.get("inventoryLevel")
    quantity = parse_quantity(
        _text(inventory.get("value")) if isinstance(inventory, dict) else _text(inventory)
    )
    listed = offer.get("validFrom") or offer.get("availabilityStarts") or product.get("datePosted")
    seller = offer.get("seller") or product.get("seller")
    return ExtractedListing(
        url=canonical_url(url),
        title=_text(product.get("name")),
        price=price.amount,
        price_max=high_price if high_price is not None and price.amount is not None else None,
        currency=price.currency if price.amount is not None else None,
        image=absolute_url(_image(product.get("image")), page_url),
        seller=_text(seller),
        quantity=quantity,
        listed_at=parse_listed_at(_text(listed)),
    )


def _from_item_list(item_list: dict[str, Any], page_url: str) -> Iterator[ExtractedListing]:
    elements = item_list.get("itemListElement") or []
    for element in elements if isinstance(elements, list) else [elements]:
        if not isinstance(element, dict):
            continue
        item = element.get("item")
        if isinstance(item, dict) and _types(item) & _PRODUCT_TYPES:
            listing = _from_product(item, page_url, None)
        elif isinstance(item, dict) or _types(element) & _PRODUCT_TYPES:
            listing = _from_product(item if isinstance(item, dict) else element, page_url, None)
        else:
            href = element.get("url") or item
            url = absolute_url(_text(href), page_url)
            listing = (
                ExtractedListing(url=canonical_url(url), title=_text(element.get("name"))) if url else None
            )
        if listing is not None:
            yield listing


def _opengraph(og: list[dict[str, Any]], page_url: str) -> ExtractedListing | None:
    props: dict[str, Any] = {}
    for block in og:
        for key, value in block.items():
            props.setdefault(key, _first(value))
    kind = str(props.get("og:type", "")).lower()
    amount = props.get("product:price:amount") or props.get("og:price:amount")
    if "product" not in kind and amount is None:
        return None
    marker = props.get("product:price:currency") or props.get("og:price:currency")
    currency = currency_code(_text(marker))
    price = parse_price(_text(amount), default_currency=currency, decimal_separator=".")
    url = absolute_url(_text(props.get("og:url")), page_url) or page_url
    return ExtractedListing(
        url=canonical_url(url),
        title=_text(props.get("og:title")),
        price=price.amount,
        currency=price.currency if price.amount is not None else None,
        image=absolute_url(_text(props.get("og:image")), page_url),
    )


def canonical_link(tree: HtmlElement, page_url: str) -> str:
    """The page's ``<link rel="canonical">`` when it has one, else ``page_url`` itself."""
    for href in tree.xpath("//link[@rel='canonical']/@href"):
        url = absolute_url(str(href), page_url)
        if url:
            return url
    return page_url


def structured_listings(tree: HtmlElement, page_url: str) -> list[ExtractedListing]:
    """Listings declared by schema.org data or OpenGraph tags on the page, in page order.

    A Product without a URL of its own is the page's listing when it is the only such Product (an
    item page); ItemList entries give a search page's listings.
    """
    try:
        data = extruct.extract(
            tree,
            base_url=page_url,
            syntaxes=["json-ld", "microdata", "opengraph"],
            uniform=True,
            errors="log",
        )
    except Exception as error:  # extruct surfaces lxml and json errors as they come
        log.warning("structured data unreadable on %s: %s", page_url, error)
        return []
    nodes = [node for syntax in ("json-ld", "microdata") for node in _walk(data.get(syntax, []))]
    products = [node for node in nodes if _types(node) & _PRODUCT_TYPES]
    # Products inside other products ("isSimilarTo", accessories) are not this page's listings.
    ids = {id(p) for p in products}
    nested = {id(inner) for outer in products for inner in _walk(list(outer.values())) if id(inner) in ids}
    products = [p for p in products if id(p) not in nested]
    for node in nodes:
        # An Offer that wraps its product ("itemOffered") is a Product in disguise.
        offered = node.get("itemOffered")
        if "offer" in _types(node) and isinstance(offered, dict) and _types(offered) & _PRODUCT_TYPES:
            offer = {k: v for k, v in node.items() if k != "itemOffered"}
            products = [p for p in products if p is not offered] + [{**offered, "offers": offer}]

    page = canonical_link(tree, page_url)
    unnamed = [p for p in products if not (p.get("url") or any(o.get("url") for o in _offers(p)))]
    listings: list[ExtractedListing] = []
    nested_in_lists: set[int] = set()
    for node in nodes:
        if "itemlist" in _types(node):
            for element in _walk(node.get("itemListElement")):
                nested_in_lists.add(id(element))
            listings.extend(_from_item_list(node, page_url))
    for product in products:
        if id(product) in nested_in_lists:
            continue
        fallback = page if len(unnamed) == 1 and product is unnamed[0] else None
        listing = _from_product(product, page_url, fallback)
        if listing is not None:
            listings.append(listing)

    og = _opengraph(data.get("opengraph", []), page)
    if og is not None:
        same = [i for i, listing in enumerate(listings) if listing.url == og.url]
        if same:
            listings[same[0]] = listings[same[0]].merged(og)
        elif not listings:
            listings.append(og)
    return listings
