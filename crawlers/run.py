"""``python -m crawlers.run``: one crawl in this (child) process, recorded into an existing CrawlRun.

:mod:`crawlers.jobs` starts it; it is not meant to be run by hand (``hallmark crawl run`` is).
"""

from __future__ import annotations

import argparse

from crawlers.job import CrawlJob
from crawlers.process import crawl_in_this_process
from hallmark.settings import get_settings


def main(argv: list[str] | None = None) -> None:
    """Parses the job from the command line and crawls it."""
    parser = argparse.ArgumentParser(prog="python -m crawlers.run", description=__doc__)
    parser.add_argument("--adapter", required=True)
    parser.add_argument("--base-url")
    parser.add_argument("--query")
    parser.add_argument("--max-pages", type=int)
    parser.add_argument("--run-id", type=int, required=True)
    args = parser.parse_args(argv)
    job = CrawlJob(args.adapter, args.base_url, args.query, args.max_pages)
    crawl_in_this_process(get_settings(), job, args.run_id)


if __name__ == "__main__":
    main()
