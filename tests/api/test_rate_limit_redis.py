"""Per-key rate limits across two real API processes: shared through Redis, per process in memory.

A ``redis-server`` runs on a free loopback port for the module (skipped when it is not installed,
a failure with ``CI=true``); two ``hallmark serve`` processes share one SQLite database and one key.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from local_services import free_port, service_unavailable

HALLMARK = str(Path(sys.executable).with_name("hallmark"))
LIMIT = 5

pytestmark = pytest.mark.slow


def _wait_for_port(port: int, process: subprocess.Popen[bytes], what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            assert process.poll() is None, f"{what} exited with {process.returncode}"
            assert time.monotonic() < deadline, f"{what} did not listen on port {port}"
            time.sleep(0.1)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(15)


@dataclass
class RedisServer:
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


def _start_redis(port: int) -> RedisServer:
    binary = shutil.which("redis-server")
    assert binary is not None
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _wait_for_port(port, process, "redis-server")
    return RedisServer(port, process)


@pytest.fixture(scope="module")
def redis_binary() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        message = (
            "redis-server is not installed (apt-get install redis-server); the Redis rate-limit tests need it"
        )
        service_unavailable(message, message)
    return binary


@pytest.fixture(scope="module")
def redis_server(redis_binary: str) -> Iterator[RedisServer]:
    server = _start_redis(free_port())
    try:
        yield server
    finally:
        _stop(server.process)


@dataclass
class Deployment:
    """Two API processes over one database, and a partner key."""

    bases: list[str]
    key: str

    def get(self, index: int, path: str = "/v1/checks") -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.key}"}
        return httpx.get(self.bases[index % len(self.bases)] + path, headers=headers, timeout=15)


@pytest.fixture
def deploy(tmp_path: Path, model_cache: Path) -> Iterator[Callable[[str], Deployment]]:
    """Starts two ``hallmark serve`` processes with the given rate-limit storage."""
    processes: list[subprocess.Popen[bytes]] = []

    def start(storage: str) -> Deployment:
        environment = {
            **os.environ,
            "HALLMARK_HOME": str(tmp_path / "home"),
            "HALLMARK_MODEL_CACHE": str(model_cache),
            "HALLMARK_RATE_LIMIT_STORAGE": storage,
            "HALLMARK_RATE_LIMIT_PER_KEY": f"{LIMIT}/minute",
        }
        environment.pop("HALLMARK_DATABASE_URL", None)
        created = subprocess.run(
            [HALLMARK, "keys", "create", "--role", "partner"],
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert created.returncode == 0, created.stderr
        key = created.stdout.strip().splitlines()[-1]
        bases = []
        for _ in range(2):
            port = free_port()
            process = subprocess.Popen(
                [HALLMARK, "serve", "--host", "127.0.0.1", "--port", str(port), "--no-preload"],
                env=environment,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            processes.append(process)
            _wait_for_port(port, process, "hallmark serve", seconds=60)
            bases.append(f"http://127.0.0.1:{port}")
        return Deployment(bases, key)

    yield start
    for process in processes:
        _stop(process)


def test_two_api_processes_sharing_redis_count_one_key_together(
    deploy: Callable[[str], Deployment], redis_server: RedisServer
) -> None:
    deployment = deploy(redis_server.url)
    answers = [deployment.get(index) for index in range(LIMIT + 1)]
    assert [answer.status_code for answer in answers] == [200] * LIMIT + [429]
    refused = answers[-1]
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.json()["detail"].startswith(
        f"too many requests for this API key (limit {LIMIT} per 1 minute)"
    )
    # Both processes now refuse the key: the budget is spent in the shared store, not in one process.
    assert [deployment.get(index).status_code for index in range(2)] == [429, 429]


def test_with_memory_storage_each_process_counts_on_its_own_which_is_why_redis_is_needed(
    deploy: Callable[[str], Deployment],
) -> None:
    deployment = deploy("memory://")
    answers = [deployment.get(index).status_code for index in range(2 * LIMIT + 2)]
    # Alternating requests: each process lets LIMIT through, so the key gets twice its budget.
    assert answers == [200] * (2 * LIMIT) + [429, 429]


def test_when_redis_goes_away_requests_are_refused_with_503_and_served_again_when_it_is_back(
    deploy: Callable[[str], Deployment], redis_binary: str
) -> None:
    redis = _start_redis(free_port())
    try:
        deployment = deploy(redis.url)
        assert deployment.get(0).status_code == 200
        _stop(redis.process)
        # Fail closed: a budget that cannot be counted is not granted, and the answer says why (no 500).
        for index in range(2):
            down = deployment.get(index)
            assert down.status_code == 503
            assert "rate-limit store is unavailable" in down.json()["detail"]
        assert deployment.get(0, "/healthz").status_code == 200
        redis = _start_redis(redis.port)
        deadline = time.monotonic() + 20
        while (status := deployment.get(1).status_code) != 200:
            assert status == 503 and time.monotonic() < deadline, f"answered {status} after Redis came back"
            time.sleep(0.2)
    finally:
        _stop(redis.process)
