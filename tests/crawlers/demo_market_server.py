"""The demo market served by uvicorn on a free loopback port, with a log of the requests it served.

A plain module tests import (like ``hallmark_cli``). The log is an ASGI wrapper around the real app,
so tests can check what a crawler fetched (robots.txt obeyed, retries made, photos not re-downloaded).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn

from crawlers.demo_market import create_app

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]


@dataclass
class DemoMarket:
    """A running demo market."""

    base_url: str
    requests: list[tuple[str, str]] = field(default_factory=list)

    def paths(self) -> list[str]:
        """Paths served so far, in order."""
        return [path for path, _ in self.requests]

    def count(self, path: str) -> int:
        return sum(1 for served, _ in self.requests if served == path)

    def admin(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = httpx.request(method, self.base_url + path, timeout=10, **kwargs)
        response.raise_for_status()
        return response

    def reset(self) -> None:
        self.admin("POST", "/admin/reset")
        self.requests.clear()


class _Recorder:
    def __init__(self, app: ASGIApp, market: DemoMarket) -> None:
        self.app = app
        self.market = market

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and not scope["path"].startswith("/admin/"):
            agent = dict(scope.get("headers") or []).get(b"user-agent", b"").decode("latin-1")
            self.market.requests.append((scope["path"], agent))
        await self.app(scope, receive, send)


@contextmanager
def serve_demo_market(
    *, slow_seconds: float = 1.0, fail_first: int = 2, page_size: int = 24
) -> Iterator[DemoMarket]:
    """Serves a demo market in a background thread until the block ends."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    market = DemoMarket(f"http://127.0.0.1:{sock.getsockname()[1]}")
    app = _Recorder(create_app(page_size=page_size, slow_seconds=slow_seconds, fail_first=fail_first), market)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("demo market did not start")
        time.sleep(0.02)
    try:
        yield market
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        sock.close()
