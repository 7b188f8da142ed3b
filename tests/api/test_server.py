"""The API on a real socket: uvicorn on loopback, as ``hallmark serve`` runs it."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from api_client import make_keys
from case_world import MIRRORED_DA_002, build_catalog

from api.app import create_app
from hallmark.settings import Settings


@pytest.fixture
def live_server(tmp_path: Path, model_cache: Path) -> Iterator[tuple[str, dict[str, str]]]:
    settings = Settings(home=tmp_path / "home", model_cache=model_cache, rate_limit_per_key="5/minute")
    build_catalog(settings, tmp_path / "catalog")
    keys = make_keys(settings)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, preload_model=True), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", keys
    finally:
        server.should_exit = True
        thread.join(10)


def test_the_api_answers_over_a_real_socket(live_server: tuple[str, dict[str, str]]) -> None:
    base, keys = live_server
    with httpx.Client(base_url=base, timeout=30) as client:
        assert client.get("/healthz").json() == {"status": "ok", "database": "ok"}
        headers = {"Authorization": f"Bearer {keys['partner']}"}
        answer = client.post(
            "/v1/check", headers=headers, files={"image": ("l.jpg", MIRRORED_DA_002.read_bytes())}
        )
        assert answer.status_code == 200 and answer.json()["verdict"] == "copy"
        assert answer.json()["matches"][0]["reference_image"].startswith(f"{base}/v1/references/")
        huge = client.post("/v1/public/check", files={"image": ("h.jpg", bytes(27 * 1024 * 1024))})
        assert huge.status_code == 413
        statuses = [client.get("/v1/checks", headers=headers).status_code for _ in range(5)]
        assert statuses[-1] == 429
        assert client.get("/openapi.json").json()["info"]["title"] == "Hallmark"
        assert client.get("/healthz").status_code == 200
