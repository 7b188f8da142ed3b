"""Rebuilds the demo marketplace (``demo/market/``) from the development sets in ``../shared/data``.

Run by developers only (``python demo/build_market_data.py ../shared/data``), after
``build_demo_data.py``: copies are edited versions of the demo catalog's own photos. The demo
marketplace (``hallmark demo-market``) reads only what this script committed. Sources and licences
are in ``demo/README.md``.

Each listing keeps its ground truth (``truth.kind``: copy, lookalike or unrelated; ``truth.sku``) so
tests can check what a crawl and the matcher make of it. ``fault`` marks the listings the server
misbehaves on (see ``crawlers/demo_market/``).
"""

from __future__ import annotations

import csv
import json
import random
import shutil
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from PIL import Image, ImageDraw, ImageEnhance, ImageFont, ImageOps

HERE = Path(__file__).resolve().parent
MARKET = HERE / "market"
SIDE = 320
QUALITY = 80

COPIES = 15
LOOKALIKES = 15
DISTRACTORS = 45
PRODUCE = 25
# Unrelated listings the server misbehaves on, so no matching result depends on them.
FAULTS = ("robots", "broken_image", "huge_image", "slow", "flaky", "missing")

SELLERS = [
    "replica-king",
    "TopBrandsCheap",
    "wholesale_asia_88",
    "LuxuryForLess",
    "budget-outlet-24",
    "Discount Dairy",
    "GreenGrocer Direct",
    "marktstand-berlin",
    "oma_kleiderschrank",
    "vintage.loft",
    "secondhand_sam",
    "fashion.deals.eu",
]
SUSPICIOUS = SELLERS[:6]
HONEST = SELLERS[6:]
COPY_SUFFIXES = ["replica", "1:1", "AAA quality", "best price", "original look", "", "top copy", "NEW"]
GARMENTS = ["T-shirt", "hoodie", "jeans", "summer dress", "wool sweater", "jacket", "shirt", "skirt", "coat"]
COLOURS = ["black", "white", "navy", "red", "grey", "green", "beige", "blue", "pink"]
CONDITIONS = ["worn twice", "like new", "vintage", "good condition", "size M", "size L", "kids size"]
PRODUCE_TITLES = [
    "Fresh fruit from the market, 1 kg",
    "Organic vegetables, weekly box",
    "Seasonal fruit, hand picked",
    "Farm vegetables, 2 kg crate",
]


def _save(image: Image.Image, path: Path, quality: int = QUALITY) -> None:
    image = image.convert("RGB")
    image.thumbnail((SIDE, SIDE))
    image.save(path, "JPEG", quality=quality)


