"""Listings found by page structure alone, for search pages no adapter knows.

A search page repeats one block per listing: sibling elements of one kind (same tag, shared classes),
each carrying a link, a photo and a price. This module finds such groups of blocks ("cards") and
reads each card's fields the way a person would: the link around the heading is the listing, the
first photo is its picture, the text that is only a price is its price.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from lxml.html import HtmlElement

from crawlers.listing import ExtractedListing, clean_text, parse_listed_at, parse_quantity
from crawlers.prices import looks_like_price, parse_price
from crawlers.urls import absolute_url, best_from_srcset, canonical_url, paths_identify, without_query

MIN_CARDS = 2
# A card is small; a block with more links or text than this is a page region, not a listing.
MAX_CARD_LINKS = 30
MAX_CARD_TEXT = 4000

_SKIP_TAGS = {"script", "style", "noscript", "template", "head", "meta", "link", "svg", "br", "option"}
# Text that screen readers get but the page hides: "Opens in a new window", badges shown as icons.
_HIDDEN_CLASSES = {
    "sr-only",
    "visually-hidden",
    "visuallyhidden",
    "screen-reader-text",
    "screen-reader-only",
    "a11y-hidden",
    "clipped",
    "hidden",
    "d-none",
    "is-hidden",
}
_STRUCK_TAGS = {"del", "s", "strike"}
_STRUCK_CLASS = re.compile(
    r"(?:^|[\s_-])(?:strike\w*|line-?through|crossed|old|was|before|original|compare|rrp|uvp|list-?price)"
    r"(?:$|[\s_-])",
    re.I,
)
# Lazy-loading attributes first: src then often holds a placeholder.
_IMAGE_ATTRS = ("data-src", "data-lazy-src", "data-lazy", "data-original", "data-url", "src")
_HEADINGS = "self::h1 or self::h2 or self::h3 or self::h4 or self::h5 or self::h6 or @role='heading'"
_PRICE_TOKEN = re.compile(r"[\d.,'\s\u00a0\u202f]+")


# What a card element is for, by its itemprop or the last part of a class ("s-item__seller" -> seller).
# Whole parts only: "quantitySold" is a sales count, not a quantity.
_SELLER_ROLES = {
    "seller",
    "seller-name",
    "sellername",
    "seller-info",
    "vendor",
    "vendor-name",
    "merchant",
    "merchant-name",
    "shop-name",
    "store-name",
}
_QUANTITY_ROLES = {
    "quantity",
    "qty",
    "stock",
    "in-stock",
    "stock-level",
    "available",
    "availability",
    "inventory",
    "inventorylevel",
}

_CONTAINER_WORDS = {"listing", "item", "product", "card", "offer", "tile", "result", "ad"}


def _classes(element: HtmlElement) -> set[str]:
    return set((element.get("class") or "").split())


def _roles(element: HtmlElement) -> set[str]:
    roles = {str(element.get("itemprop", "")).lower()}
    for token in _classes(element):
        token = token.lower()
        element_name = re.split(r"__|--", token)[-1]
        roles.update({token, element_name})
        # BEM-ish "listing-seller", "card_stock": a role word owned by the card. "authorized-seller"
        # is a badge about the seller, not the seller's name.
        words = re.split(r"[-_]", element_name)
        if len(words) == 2 and words[0] in _CONTAINER_WORDS:
            roles.add(words[1])
    return roles


def _is_hidden(element: HtmlElement) -> bool:
    if element.get("hidden") is not None or element.get("aria-hidden") == "true":
        return True
    style = (element.get("style") or "").replace(" ", "").lower()
    if "display:none" in style or "visibility:hidden" in style:
        return True
    return bool(_classes(element) & _HIDDEN_CLASSES)


def visible_text(element: HtmlElement) -> str:
    """The text a reader sees in ``element``: scripts, styles and hidden elements left out."""
    parts: list[str] = []

    def walk(node: HtmlElement) -> None:
        if isinstance(node.tag, str) and node.tag not in _SKIP_TAGS and not _is_hidden(node):
            if node.text:
                parts.append(node.text)
            for child in node:
                walk(child)
        if node is not element and node.tail:
            parts.append(node.tail)

    walk(element)
    return " ".join(" ".join(parts).split())


def _image_url(image: HtmlElement, page_url: str) -> str | None:
    for attr in ("srcset", "data-srcset"):
        srcset = image.get(attr)
        if srcset:
            url = absolute_url(best_from_srcset(srcset), page_url)
            if url:
                return url
    for attr in _IMAGE_ATTRS:
        if attr == "src":
            # Lazy loaders put a 1x1 placeholder in src; an icon-sized src is no listing photo either.
            width, height = image.get("width", ""), image.get("height", "")
            if width.isdigit() and height.isdigit() and int(width) <= 32 and int(height) <= 32:
                return None
        url = absolute_url(image.get(attr), page_url)
        if url:
            return url
    style = image.get("style") or ""
    match = re.search(r"background(?:-image)?\s*:[^;]*url\(\s*['\"]?([^'\")]+)", style)
    return absolute_url(match.group(1), page_url) if match else None


def _images(element: HtmlElement, page_url: str) -> Iterator[str]:
    for node in element.iter("img", "source", "div", "span", "a", "figure"):
        if node.tag in ("img", "source") or "background" in (node.get("style") or ""):
            url = _image_url(node, page_url)
            if url:
                yield url


def _is_struck(element: HtmlElement, card: HtmlElement) -> bool:
    node: HtmlElement | None = element
    while node is not None and node is not card:
        if node.tag in _STRUCK_TAGS or _STRUCK_CLASS.search(node.get("class") or ""):
            return True
        node = node.getparent()
    return False


def _price_only(text: str) -> bool:
    """Whether ``text`` is a price (or a range) with at most a short word around it ("ab", "from")."""
    if not text or len(text) > 60 or not looks_like_price(text):
        return False
    rest = _PRICE_TOKEN.sub(" ", re.sub(r"[€£$¥₹₽₩₺]|\b[A-Z]{3}\b", " ", text))
    return len(re.sub(r"\W", "", rest)) <= 12


def _price_text(card: HtmlElement) -> str | None:
    candidates: list[tuple[bool, bool, str]] = []
    for element in card.iter():
        if not isinstance(element.tag, str) or element.tag in _SKIP_TAGS or _is_hidden(element):
            continue
        text = visible_text(element)
        if not _price_only(text):
            continue
        # A price is a text block: one that holds the link, photo or heading is the card itself.
        if element.xpath(f".//a | .//img | .//*[{_HEADINGS}]"):
            continue
        marked = "price" in f"{element.get('class', '')} {element.get('itemprop', '')}".lower()
        candidates.append((_is_struck(element, card), not marked, text))
    if candidates:
        # The current price before a struck-through one, a marked one before any; then page order.
        return min(candidates, key=lambda candidate: candidate[:2])[2]
    return None


def _title(card: HtmlElement, link: HtmlElement | None) -> str | None:
    scopes = [node for node in (link, card) if node is not None]
    title: str | None = None
    for scope in scopes:
        for heading in scope.xpath(f"descendant-or-self::*[{_HEADINGS}]"):
            title = clean_text(visible_text(heading))
            if title:
                break
        if title:
            break
    if not title:
        for node in card.iter():
            if not isinstance(node.tag, str) or node.tag in _SKIP_TAGS:
                continue
            marker = f"{node.get('class', '')} {node.get('itemprop', '')}".lower()
            if re.search(r"title|name", marker) and not _is_hidden(node):
                title = clean_text(visible_text(node))
                if title:
                    break
    if not title and link is not None:
        title = clean_text(visible_text(link)) or clean_text(link.get("title"))
    alt = next((clean_text(img.get("alt")) for img in card.iter("img") if clean_text(img.get("alt"))), None)
    if not title:
        return alt
    # The photo's alt text is usually the bare title, without the badges ("New listing", "Sponsored")
    # that the visible title carries in front or behind.
    if alt and len(alt) >= 10 and alt != title and alt in title:
        return alt
    return title


def _main_link(card: HtmlElement, page_url: str) -> tuple[str, HtmlElement] | None:
    """The card's listing link: the one around the heading, else around the photo, else the most used."""
    scores: dict[str, tuple[int, int, HtmlElement]] = {}
    anchors = [card] if card.tag == "a" else []
    anchors += card.iter("a")
    for order, anchor in enumerate(anchors):
        url = absolute_url(anchor.get("href"), page_url)
        if url is None:
            continue
        score = 1
        if anchor.xpath(f"descendant-or-self::*[{_HEADINGS}]") or re.search(
            r"title|name", anchor.get("class", ""), re.I
        ):
            score += 4
        if next(iter(anchor.iter("img", "picture")), None) is not None:
            score += 2
        previous = scores.get(url)
        total = score + (previous[0] if previous else 0)
        scores[url] = (total, previous[1] if previous else -order, previous[2] if previous else anchor)
    if not scores:
        return None
    url, (_, _, anchor) = max(scores.items(), key=lambda item: (item[1][0], item[1][1]))
    return url, anchor


