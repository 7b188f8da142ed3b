"""A small HTTP server on 127.0.0.1 for fetch tests: images, redirects, huge and slow answers.

Plain module; tests start it with ``serve()`` as a context manager. Every path is fixed, so tests
read like what they fetch: ``/image.png``, ``/redirect?to=URL``, ``/huge``, ``/slow``...
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from PIL import Image

HUGE_BYTES = 3 * 1024 * 1024


def png_bytes(size: tuple[int, int] = (64, 48), colour: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


class _Handler(BaseHTTPRequestHandler):
    images: dict[str, bytes] = {}

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        pass

    def handle(self) -> None:
        # Tests hang up on purpose (size caps, timeouts); the server's next write then fails, which
        # socketserver would print as a traceback in the middle of the test output.
        with suppress(ConnectionError):
            super().handle()

    def _send(self, status: int, body: bytes, content_type: str = "text/plain", length: bool = True) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        if parts.path in self.images:
            self._send(
                200, self.images[parts.path], "image/jpeg" if parts.path.endswith(".jpg") else "image/png"
            )
        elif parts.path == "/image.png":
            self._send(200, png_bytes(), "image/png")
        elif parts.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", query["to"][0])
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif parts.path == "/loop":
            self.send_response(302)
            self.send_header("Location", "/loop")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif parts.path == "/huge":
            self._send(200, bytes(HUGE_BYTES), "image/png")
        elif parts.path == "/huge-chunked":
            # No Content-Length: the cap must hold while reading.
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Connection", "close")
            self.end_headers()
            for _ in range(HUGE_BYTES // 65536 + 1):
                self.wfile.write(bytes(65536))
        elif parts.path == "/slow":
            # A byte every 0.2 s: no single read waits long, the whole takes forever.
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", "1000")
            self.end_headers()
            try:
                for _ in range(1000):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.2)
            except OSError:
                pass
        elif parts.path == "/gone":
            self._send(404, b"this listing has been removed")
        elif parts.path == "/listing":
            self._send(200, b"<html><body>still for sale</body></html>", "text/html")
        else:
            self._send(404, b"not found")


@contextmanager
def serve(images: dict[str, bytes] | None = None) -> Iterator[str]:
    """Serves on a free loopback port; yields the base URL (``http://127.0.0.1:PORT``)."""
    handler = type("Handler", (_Handler,), {"images": dict(images or {})})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
