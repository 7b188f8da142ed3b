"""Rebuilds the demo data shipped in ``demo/`` from the development sets in ``../shared/data``.

Run by developers only (``python demo/build_demo_data.py ../shared/data``); the demo itself reads
only what this script committed. Sources and licences are in ``demo/README.md``.
"""

from __future__ import annotations

import csv
import random
import sys
from pathlib import Path

from PIL import Image, ImageEnhance, ImageOps

HERE = Path(__file__).resolve().parent

# Grocery packshots (GroceryStoreDataset, MIT) and clothing photos (clothing-dataset, CC0).
GROCERY_SKUS = {
    "Oatly-Oat-Milk": ("1.95", "2021-03-01", ""),
    "Tropicana-Apple-Juice": ("2.49", "2020-06-15", ""),
    "Alpro-Blueberry-Soyghurt": ("1.69", "2022-01-10", ""),
    "Arla-Natural-Yoghurt": ("1.29", "2019-09-01", ""),
    "Bravo-Orange-Juice": ("1.79", "2020-02-01", ""),
    "Valio-Vanilla-Yoghurt": ("1.49", "2021-11-20", ""),
}
APPAREL_COUNT = 8


def _save_jpeg(image: Image.Image, path: Path, side: int = 320) -> None:
    image = image.convert("RGB")
    image.thumbnail((side, side))
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, "JPEG", quality=88)


def main(shared: Path) -> None:
    rng = random.Random(7)
    catalog_dir = HERE / "catalog"
    listings_dir = HERE / "listings"
    rows = []

    pm = shared / "product-match"
    refs = {r["sku"]: r for r in csv.DictReader((pm / "references.csv").open())}
    truth = list(csv.DictReader((pm / "truth.csv").open()))
    for sku, (msrp, release, batch) in GROCERY_SKUS.items():
        ref = refs[sku]
        target = catalog_dir / "images" / f"{sku}.jpg"
        _save_jpeg(Image.open(pm / ref["image"]), target)
        rows.append(
            {
                "sku": sku,
                "name": ref["name"],
                "brand": ref["brand"],
                "image": f"images/{sku}.jpg",
                "msrp": msrp,
                "currency": "EUR",
                "description": ref["description"],
                "release_date": release,
                "batch_size": batch,
            }
        )

    cd = shared / "copy-detection"
    originals = sorted({r["reference"] for r in csv.DictReader((cd / "truth.csv").open()) if r["reference"]})
    apparel = rng.sample(originals, APPAREL_COUNT)
    for number, ref_path in enumerate(apparel, start=1):
        sku = f"DA-{number:03d}"
        target = catalog_dir / "images" / f"{sku}.jpg"
        _save_jpeg(Image.open(cd / ref_path), target)
        rows.append(
            {
                "sku": sku,
                "name": f"Demo Apparel piece {number}",
                "brand": "Demo Apparel",
                "image": f"images/{sku}.jpg",
                "msrp": "89.00",
                "currency": "EUR",
                "description": "A garment from the Demo Apparel collection.",
                "release_date": "2024-04-01",
                "batch_size": "500",
            }
        )

    with (catalog_dir / "catalog.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)

    # A handful of listing photos for `hallmark demo`: two phone photos of catalog products,
    # two edited copies of catalog photos, two unrelated photos.
    listings_dir.mkdir(parents=True, exist_ok=True)
    for sku in ("Oatly-Oat-Milk", "Tropicana-Apple-Juice"):
        query = next(r["image"] for r in truth if r["sku"] == sku)
        _save_jpeg(Image.open(pm / query), listings_dir / f"phone-photo-{sku.lower()}.jpg")
    first = Image.open(catalog_dir / "images" / "DA-001.jpg")
    w, h = first.size
    _save_jpeg(
        first.crop((w // 10, h // 10, w - w // 8, h - h // 8)), listings_dir / "reused-photo-cropped.jpg"
    )
    second = Image.open(catalog_dir / "images" / "DA-002.jpg")
    edited = ImageEnhance.Color(ImageOps.mirror(second)).enhance(1.6)
    _save_jpeg(edited, listings_dir / "reused-photo-mirrored.jpg")
    produce = [r["image"] for r in truth if not r["sku"]]
    _save_jpeg(Image.open(pm / produce[3]), listings_dir / "unrelated-produce.jpg")
    distractors = sorted((shared / "distractors").glob("*.jpg"))
    _save_jpeg(Image.open(distractors[11]), listings_dir / "unrelated-clothes.jpg")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data").resolve())