def _looks_like_card(element: HtmlElement) -> bool:
    links = element.xpath("count(descendant-or-self::a[@href])")
    if not links or links > MAX_CARD_LINKS:
        return False
    if next(iter(element.iter("img", "source")), None) is None and "background" not in _html_styles(element):
        return False
    text = visible_text(element)
    return len(text) <= MAX_CARD_TEXT and looks_like_price(text)


def _html_styles(element: HtmlElement) -> str:
    return " ".join(str(style) for style in element.xpath("descendant-or-self::*/@style"))


def _sibling_groups(parent: HtmlElement) -> Iterator[list[HtmlElement]]:
    """Children of ``parent`` grouped by kind: one tag, and sharing a class (or both without one)."""
    children = [c for c in parent if isinstance(c.tag, str) and c.tag not in _SKIP_TAGS]
    by_tag: dict[str, list[HtmlElement]] = {}
    for child in children:
        by_tag.setdefault(child.tag, []).append(child)
    for siblings in by_tag.values():
        if len(siblings) < MIN_CARDS:
            continue
        groups: list[tuple[set[str], list[HtmlElement]]] = []
        for sibling in siblings:
            classes = _classes(sibling)
            home = next(
                (g for g in groups if (g[0] & classes) or (not g[0] and not classes)),
                None,
            )
            if home is None:
                groups.append((set(classes), [sibling]))
            else:
                home[0].update(classes)
                home[1].append(sibling)
        for _, members in groups:
            if len(members) >= MIN_CARDS:
                yield members


