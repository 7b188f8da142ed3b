"""The demo marketplace: two storefronts over one set of listings, and the failures crawlers must survive.

Routes:

- ``/ssr/search?q=&page=``: server-rendered results pages with pagination links.
- ``/ssr/item/{id}``: item pages with JSON-LD Product and Offer (seller, quantity, listing date) and
  OpenGraph tags. Both storefronts link to these.
- ``/app/``: a JavaScript storefront that renders cards from ``/api/listings?q=&offset=&limit=`` and
  loads more on scrolling to the bottom; ``/api/listings/{id}`` is one listing.
- ``/images/{id}.jpg``: listing photos.
- ``/robots.txt``: disallows ``/ssr/private/`` (one listing linked from the results lives there) and
  ``/admin/``.
- Faults, marked per listing in ``listings.json``: a truncated JPEG (``broken_image``), a PNG whose
  header claims 30000 x 30000 pixels (``huge_image``), an item page that takes ``slow_seconds``
  (``slow``), one that answers 500 to its first ``fail_first`` requests (``flaky``) and one linked
  from the results that answers 404 (``missing``). ``/images/oversized.jpg?mb=N`` streams N MiB.
- ``/admin/``: what tests use to change the market between crawls: ``POST /admin/remove/{id}`` (the
  item page then answers 410 and the listing leaves the results), ``POST /admin/restore/{id}``,
  ``PATCH /admin/listings/{id}`` (title, price, quantity) and ``POST /admin/reset``.
"""

from __future__ import annotations

import asyncio
import json
import math
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import uvicorn
from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse, StreamingResponse
from fastapi.templating import Jinja2Templates

from crawlers.demo_market.data import Market, MarketChange, MarketListing
from crawlers.demo_market.faults import oversized_body, pixel_bomb_png, truncated
from hallmark.errors import HallmarkError, NotFoundError

TEMPLATES = Jinja2Templates(directory=Path(__file__).resolve().parent / "templates")
ROBOTS_TXT = """\
# Demo Market: crawlers must stay out of the private area and the admin endpoints.
User-agent: *
Disallow: /ssr/private/
Disallow: /admin/
"""


def _market(request: Request) -> Market:
    market: Market = request.app.state.market
    return market


MarketDep = Annotated[Market, Depends(_market)]


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _price(amount: float, currency: str) -> str:
    # German style ("1.049,00 €"), so extraction has a decimal comma to get right.
    text = f"{amount:,.2f}".replace(",", " ").replace(".", ",").replace(" ", ".")
    return f"{text} {'€' if currency == 'EUR' else currency}"


def item_path(listing: MarketListing) -> str:
    """Where a listing's item page lives: the robots-disallowed one under ``/ssr/private/``."""
    return f"/ssr/private/item/{listing.id}" if listing.fault == "robots" else f"/ssr/item/{listing.id}"


def image_path(listing: MarketListing) -> str:
    """Where a listing's photo lives (the pixel bomb is a PNG)."""
    return f"/images/{listing.id}.png" if listing.fault == "huge_image" else f"/images/{listing.id}.jpg"


def _api_item(listing: MarketListing, base: str) -> dict[str, Any]:
    return {
        "id": listing.id,
        "url": base + item_path(listing),
        "title": listing.title,
        "price": {"amount": listing.price, "currency": listing.currency},
        "image": base + image_path(listing),
        "seller": {"name": listing.seller},
        "quantity": listing.quantity,
        "listed_at": listing.listed_at.isoformat(),
    }


def _json_ld(listing: MarketListing, canonical: str, image: str) -> str:
    data = {
        "@context": "https://schema.org",
        "@type": "Product",
        "name": listing.title,
        "url": canonical,
        "image": [image],
        "offers": {
            "@type": "Offer",
            "url": canonical,
            "price": f"{listing.price:.2f}",
            "priceCurrency": listing.currency,
            "availability": "https://schema.org/InStock"
            if listing.quantity
            else "https://schema.org/SoldOut",
            "inventoryLevel": {"@type": "QuantitativeValue", "value": listing.quantity},
            "validFrom": listing.listed_at.isoformat(),
            "seller": {"@type": "Organization", "name": listing.seller},
        },
    }
    # "</script>" inside a title must not end the script element.
    return json.dumps(data, ensure_ascii=False).replace("<", "\\u003c")