def _edit(image: Image.Image, edits: list[str], rng: random.Random) -> tuple[Image.Image, int]:
    """Applies the named edits, as a counterfeiter reusing a brand's photo would; returns the JPEG quality."""
    image = image.convert("RGB")
    quality = QUALITY
    for edit in edits:
        w, h = image.size
        if edit == "crop":
            dx, dy = int(w * rng.uniform(0.05, 0.15)), int(h * rng.uniform(0.05, 0.15))
            image = image.crop((dx, dy, w - dx, h - dy))
        elif edit == "mirror":
            image = ImageOps.mirror(image)
        elif edit == "colour":
            image = ImageEnhance.Color(image).enhance(rng.uniform(1.4, 1.9))
            image = ImageEnhance.Brightness(image).enhance(rng.uniform(0.85, 1.15))
        elif edit == "text":
            draw = ImageDraw.Draw(image)
            font = ImageFont.load_default(size=max(14, h // 10))
            draw.text(
                (w // 12, h - h // 5),
                rng.choice(["SALE -70%", "1:1 TOP", "AAA", "ORIGINAL?"]),
                fill="red",
                font=font,
            )
        elif edit == "pad":
            border = int(max(w, h) * 0.12)
            image = ImageOps.expand(image, border=border, fill=rng.choice(["white", "black", "#e0e0e0"]))
        elif edit == "jpeg":
            quality = 25
    return image, quality


def main(shared: Path) -> None:
    rng = random.Random(11)
    images_dir = MARKET / "images"
    if images_dir.exists():
        shutil.rmtree(images_dir)
    images_dir.mkdir(parents=True)
    catalog = list(csv.DictReader((HERE / "catalog" / "catalog.csv").open()))
    grocery = {row["sku"]: row for row in catalog if not row["sku"].startswith("DA-")}
    truth = list(csv.DictReader((shared / "product-match" / "truth.csv").open()))
    start = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)

    entries: list[dict[str, object]] = []
    photos: list[tuple[Image.Image, int]] = []

    def add(
        source: Image.Image, title: str, price: float, seller: str, kind: str, sku: str, **extra: object
    ) -> None:
        quality = extra.pop("quality", QUALITY)
        photos.append((source, quality if isinstance(quality, int) else QUALITY))
        entries.append(
            {
                "title": title,
                "price": round(price, 2),
                "currency": "EUR",
                "seller": seller,
                "quantity": rng.choice([1, 1, 2, 3, 5, 10, 25, 50, 100]),
                "listed_at": (start + timedelta(hours=rng.randint(0, 24 * 300))).isoformat(),
                "fault": None,
                "truth": {"kind": kind, "sku": sku, **extra},
            }
        )

    # Copies: the catalog's own photos, edited, often far below the catalog price.
    edit_names = ["crop", "mirror", "colour", "text", "pad", "jpeg"]
    for number in range(COPIES):
        row = catalog[number % len(catalog)]
        edits = rng.sample(edit_names, rng.randint(1, 3))
        image, quality = _edit(Image.open(HERE / "catalog" / row["image"]), edits, rng)
        msrp = float(row["msrp"])
        suffix = rng.choice(COPY_SUFFIXES)
        add(
            image,
            f"{row['name']} {suffix}".strip(),
            msrp * rng.uniform(0.15, 0.6),
            rng.choice(SUSPICIOUS),
            "copy",
            row["sku"],
            edits=edits,
            quality=quality,
        )

    # Lookalikes: the same packaged products, photographed in shops (re-photographed, not reused).
    by_sku: dict[str, list[str]] = {}
    for row in truth:
        if row["sku"] in grocery:
            by_sku.setdefault(row["sku"], []).append(row["image"])
    skus = sorted(grocery)
    for number in range(LOOKALIKES):
        sku = skus[number % len(skus)]
        photo = rng.choice(by_sku[sku])
        by_sku[sku].remove(photo)
        row = grocery[sku]
        add(
            Image.open(shared / "product-match" / photo),
            f"{row['name']} {rng.choice(['multipack', '1 L', 'x6', 'bulk', 'cheap', 'AAA'])}",
            float(row["msrp"]) * rng.uniform(0.3, 1.1),
            rng.choice(SUSPICIOUS + HONEST[:2]),
            "lookalike",
            sku,
        )

    # Unrelated: second-hand clothes and unpackaged produce (hard negatives: same shops, no product).
    unrelated: list[tuple[Image.Image, str, float, str]] = []
    for path in rng.sample(sorted((shared / "distractors").glob("*.jpg")), DISTRACTORS):
        title = f"{rng.choice(COLOURS).capitalize()} {rng.choice(GARMENTS)}, {rng.choice(CONDITIONS)}"
        unrelated.append((Image.open(path), title, rng.uniform(3, 60), rng.choice(HONEST + SUSPICIOUS[3:])))
    produce = [row["image"] for row in truth if not row["sku"]]
    for photo in rng.sample(produce, PRODUCE):
        unrelated.append(
            (
                Image.open(shared / "product-match" / photo),
                rng.choice(PRODUCE_TITLES),
                rng.uniform(1, 9),
                rng.choice(["GreenGrocer Direct", "marktstand-berlin"]),
            )
        )
    rng.shuffle(unrelated)
    for image, title, price, seller in unrelated:
        add(image, title, price, seller, "unrelated", "")

    # Interleave, so search pages mix kinds as a real marketplace would, and number them after that:
    # an id says nothing about what a listing is.
    order = list(range(len(entries)))
    rng.shuffle(order)
    entries = [
        {"id": f"L{number:03d}", "image": f"images/L{number:03d}.jpg", **entries[index]}
        for number, index in enumerate(order, start=1)
    ]
    for number, index in enumerate(order, start=1):
        image, quality = photos[index]
        _save(image, images_dir / f"L{number:03d}.jpg", quality)
    fault_targets = [entry for entry in entries if entry["truth"]["kind"] == "unrelated"]  # type: ignore[index]
    for entry, fault in zip(fault_targets, FAULTS, strict=False):
        entry["fault"] = fault

    document = {
        "about": "Demo marketplace listings; built by demo/build_market_data.py. Sources: demo/README.md.",
        "currency": "EUR",
        "listings": entries,
    }
    (MARKET / "listings.json").write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n")
    size = sum(path.stat().st_size for path in MARKET.rglob("*") if path.is_file())
    print(f"{len(entries)} listings, {size / 1e6:.2f} MB in {MARKET}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data").resolve())
