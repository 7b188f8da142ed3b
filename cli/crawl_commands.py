"""``hallmark extract`` (listings in a saved marketplace page), ``hallmark demo-market``, and
``hallmark crawl`` (run, schedule and review crawls of marketplaces)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

import typer

from cli.output import EXIT_FAILED, EXIT_USAGE, fail, user_errors
from crawlers.adapter import Adapter, get_adapter
from crawlers.extract import ExtractedListing, check_page_url, extract_listings
from crawlers.job import CrawlJob
from crawlers.jobs import FAILED, RunSummary, drain_run_items, history, record_match_stats, run_crawl
from crawlers.schedules import ScheduleInfo, add_schedule, list_schedules, remove_schedule
from crawlers.stats import format_stats, public_stats
from hallmark.db import open_database
from hallmark.errors import HallmarkError
from hallmark.settings import Settings, get_settings
from hallmark.work_queue import HandlerRegistry

crawl_app = typer.Typer(help="Crawl marketplaces: run a crawl, schedule recurring ones, review past runs.")
schedule_app = typer.Typer(help="Recurring crawl jobs, kept in the database.", no_args_is_help=True)
crawl_app.add_typer(schedule_app, name="schedule")

AdapterArgument = Annotated[
    str, typer.Argument(help="Site adapter (crawlers/adapters/*.toml), e.g. demo-ssr.")
]
BaseUrlOption = Annotated[
    str | None, typer.Option("--base-url", help="Where the marketplace runs; the adapter's default if unset.")
]
QueryOption = Annotated[str | None, typer.Option("--query", help="Search words; everything when unset.")]
MaxPagesOption = Annotated[
    int | None, typer.Option("--max-pages", min=1, max=1000, help="Bound on search pages (or scrolls).")
]

# Pages bigger than this are not search or item pages; refusing them keeps a mistake cheap.
MAX_PAGE_BYTES = 20 * 1024 * 1024


def _line(listing: ExtractedListing, as_json: bool) -> str:
    if as_json:
        # Fields the page does not show are left out rather than printed as null.
        return json.dumps(listing.model_dump(mode="json", exclude_none=True), ensure_ascii=False)
    if listing.price is None:
        price = "-"
    else:
        price = f"{listing.price:.2f}" + (
            f"-{listing.price_max:.2f}" if listing.price_max is not None else ""
        )
        price += f" {listing.currency}" if listing.currency else ""
    return "\t".join((price, listing.title or "-", listing.url))


def extract(
    file: Annotated[Path, typer.Argument(help="A saved HTML page (search results or an item page).")],
    url: Annotated[str, typer.Option("--url", help="The URL the page was fetched from.")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    no_adapter: Annotated[
        bool, typer.Option("--no-adapter", help="Ignore site adapters; find listings by structure.")
    ] = False,
    adapter_name: Annotated[
        str | None, typer.Option("--adapter", help="Use this adapter instead of the one matching --url.")
    ] = None,
) -> None:
    """Print the listings found in a saved marketplace page, one per line.

    Plain output is tab-separated: price (a range as LOW-HIGH) with currency, title, listing URL. With
    --json each line is an object with url, title, price, price_max, currency, image, seller, quantity
    and listed_at; fields the page does not show are left out. Exit code 0 on success (also when
    nothing is found), 1 when the file is not HTML, 2 for a usage error.
    """
    if no_adapter and adapter_name:
        fail("give --no-adapter or --adapter, not both", EXIT_USAGE)
    try:
        check_page_url(url)
    except HallmarkError as error:
        fail(str(error), EXIT_USAGE)
    chosen: Adapter | Literal["auto"] | None = None if no_adapter else "auto"
    if adapter_name:
        try:
            chosen = get_adapter(adapter_name)
        except HallmarkError as error:
            fail(str(error), EXIT_USAGE)
    try:
        if file.stat().st_size > MAX_PAGE_BYTES:
            fail(f"{file} is larger than {MAX_PAGE_BYTES // (1024 * 1024)} MiB; not a marketplace page")
        html = file.read_bytes()
    except OSError as error:
        fail(f"cannot read {file}: {error.strerror or error}", EXIT_USAGE)
    with user_errors():
        listings = extract_listings(html, url, adapter=chosen)
    for listing in listings:
        typer.echo(_line(listing, as_json))


def demo_market(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8765,
) -> None:
    """Serve the demo marketplace (server-rendered and JavaScript storefronts) until Ctrl-C."""
    from crawlers.demo_market import serve  # the web stack loads only for this command

    typer.echo(
        f"demo market on http://{host}:{port}/ (SSR: /ssr/search, JavaScript app: /app/); Ctrl-C stops"
    )
    with user_errors():
        serve(host, port)


def _job(adapter: str, base_url: str | None, query: str | None, max_pages: int | None) -> CrawlJob:
    try:
        return CrawlJob(adapter, base_url, query, max_pages).validated()
    except HallmarkError as error:
        fail(str(error), EXIT_USAGE)


def _summary_json(run: RunSummary) -> dict[str, object]:
    return {
        "id": run.id,
        "adapter": run.adapter,
        "base_url": run.base_url,
        "query": run.query,
        "schedule_id": run.schedule_id,
        "status": run.status,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "error": run.error,
        "stats": public_stats(run.stats),
    }


def crawl_and_match(settings: Settings, job: CrawlJob, *, match: bool = True) -> RunSummary:
    """Crawls ``job`` in a child process, then matches the photos it queued (flagged listings open cases).

    Progress goes to stderr; the returned run carries the crawl's and the matching's statistics.
    """
    database = open_database(settings)
    typer.echo(f"crawling {job.adapter} at {job.base_url or get_adapter(job.adapter).base_url} ...", err=True)
    run = run_crawl(database, settings, job)
    if run.status != FAILED and match:
        from cli.worker_commands import build_registry  # the model loads only when there is work

        handlers = build_registry(settings, [], HandlerRegistry())

        def progress(done: int, total: int) -> None:
            if total and (done == total or done % 25 == 0):
                typer.echo(f"matching photos: {done}/{total}", err=True)

        drain_run_items(database, settings, run.id, handlers, progress=progress)
    return record_match_stats(database, run.id)


@crawl_app.command("run")
def crawl_run(
    adapter: AdapterArgument,
    base_url: BaseUrlOption = None,
    query: QueryOption = None,
    max_pages: MaxPagesOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run and its stats as JSON.")] = False,
    no_match: Annotated[
        bool, typer.Option("--no-match", help="Leave the new photos queued for `hallmark worker`.")
    ] = False,
) -> None:
    """Crawl one marketplace search now, match the new photos, and print the crawl's stats.

    Listings, sellers and photos are stored incrementally; new and changed photos are matched against
    the catalog (flagged listings open cases) before the stats are printed. Exit code 0 when the crawl
    ran (failed pages are counted in its stats), 1 when it could not run, 2 for a usage error.
    """
    job = _job(adapter, base_url, query, max_pages)
    with user_errors():
        run = crawl_and_match(get_settings(), job, match=not no_match)
    if as_json:
        typer.echo(json.dumps(_summary_json(run), ensure_ascii=False))
    else:
        typer.echo(f"run {run.id}: {run.status}")
        for line in format_stats(run.stats):
            typer.echo(f"  {line}")
        if run.error:
            typer.echo(f"  error: {run.error}")
    if run.status == FAILED:
        raise typer.Exit(EXIT_FAILED)


@crawl_app.command("history")
def crawl_history(
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000, help="How many runs.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per run.")] = False,
) -> None:
    """Show past crawl runs, newest first: when, what, how it went."""
    with user_errors():
        runs = history(open_database(get_settings()), limit)
    for run in runs:
        if as_json:
            typer.echo(json.dumps(_summary_json(run), ensure_ascii=False))
            continue
        stats = run.stats
        typer.echo(
            "\t".join(
                (
                    str(run.id),
                    run.started_at.strftime("%Y-%m-%d %H:%M:%S"),
                    run.status,
                    run.adapter,
                    run.query or "-",
                    f"pages {stats.get('pages', 0)}",
                    f"listings +{stats.get('listings_new', 0)} ~{stats.get('listings_changed', 0)} "
                    f"-{stats.get('listings_gone', 0)}",
                    f"images +{stats.get('images_new', 0)} !{stats.get('images_failed', 0)}",
                    f"flagged {stats.get('flagged', 0)}",
                )
            )
        )


def _schedule_line(info: ScheduleInfo) -> str:
    job = info.job
    next_run = info.next_run_at.strftime("%Y-%m-%d %H:%M:%S") if info.next_run_at else "-"
    return "\t".join(
        (
            info.name,
            job.adapter,
            job.base_url or "-",
            job.query or "-",
            f"max-pages {job.max_pages or '-'}",
            f"every {info.every_minutes} min",
            f"next {next_run}",
        )
    )


@schedule_app.command("add")
def schedule_add(
    name: Annotated[str, typer.Argument(help="A name for the job.")],
    adapter: AdapterArgument,
    every: Annotated[int, typer.Option("--every", min=1, help="Minutes between two runs.")],
    base_url: BaseUrlOption = None,
    query: QueryOption = None,
    max_pages: MaxPagesOption = None,
) -> None:
    """Add a recurring crawl job; `hallmark scheduler` runs it, the first time at once."""
    job = _job(adapter, base_url, query, max_pages)
    with user_errors(), open_database(get_settings()).session() as session:
        info = add_schedule(session, name, job, every)
    typer.echo(_schedule_line(info))


@schedule_app.command("list")
def schedule_list() -> None:
    """List the recurring crawl jobs."""
    with user_errors(), open_database(get_settings()).session() as session:
        schedules = list_schedules(session)
    for info in schedules:
        typer.echo(_schedule_line(info))


@schedule_app.command("remove")
def schedule_remove(name: Annotated[str, typer.Argument(help="The job's name.")]) -> None:
    """Remove a recurring crawl job (its past runs stay in the history)."""
    with user_errors(), open_database(get_settings()).session() as session:
        remove_schedule(session, name)
    typer.echo(f"removed schedule {name}")


def register(app: typer.Typer) -> None:
    """Adds ``hallmark extract``, ``hallmark demo-market`` and ``hallmark crawl`` to the app."""
    app.command("extract")(extract)
    app.command("demo-market")(demo_market)
    app.add_typer(crawl_app, name="crawl")