def create_app(
    data_dir: Path | None = None,
    *,
    page_size: int = 24,
    slow_seconds: float = 3.0,
    fail_first: int = 2,
) -> FastAPI:
    """The demo marketplace as an ASGI app.

    Args:
        data_dir: folder with ``listings.json`` and ``images/``; the repository's ``demo/market``.
        page_size: listings per server-rendered results page (and the app's page of API results).
        slow_seconds: how long the ``slow`` item page takes.
        fail_first: how many requests to the ``flaky`` item page answer 500 before it works.

    Raises:
        NotFoundError: ``data_dir`` holds no usable ``listings.json``.
    """
    market = Market(data_dir)
    app = FastAPI(title="Hallmark demo market", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.market = market

    @app.exception_handler(NotFoundError)
    async def _not_found(request: Request, error: NotFoundError) -> Response:
        return PlainTextResponse(str(error), status_code=404)

    @app.get("/", response_class=HTMLResponse)
    async def home(request: Request) -> Response:
        """Links to both storefronts."""
        return TEMPLATES.TemplateResponse(request, "home.html.j2", {})

    @app.get("/robots.txt", response_class=PlainTextResponse)
    async def robots() -> str:
        """What crawlers may fetch."""
        return ROBOTS_TXT

    @app.get("/ssr/search", response_class=HTMLResponse)
    async def search(
        request: Request, market: MarketDep, q: str = "", page: Annotated[int, Query(ge=1, le=10_000)] = 1
    ) -> Response:
        """A page of server-rendered search results."""
        found = market.search(q)
        pages = max(1, math.ceil(len(found) / page_size))
        shown = found[(page - 1) * page_size : page * page_size]

        def page_url(number: int) -> str:
            return str(request.url.include_query_params(q=q, page=number))

        cards = [
            {
                "id": listing.id,
                # Relative on purpose: extraction must resolve them against the page.
                "href": item_path(listing),
                "image": image_path(listing),
                "title": listing.title,
                "price": _price(listing.price, listing.currency),
                "seller": listing.seller,
                "quantity": listing.quantity,
                "listed_at": listing.listed_at.isoformat(),
                "listed_day": listing.listed_at.date().isoformat(),
            }
            for listing in shown
        ]
        context = {
            "query": q,
            "page": page,
            "pages": pages,
            "total": len(found),
            "cards": cards,
            "prev_url": page_url(page - 1) if page > 1 else None,
            "next_url": page_url(page + 1) if page < pages else None,
        }
        return TEMPLATES.TemplateResponse(request, "search.html.j2", context)

    async def _item_page(request: Request, market: Market, listing_id: str, private: bool) -> Response:
        listing = market.get(listing_id)
        if (listing.fault == "robots") != private or listing.fault == "missing":
            raise NotFoundError(f"no listing {listing_id!r}")
        if listing.id in market.removed:
            return PlainTextResponse("This listing has been removed.", status_code=410)
        if listing.fault == "slow":
            await asyncio.sleep(slow_seconds)
        if listing.fault == "flaky":
            count = market.failures.get(listing.id, 0)
            if count < fail_first:
                market.failures[listing.id] = count + 1
                return PlainTextResponse("Internal Server Error (demo: try again)", status_code=500)
        base = _base(request)
        canonical = base + item_path(listing)
        image = base + image_path(listing)
        context = {
            "listing": listing,
            "canonical": canonical,
            "image": image,
            "price": _price(listing.price, listing.currency),
            "json_ld": _json_ld(listing, canonical, image),
        }
        return TEMPLATES.TemplateResponse(request, "item.html.j2", context)

    @app.get("/ssr/item/{listing_id}", response_class=HTMLResponse)
    async def item(request: Request, market: MarketDep, listing_id: str) -> Response:
        """An item page, with JSON-LD."""
        return await _item_page(request, market, listing_id, private=False)

    @app.get("/ssr/private/item/{listing_id}", response_class=HTMLResponse)
    async def private_item(request: Request, market: MarketDep, listing_id: str) -> Response:
        """An item page that robots.txt disallows."""
        return await _item_page(request, market, listing_id, private=True)

    @app.get("/images/oversized.jpg")
    async def oversized(mb: Annotated[int, Query(ge=1, le=256)] = 32) -> Response:
        """A body of ``mb`` MiB that starts like a JPEG, streamed."""
        return StreamingResponse(oversized_body(mb), media_type="image/jpeg")

    @app.get("/images/{name}")
    async def image(market: MarketDep, name: str) -> Response:
        """A listing's photo (broken or oversized where the listing's fault says)."""
        listing_id, _, extension = name.partition(".")
        listing = market.get(listing_id)
        if name != Path(image_path(listing)).name:
            raise NotFoundError(f"no image {name!r}")
        if listing.fault == "huge_image":
            return Response(pixel_bomb_png(), media_type="image/png")
        path = market.data_dir / listing.image
        if listing.fault == "broken_image":
            return Response(truncated(path.read_bytes()), media_type="image/jpeg")
        return FileResponse(path, media_type="image/jpeg")

    @app.get("/app/", response_class=HTMLResponse)
    async def storefront(request: Request) -> Response:
        """The JavaScript storefront: cards rendered in the browser, infinite scroll."""
        return TEMPLATES.TemplateResponse(request, "app.html.j2", {"page_size": page_size})

    @app.get("/api/listings")
    async def api_listings(
        request: Request,
        market: MarketDep,
        q: str = "",
        offset: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=100)] = 24,
    ) -> dict[str, Any]:
        """A page of listings as JSON."""
        found = market.search(q)
        base = _base(request)
        items = [_api_item(listing, base) for listing in found[offset : offset + limit]]
        following = offset + limit
        return {
            "items": items,
            "total": len(found),
            "offset": offset,
            "limit": limit,
            "next_offset": following if following < len(found) else None,
        }

    @app.get("/api/listings/{listing_id}")
    async def api_listing(request: Request, market: MarketDep, listing_id: str) -> Response:
        """One listing as JSON (410 once removed)."""
        listing = market.get(listing_id)
        if listing.fault == "missing":
            raise NotFoundError(f"no listing {listing_id!r}")
        if listing.id in market.removed:
            return JSONResponse({"detail": "removed"}, status_code=410)
        return JSONResponse(_api_item(listing, _base(request)))

    @app.post("/admin/remove/{listing_id}", status_code=204)
    async def remove(market: MarketDep, listing_id: str) -> None:
        """Takes a listing down: its item page answers 410 and it leaves the results."""
        market.get(listing_id)
        market.removed.add(listing_id)

    @app.post("/admin/restore/{listing_id}", status_code=204)
    async def restore(market: MarketDep, listing_id: str) -> None:
        """Puts a removed listing back."""
        market.get(listing_id)
        market.removed.discard(listing_id)

    @app.patch("/admin/listings/{listing_id}")
    async def change(market: MarketDep, listing_id: str, body: MarketChange) -> dict[str, Any]:
        """Edits a listing's title, price or quantity, so a re-crawl sees a change."""
        if not body.model_dump(exclude_none=True):
            raise HTTPException(status_code=422, detail="nothing to change")
        return market.change(listing_id, body).model_dump(mode="json", exclude={"truth"})

    @app.post("/admin/reset", status_code=204)
    async def reset(market: MarketDep) -> None:
        """Restores every listing as shipped and resets the failure counters."""
        market.reset()

    return app


@contextmanager
def serving_in_background(
    host: str = "127.0.0.1", port: int = 0, data_dir: Path | None = None
) -> Iterator[str]:
    """Serves the demo marketplace from a background thread; yields its base URL, stops on exit.

    Args:
        host: Address to listen on (loopback for the demo).
        port: Port to listen on; 0 picks a free one.
        data_dir: Listings and photos; the shipped demo data when ``None``.
    """
    if port == 0:
        with socket.socket() as probe:
            probe.bind((host, 0))
            port = probe.getsockname()[1]
    config = uvicorn.Config(create_app(data_dir), host=host, port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="demo-market", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise HallmarkError(f"the demo market could not start on {host}:{port}")
        time.sleep(0.02)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def serve(host: str = "127.0.0.1", port: int = 8765, data_dir: Path | None = None) -> None:
    """Serves the demo marketplace until interrupted (Ctrl-C)."""
    uvicorn.run(create_app(data_dir), host=host, port=port, log_level="info")
