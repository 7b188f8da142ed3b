"""Checking many image files in batches: the engine behind ``hallmark check`` and the benchmarks."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from hallmark.errors import HallmarkError
from index.matcher import CheckResult, EmbeddedBatch, Matcher
from index.photo_workers import worker_count
from models.spec import LISTING_INPUT_SIZE
from vision.decode import DecodedImage, read_image

#: Extensions picked up when a folder is given (a file named explicitly is always checked).
IMAGE_EXTENSIONS = frozenset(
    {
        ".jpg",
        ".jpeg",
        ".jpe",
        ".png",
        ".webp",
        ".gif",
        ".bmp",
        ".tif",
        ".tiff",
        ".heic",
        ".avif",
        ".svg",
    }
)


@dataclass(frozen=True)
class CheckOutcome:
    """One input image: its result, or why it could not be checked."""

    name: str
    result: CheckResult | None = None
    error: str | None = None


def collect_images(arguments: Iterable[str]) -> list[tuple[str, Path]]:
    """Expands files and folders into ``(name as given or found, path)``, folders sorted by path.

    A path that does not exist is kept, so that it is reported in order like any unreadable file.
    """
    found: list[tuple[str, Path]] = []
    for argument in arguments:
        path = Path(argument)
        if path.is_dir():
            children = sorted(
                child
                for child in path.rglob("*")
                if child.suffix.lower() in IMAGE_EXTENSIONS and child.is_file()
            )
            found.extend((str(Path(argument) / child.relative_to(path)), child) for child in children)
        else:
            found.append((argument, path))
    return found


def check_paths(
    matcher: Matcher, images: list[tuple[str, Path]], top_k: int, batch_size: int
) -> Iterator[CheckOutcome]:
    """Checks images batch by batch, yielding outcomes in input order as each batch finishes.

    The next batches are decoded and embedded on other threads while the current one is verified,
    one batch per core that inference may use (the ``inference_threads`` setting), each network
    pass on one core: onnxruntime and the verification threads then share the cores instead of
    taking turns, and a one-core pass wastes none of its core waiting on other threads (over the
    development sets, interleaved in one process: about 10 % fewer CPU seconds per photo and 13 %
    more photos per second than one batch ahead on two cores). A single batch is embedded with all
    of inference's cores, as it has nothing to overlap with.
    """
    batches = [images[start : start + batch_size] for start in range(0, len(images), batch_size)]
    if not batches:
        return
    ahead = min(len(batches), worker_count(matcher.catalog.settings.inference_threads))
    one_thread = len(batches) > 1
    with ThreadPoolExecutor(ahead, thread_name_prefix="embed") as embedding:
        pending = deque(
            embedding.submit(_decode_and_embed, matcher, batch, one_thread) for batch in batches[:ahead]
        )
        for position, batch in enumerate(batches):
            outcomes, embedded = pending.popleft().result()
            if position + ahead < len(batches):
                pending.append(
                    embedding.submit(_decode_and_embed, matcher, batches[position + ahead], one_thread)
                )
            results = matcher.match(embedded, top_k=top_k)
            for (name, _), outcome in zip(batch, outcomes, strict=True):
                if isinstance(outcome, CheckOutcome):
                    yield outcome
                else:
                    yield CheckOutcome(name=name, result=results[outcome])


def _decode_and_embed(
    matcher: Matcher, batch: list[tuple[str, Path]], one_thread: bool
) -> tuple[list[CheckOutcome | int], EmbeddedBatch]:
    """Each image's position in the embedded batch, or its error; and the embedded batch."""
    decoded: list[DecodedImage] = []
    outcomes: list[CheckOutcome | int] = []
    for name, path in batch:
        try:
            decoded.append(read_image(path, min_side=LISTING_INPUT_SIZE))
            outcomes.append(len(decoded) - 1)
        except HallmarkError as error:
            outcomes.append(CheckOutcome(name=name, error=str(error)))
    return outcomes, matcher.embed(decoded, one_thread=one_thread)