def find_card_groups(tree: HtmlElement) -> list[list[HtmlElement]]:
    """Groups of listing cards on the page, largest first; cards nested in cards give way to them."""
    candidates: list[list[HtmlElement]] = []
    for parent in tree.iter():
        if not isinstance(parent.tag, str) or parent.tag in _SKIP_TAGS:
            continue
        for members in _sibling_groups(parent):
            cards = [member for member in members if _looks_like_card(member)]
            if len(cards) >= MIN_CARDS and 2 * len(cards) >= len(members):
                candidates.append(cards)
    # A row of cards looks like a card too; the innermost repeated blocks are the listings.
    holders: set[HtmlElement] = set()
    for cards in candidates:
        for card in cards:
            holders.update(card.iterancestors())
    groups = [cards for cards in candidates if sum(card in holders for card in cards) * 2 < len(cards)]
    return sorted(groups, key=len, reverse=True)


def _card_listing(card: HtmlElement, page_url: str) -> ExtractedListing | None:
    link = _main_link(card, page_url)
    if link is None:
        return None
    url, anchor = link
    price_text = _price_text(card)
    price = parse_price(price_text) if price_text else None
    image = next(_images(anchor, page_url), None) or next(_images(card, page_url), None)
    seller = quantity = None
    for node in card.iter():
        if not isinstance(node.tag, str) or _is_hidden(node):
            continue
        roles = _roles(node)
        if seller is None and roles & _SELLER_ROLES:
            text = clean_text(visible_text(node))
            seller = text if text and len(text) <= 80 else None
        if quantity is None and roles & _QUANTITY_ROLES:
            quantity = parse_quantity(visible_text(node))
    listed = card.xpath("string(.//time/@datetime)") or None
    return ExtractedListing(
        url=url,
        title=_title(card, anchor),
        price=price.amount if price else None,
        price_max=price.maximum if price else None,
        currency=price.currency if price and price.amount is not None else None,
        image=image,
        seller=seller,
        quantity=quantity,
        listed_at=parse_listed_at(str(listed) if listed else None),
    )


def heuristic_listings(tree: HtmlElement, page_url: str) -> list[ExtractedListing]:
    """Listings read from the repeated cards of a search page (duplicates included; the caller merges)."""
    listings: list[ExtractedListing] = []
    for cards in find_card_groups(tree):
        found = [listing for listing in (_card_listing(card, page_url) for card in cards) if listing]
        urls = [canonical_url(listing.url) for listing in found]
        # Tracking queries differ between two cards of one listing; drop them when paths suffice.
        strip = paths_identify(urls)
        for listing, url in zip(found, urls, strict=True):
            listings.append(listing.model_copy(update={"url": without_query(url) if strip else url}))
    return listings
