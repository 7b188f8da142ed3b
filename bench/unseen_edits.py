"""Copies made with edits that the development set does not contain, checked against its catalog.

Usage: ``python -m bench.unseen_edits --data ../shared/data [--originals 80]``.

The copy-detection queries were edited with AugLy's crops, rotations, colour changes, overlays and
so on; the held-out sets also hold screenshots, memes, perspective, heavy crops and noise. This
makes such copies of a random sample of the set's originals (seed fixed), and copies shown small (on
a busy page, or as one tile of a collage of distractor photos), checks them against the full
catalog (its 500 photos) and prints, per edit, the share whose source ranks first and the share
flagged with the right source at the operating threshold. Nothing here is used to fit anything.
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from bench.run import REPO, positive_int
from hallmark.settings import Settings
from index.service import open_catalog, open_matcher
from vision.decode import decode_image

Edit = Callable[[np.ndarray, random.Random], np.ndarray]


def heavy_crop(pixels: np.ndarray, draw: random.Random) -> np.ndarray:
    """A window of 40-55 % of each side (16-30 % of the photo), anywhere."""
    height, width = pixels.shape[:2]
    fraction = draw.uniform(0.4, 0.55)
    rows, columns = int(height * fraction), int(width * fraction)
    top, left = draw.randint(0, height - rows), draw.randint(0, width - columns)
    return pixels[top : top + rows, left : left + columns]


def perspective(pixels: np.ndarray, draw: random.Random) -> np.ndarray:
    """Each corner moved inwards by up to 18 % of the side, as if photographed at an angle."""
    height, width = pixels.shape[:2]
    reach = 0.18
    source = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    target = np.array(
        [
            [draw.uniform(0, reach) * width, draw.uniform(0, reach) * height],
            [width - draw.uniform(0, reach) * width, draw.uniform(0, reach) * height],
            [width - draw.uniform(0, reach) * width, height - draw.uniform(0, reach) * height],
            [draw.uniform(0, reach) * width, height - draw.uniform(0, reach) * height],
        ],
        dtype=np.float32,
    )
    transform = cv2.getPerspectiveTransform(source, target)
    return cv2.warpPerspective(pixels, transform, (width, height), borderValue=(255, 255, 255))


def noise(pixels: np.ndarray, draw: random.Random) -> np.ndarray:
    """Gaussian noise of standard deviation 25 (of 255) on every channel."""
    generator = np.random.default_rng(draw.randint(0, 2**31))
    noisy = pixels.astype(np.float32) + generator.normal(0.0, 25.0, pixels.shape)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


def meme(pixels: np.ndarray, draw: random.Random) -> np.ndarray:
    """White bands above and below, each 22 % of the height, with a caption in each."""
    height, width = pixels.shape[:2]
    band = int(height * 0.22)
    canvas = np.full((height + 2 * band, width, 3), 255, np.uint8)
    canvas[band : band + height] = pixels
    image = Image.fromarray(canvas)
    pen = ImageDraw.Draw(image)
    font = _font(max(14, band // 2))
    pen.text((10, band // 5), "WHEN THE JACKET", fill=(0, 0, 0), font=font)
    pen.text((10, band + height + band // 5), "IS ACTUALLY FAKE", fill=(0, 0, 0), font=font)
    return np.array(image)


def screenshot(pixels: np.ndarray, draw: random.Random) -> np.ndarray:
    """The photo at 60 % on a grey app page with a dark status bar and a caption below."""
    height, width = pixels.shape[:2]
    small = cv2.resize(pixels, (int(width * 0.6), int(height * 0.6)), interpolation=cv2.INTER_AREA)
    page_height, page_width = int(height * 1.1), int(width * 0.9)
    canvas = np.full((page_height, page_width, 3), 245, np.uint8)
    canvas[: int(page_height * 0.08)] = (30, 30, 30)
    top, left = int(page_height * 0.12), (page_width - small.shape[1]) // 2
    canvas[top : top + small.shape[0], left : left + small.shape[1]] = small
    image = Image.fromarray(canvas)
    ImageDraw.Draw(image).text(
        (8, top + small.shape[0] + 6), "Designer jacket, like new  EUR 45", fill=(20, 20, 20), font=_font(14)
    )
    return np.array(image)


def small_on_page(pixels: np.ndarray, draw: random.Random) -> np.ndarray:
    """The photo at 35-50 % of each side, anywhere on a busy page (smoothed noise) of its size."""
    height, width = pixels.shape[:2]
    generator = np.random.default_rng(draw.randint(0, 2**31))
    page = cv2.GaussianBlur(generator.integers(0, 255, (height, width, 3), dtype=np.uint8), (0, 0), 3)
    fraction = draw.uniform(0.35, 0.5)
    small = cv2.resize(pixels, (int(width * fraction), int(height * fraction)), interpolation=cv2.INTER_AREA)
    top, left = draw.randint(0, height - small.shape[0]), draw.randint(0, width - small.shape[1])
    page[top : top + small.shape[0], left : left + small.shape[1]] = small
    return page


def collage_with(others: list[np.ndarray]) -> Edit:
    """An edit that makes the photo one tile of a 2 x 2 collage with three of ``others``."""

    def collage(pixels: np.ndarray, draw: random.Random) -> np.ndarray:
        height, width = pixels.shape[:2]
        tiles = [pixels] + [
            cv2.resize(draw.choice(others), (width, height), interpolation=cv2.INTER_AREA) for _ in range(3)
        ]
        draw.shuffle(tiles)
        return np.vstack([np.hstack(tiles[:2]), np.hstack(tiles[2:])])

    return collage


#: Each edit, and the JPEG quality the copy is saved with (the collage, which needs other photos,
#: is added in :func:`main`).
EDITS: dict[str, tuple[Edit, int]] = {
    "heavy crop": (heavy_crop, 75),
    "perspective": (perspective, 90),
    "noise": (noise, 90),
    "meme": (meme, 90),
    "screenshot": (screenshot, 90),
    "small on page": (small_on_page, 90),
}


def _jpeg(pixels: np.ndarray, quality: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--originals", type=positive_int, default=80, help="originals sampled (seed 1)")
    args = parser.parse_args(argv)
    root = args.data.resolve() / "copy-detection"
    if not (root / "truth.csv").exists():
        print(f"error: no copy-detection set at {root}", file=sys.stderr)
        return 2
    originals = sorted(
        {
            Path(row["reference"]).stem
            for row in csv.DictReader((root / "truth.csv").open())
            if row["reference"]
        }
    )
    picked = random.Random(1).sample(originals, min(args.originals, len(originals)))
    sources = {
        name: np.array(Image.open(root / "references" / f"{name}.jpg").convert("RGB")) for name in picked
    }
    others = [
        np.array(Image.open(path).convert("RGB"))
        for path in sorted((args.data.resolve() / "distractors").glob("*.jpg"))[:40]
    ]
    edits = {**EDITS, "collage": (collage_with(others), 90)} if others else EDITS
    with tempfile.TemporaryDirectory(prefix="bench-unseen-edits-") as home:
        settings = Settings(home=Path(home), model_cache=Settings().resolved_model_cache)
        catalog = open_catalog(settings)
        catalog.import_csv(root / "catalog.csv")
        matcher = open_matcher(settings, catalog)
        print(f"{'edit':<14}{'source first':>14}{'flagged right':>15}{'flagged wrong':>15}")
        for label, (edit, quality) in edits.items():
            draw = random.Random(7)
            copies = [
                decode_image(_jpeg(edit(sources[name], draw), quality), min_side=224) for name in picked
            ]
            results = matcher.check(copies, top_k=5)
            first = sum(result.matches[0].sku == name for result, name in zip(results, picked, strict=True))
            flagged = [result.verdict != "none" for result in results]
            right = sum(
                flag and result.matches[0].sku == name
                for flag, result, name in zip(flagged, results, picked, strict=True)
            )
            wrong = sum(flagged) - right
            print(f"{label:<14}{first / len(picked):>14.3f}{right / len(picked):>15.3f}{wrong:>15}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
