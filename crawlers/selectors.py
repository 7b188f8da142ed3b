"""Reading one adapter field from a page: the first of its selectors that yields a value wins."""

from __future__ import annotations

import re

from lxml.html import HtmlElement
from parsel import Selector

from crawlers.adapter import FieldSelector
from crawlers.listing import clean_text
from crawlers.urls import best_from_srcset

_NO_TEXT = {"script", "style", "noscript", "template"}


def _text(root: HtmlElement, skip: set[HtmlElement]) -> str:
    parts: list[str] = []

    def walk(node: HtmlElement) -> None:
        if node not in skip and isinstance(node.tag, str) and node.tag not in _NO_TEXT:
            if node.text:
                parts.append(node.text)
            for child in node:
                walk(child)
        if node is not root and node.tail:
            parts.append(node.tail)

    walk(root)
    return "".join(parts)


def _value(match: Selector, spec: FieldSelector) -> str | None:
    root = match.root
    if isinstance(root, str):  # ::text, ::attr() or an XPath that selects strings
        value: str | None = root
    elif not isinstance(root, HtmlElement):
        value = str(root)
    elif spec.attr is not None:
        value = root.get(spec.attr)
        if value and spec.attr.endswith("srcset"):
            value = best_from_srcset(value)
    else:
        skip = {element.root for css in spec.strip for element in match.css(css)}
        value = _text(root, skip)
    value = clean_text(value)
    if value and spec.regex:
        found = re.search(spec.regex, value)
        value = (found.group(1) if found and found.groups() else found.group(0) if found else None) or None
    return value


def read_field(node: Selector, selectors: tuple[FieldSelector, ...]) -> str | None:
    """The value of a field under ``node``: the first non-empty value any of ``selectors`` gives."""
    for spec in selectors:
        for match in spec.select(node):
            value = _value(match, spec)
            if value:
                return value
    return None
