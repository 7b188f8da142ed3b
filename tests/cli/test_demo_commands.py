"""``hallmark demo``: the whole product on the shipped demo data, end to end."""

from __future__ import annotations

import re

import pytest
from hallmark_cli import HallmarkRunner
from local_services import free_port


@pytest.mark.slow
def test_the_demo_crawls_the_marketplace_and_opens_cases_for_copies(run_hallmark: HallmarkRunner) -> None:
    port = str(free_port())
    done = run_hallmark("demo", "--no-serve", "--market-port", port, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "catalog: 14 products, 14 reference photos (14 new)" in out
    assert re.search(r"reused-photo-mirrored\.jpg\s+copy\s", out)
    assert re.search(r"unrelated-produce\.jpg\s+none\s", out)
    assert "crawl 1: finished" in out
    assert "listings: 98 new" in out
    assert "robots.txt refused 1" in out
    cases = int(re.search(r"cases: (\d+)", out).group(1))  # type: ignore[union-attr]
    # The market holds 15 edited copies of catalog photos among 100 listings.
    assert 12 <= cases <= 40
    assert "image_copy" in out

    again = run_hallmark("demo", "--no-serve", "--market-port", port, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "(0 new)" in again.stdout
    assert "listings: 0 new, 0 changed, 98 unchanged, 0 gone" in again.stdout
    assert f"cases: {cases};" in again.stdout
