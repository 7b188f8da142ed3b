"""The reference catalog: importing, removing and indexing a brand's product photos."""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from hallmark.cases import ConfirmedPhoto, confirmed_product_photos
from hallmark.db import CatalogState, Database, Product, ReferenceImage
from hallmark.errors import HallmarkError, ImageError, NotFoundError
from hallmark.settings import Settings
from index.catalog_csv import CatalogRow, ProductFields, RowError, parse_origin, read_catalog_csv
from index.faiss_store import IndexStamp, VectorIndex
from models.export import model_fingerprint
from models.runtime import Embedder
from vision.decode import DecodedImage, decode_image, read_image
from vision.phash import phash
from vision.preprocess import (
    RETRIEVAL_TILT_DEGREES,
    blur_for_retrieval,
    plain_backdrop,
    tilt_for_retrieval,
)

#: What a decoded photo came from: a catalog CSV row or a confirmed case's photo.
_Source = TypeVar("_Source")

#: Rows decoded and embedded together; bounds memory on large catalogs.
IMPORT_CHUNK = 256
#: Each reference photo has one vector per view of it in the index (see :class:`ReferenceViews`):
#: view ``k``'s descriptor under the photo's id plus ``k`` times this.
VIEW_ID_OFFSET = 1 << 40
#: Views per reference photo: the photo, a blurred copy, and the photo tilted each way.
REFERENCE_VIEWS = 4
#: The first views (the photo and its blurred copy) are indexed for every photo. The tilted views
#: are indexed only for a photo that was tilted (one on a plain backdrop): any other photo's tilted
#: views are its own descriptor again, and indexing them would only double the search's work.
UNTILTED_VIEWS = 2
#: Which vectors the index holds per photo (:attr:`index.faiss_store.IndexStamp.layout`): 1, every
#: view of every photo; 2, the tilted views only of photos that were tilted. An index file of another
#: layout is rebuilt from the database, so that every install searches the same vectors.
INDEX_LAYOUT = 2


def view_ids(reference_ids: np.ndarray) -> np.ndarray:
    """The index ids of the views of these reference photos: every photo's first view, then every
    photo's second, and so on (``(REFERENCE_VIEWS * N,)``)."""
    ids = np.asarray(reference_ids, dtype=np.int64)
    return np.concatenate([ids + view * VIEW_ID_OFFSET for view in range(REFERENCE_VIEWS)])


def reference_ids_of(vector_ids: np.ndarray) -> np.ndarray:
    """The reference photo each index vector belongs to (-1, FAISS's "no result", stays -1)."""
    return np.where(vector_ids >= 0, vector_ids % VIEW_ID_OFFSET, vector_ids)


@dataclass(frozen=True)
class ReferenceViews:
    """The descriptors of one reference photo's views, each ``(dim,)`` float32.

    A listing photo is matched against the nearest of them: the photo as it is; a blurred copy
    (:func:`vision.preprocess.blur_for_retrieval`), for heavily blurred copies of it; and the photo
    tilted each way (:func:`vision.preprocess.tilt_for_retrieval`), for photos of the product
    taken at an angle (a photo without a plain backdrop is not tilted: its tilted views are its
    own descriptor again).
    """

    photo: np.ndarray
    blurred: np.ndarray
    tilted: tuple[np.ndarray, np.ndarray]

    def stacked(self) -> np.ndarray:
        """``(REFERENCE_VIEWS, dim)`` in the order of :func:`view_ids`."""
        return np.stack([self.photo, self.blurred, *self.tilted])


_EXTENSIONS = {"JPEG": ".jpg", "MPO": ".jpg", "PNG": ".png", "WEBP": ".webp"}


@dataclass
class ImportReport:
    """What an import changed, and the rows it skipped."""

    rows: int = 0
    products_added: int = 0
    references_added: int = 0
    references_unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)


@dataclass(frozen=True)
class CatalogStats:
    products: int
    references: int
    indexed: int


@dataclass(frozen=True)
class ReferenceInfo:
    """What the matcher needs to know about an indexed reference photo."""

    reference_id: int
    product_id: int
    sku: str
    name: str
    brand: str
    source_path: str
    stored_path: str
    phash: int
    #: A listing photo a reviewer confirmed (origin ``confirmed``), not the brand's photography.
    confirmed: bool = False


def to_signed64(value: int) -> int:
    """A 64-bit hash as a signed integer, as databases store BIGINT."""
    return value - (1 << 64) if value >= 1 << 63 else value


def to_unsigned64(value: int) -> int:
    return value + (1 << 64) if value < 0 else value


@dataclass
class LoadedIndex:
    """A vector index in step with one catalog version, with the metadata of its references."""

    index: VectorIndex
    stamp: IndexStamp
    references: dict[int, ReferenceInfo]
    #: The reference photos whose tilted views are in the index (see :data:`UNTILTED_VIEWS`).
    tilted_references: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        ids = self.index.ids()
        self.tilted_references = np.unique(ids[ids >= UNTILTED_VIEWS * VIEW_ID_OFFSET] % VIEW_ID_OFFSET)

    def indexed_view_ids(self, reference_ids: np.ndarray) -> np.ndarray:
        """The ids of these photos' views that the index holds, in the order of :func:`view_ids`."""
        ids = np.asarray(reference_ids, dtype=np.int64)
        tilted = ids[np.isin(ids, self.tilted_references)]
        return np.concatenate(
            [view_ids(ids)[: UNTILTED_VIEWS * len(ids)]]
            + [tilted + view * VIEW_ID_OFFSET for view in range(UNTILTED_VIEWS, REFERENCE_VIEWS)]
        )

    def view_vectors(self, reference_ids: np.ndarray) -> np.ndarray:
        """Every view's vector of these photos, ``(REFERENCE_VIEWS * N, dim)`` in the order of
        :func:`view_ids`; a photo that was not tilted has its own vector as its tilted views."""
        ids = np.asarray(reference_ids, dtype=np.int64)
        untilted = self.index.vectors(view_ids(ids)[: UNTILTED_VIEWS * len(ids)])
        tilted = np.isin(ids, self.tilted_references)
        views = [untilted]
        for view in range(UNTILTED_VIEWS, REFERENCE_VIEWS):
            vectors = untilted[: len(ids)].copy()
            vectors[tilted] = self.index.vectors(ids[tilted] + view * VIEW_ID_OFFSET)
            views.append(vectors)
        return np.concatenate(views)


@dataclass
class ConfirmedPhotosReport:
    """What :meth:`Catalog.add_confirmed_photos` did."""

    cases: int = 0
    added: int = 0
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)


class Catalog:
    """A brand's reference photos in the database, mirrored in a FAISS index on disk."""

    def __init__(self, database: Database, settings: Settings, embedder: Embedder) -> None:
        self.database = database
        self.settings = settings
        self.embedder = embedder
        self.home = settings.resolved_home
        self.index_path = self.home / "references.faiss"
        self._loaded: LoadedIndex | None = None
        self._lock = threading.Lock()

    # -- reading -------------------------------------------------------------------------------

    def version(self, session: Session | None = None) -> int:
        """The catalog's current version: it grows with every change."""
        if session is None:
            with self.database.session() as own:
                return self.version(own)
        state = session.get(CatalogState, 1)
        return state.version if state else 0

    def stats(self) -> CatalogStats:
        """Counts of products, reference photos, and vectors in the index."""
        loaded = self.load_index()
        with self.database.session() as session:
            products = session.scalar(select(func.count()).select_from(Product)) or 0
            references = session.scalar(select(func.count()).select_from(ReferenceImage)) or 0
        indexed = int((loaded.index.ids() < VIEW_ID_OFFSET).sum())
        return CatalogStats(products=products, references=references, indexed=indexed)

    def load_index(self) -> LoadedIndex:
        """The index for the current catalog version: in memory, from disk, or rebuilt.

        Every process compares the database's catalog version and the model fingerprint with what
        its index was built from, so an import by another process is picked up on the next call.
        """
        fingerprint = model_fingerprint()
        with self._lock, self.database.session() as session:
            version = self.version(session)
            wanted = IndexStamp(
                catalog_version=version,
                model_fingerprint=fingerprint,
                dim=self.embedder.dim,
                layout=INDEX_LAYOUT,
            )
            if self._loaded is not None and self._loaded.stamp == wanted:
                return self._loaded
            references = self._reference_infos(session)
            on_disk = VectorIndex.load(self.index_path)
            if (
                on_disk is not None
                and on_disk[1] == wanted
                and int((on_disk[0].ids() < UNTILTED_VIEWS * VIEW_ID_OFFSET).sum())
                == UNTILTED_VIEWS * len(references)
            ):
                self._loaded = LoadedIndex(on_disk[0], wanted, references)
                return self._loaded
            index = self._rebuild(session, fingerprint)
            index.save(self.index_path, wanted)
            self._loaded = LoadedIndex(index, wanted, self._reference_infos(session))
            return self._loaded

    def _reference_infos(self, session: Session) -> dict[int, ReferenceInfo]:
        rows = session.execute(
            select(
                ReferenceImage.id,
                ReferenceImage.product_id,
                Product.sku,
                Product.name,
                Product.brand,
                ReferenceImage.source_path,
                ReferenceImage.stored_path,
                ReferenceImage.phash,
                ReferenceImage.origin,
            ).join(Product)
        )
        return {
            row[0]: ReferenceInfo(
                row[0],
                row[1],
                row[2],
                row[3],
                row[4],
                row[5],
                row[6],
                to_unsigned64(row[7]),
                confirmed=row[8] == "confirmed",
            )
            for row in rows
        }

    def _rebuild(self, session: Session, fingerprint: str) -> VectorIndex:
        """Builds the index from the database, re-embedding descriptors of an older model."""
        index = VectorIndex(self.embedder.dim)
        stale = session.scalars(
            select(ReferenceImage).where(
                (ReferenceImage.model_fingerprint != fingerprint)
                | ReferenceImage.blurred_descriptor.is_(None)
                | ReferenceImage.tilted_descriptors.is_(None)
            )
        ).all()
        for start in range(0, len(stale), IMPORT_CHUNK):
            chunk = stale[start : start + IMPORT_CHUNK]
            images = [read_image(self.home / reference.stored_path).pixels for reference in chunk]
            for reference, views in zip(chunk, self._descriptors(images), strict=True):
                _store_views(reference, views)
                reference.model_fingerprint = fingerprint
        session.flush()
        rows = session.execute(
            select(
                ReferenceImage.id,
                ReferenceImage.descriptor,
                ReferenceImage.blurred_descriptor,
                ReferenceImage.tilted_descriptors,
            )
        ).all()
        if rows:
            ids = np.array([row[0] for row in rows], dtype=np.int64)
            # Every row without its views was filled in above.
            vectors = np.stack(
                [
                    np.frombuffer(b"".join(part or b"" for part in row[1:]), dtype=np.float32).reshape(
                        REFERENCE_VIEWS, -1
                    )
                    for row in rows
                ]
            )
            index.add(
                view_ids(ids)[: UNTILTED_VIEWS * len(ids)],
                np.concatenate(vectors[:, :UNTILTED_VIEWS].transpose(1, 0, 2)),
            )
            # A photo that was not tilted stores its own descriptor as its tilted views.
            tilted = ~(vectors[:, UNTILTED_VIEWS:] == vectors[:, :1]).all(axis=(1, 2))
            for view in range(UNTILTED_VIEWS, REFERENCE_VIEWS):
                index.add(ids[tilted] + view * VIEW_ID_OFFSET, vectors[tilted, view])
        return index

    def _descriptors(self, images: list[np.ndarray]) -> list[ReferenceViews]:
        """The views' descriptors of each reference photo, in one pass over all of them.

        Only a photo on a plain backdrop is tilted (:func:`vision.preprocess.plain_backdrop`); for
        any other, the tilted views repeat the photo's own descriptor, which adds nothing to the
        search (a photo is as close as the nearest of its views) and keeps every photo's views alike.
        """
        if not images:
            return []
        backdrops = [plain_backdrop(image) for image in images]
        tilted = [(row, backdrop) for row, backdrop in enumerate(backdrops) if backdrop is not None]
        views = [
            *images,
            *(blur_for_retrieval(image) for image in images),
            *(tilt_for_retrieval(images[row], RETRIEVAL_TILT_DEGREES, backdrop) for row, backdrop in tilted),
            *(tilt_for_retrieval(images[row], -RETRIEVAL_TILT_DEGREES, backdrop) for row, backdrop in tilted),
        ]
        vectors = self.embedder.embed(views)
        count = len(images)
        photo, blurred = vectors[:count], vectors[count : 2 * count]
        turned = {
            row: (vectors[2 * count + position], vectors[2 * count + len(tilted) + position])
            for position, (row, _) in enumerate(tilted)
        }
        return [
            ReferenceViews(photo[row], blurred[row], turned.get(row, (photo[row], photo[row])))
            for row in range(count)
        ]

    # -- writing -------------------------------------------------------------------------------

    def import_csv(self, csv_path: Path) -> ImportReport:
        """Imports a catalog CSV: additive, idempotent, and row by row all-or-nothing.

        A reference photo is identified by its SKU and the SHA-256 of its bytes, so importing the
        same file again changes nothing, and products absent from a later file stay.

        Raises:
            CatalogError: The file is not a catalog CSV (bad rows are reported, not raised).
        """
        report = ImportReport()
        pending: list[CatalogRow] = []
        for item in read_catalog_csv(csv_path):
            report.rows += 1
            if isinstance(item, RowError):
                report.errors.append(item)
                continue
            pending.append(item)
            if len(pending) >= IMPORT_CHUNK:
                self._import_chunk(pending, report)
                pending = []
        if pending:
            self._import_chunk(pending, report)
        report.errors.sort(key=lambda error: error.line)
        self.load_index()
        return report

    def _import_chunk(self, rows: list[CatalogRow], report: ImportReport) -> None:
        decoded: list[tuple[CatalogRow, DecodedImage, bytes]] = []
        for row in rows:
            try:
                image, data = self._read_reference(row.image_path)
            except HallmarkError as error:
                report.errors.append(RowError(row.line, f"image {row.image_as_given!r}: {error}"))
                continue
            decoded.append((row, image, data))
        with self.database.session() as session:
            new = _photos_not_stored(session, decoded, lambda row: row.product.sku)
            report.references_unchanged += len(decoded) - len(new)
            described = self._descriptors([image.pixels for _, image, _ in new])
            products: dict[str, Product] = {}
            for (row, image, data), views in zip(new, described, strict=True):
                product = products.get(row.product.sku) or self._upsert_product(session, row.product, report)
                products[row.product.sku] = product
                session.add(self._new_reference(product, image, data, str(row.image_path), views, row.origin))
                report.references_added += 1
            if new:
                self._bump_version(session)

    def _new_reference(
        self,
        product: Product,
        image: DecodedImage,
        data: bytes,
        source: str,
        views: ReferenceViews,
        origin: str,
    ) -> ReferenceImage:
        reference = ReferenceImage(
            product=product,
            sha256=image.sha256,
            source_path=source,
            stored_path=self._store_bytes(image, data),
            width=image.width,
            height=image.height,
            phash=to_signed64(phash(image.pixels)),
            model_fingerprint=model_fingerprint(),
            origin=origin,
        )
        _store_views(reference, views)
        return reference

    def _read_reference(self, path: Path) -> tuple[DecodedImage, bytes]:
        image = read_image(path)
        # read_image checked the caps and the format; keep the exact bytes for serving the evidence.
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != image.sha256:
            raise ImageError("the file changed while it was being imported")
        return image, data

    def _upsert_product(self, session: Session, fields: ProductFields, report: ImportReport) -> Product:
        product = session.scalar(select(Product).where(Product.sku == fields.sku))
        if product is None:
            product = Product(sku=fields.sku)
            session.add(product)
            report.products_added += 1
        for name in ("name", "brand", "msrp", "currency", "description", "release_date", "batch_size"):
            value = getattr(fields, name)
            if value is not None:
                setattr(product, name, value)
        return product

    def _store_bytes(self, image: DecodedImage, data: bytes) -> str:
        """Keeps a content-addressed copy of a reference photo; returns its path in the data directory."""
        relative = (
            Path("references") / image.sha256[:2] / (image.sha256 + _EXTENSIONS.get(image.format, ".img"))
        )
        target = self.home / relative
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(prefix=".ref-", dir=target.parent)
            with os.fdopen(handle, "wb") as stream:
                stream.write(data)
            os.replace(temporary, target)
        return str(relative)

    def _bump_version(self, session: Session) -> None:
        updated = session.execute(
            update(CatalogState).where(CatalogState.id == 1).values(version=CatalogState.version + 1)
        )
        if updated.rowcount == 0:  # type: ignore[attr-defined]
            session.add(CatalogState(id=1, version=1))

    def add_reference(
        self, fields: ProductFields, data: bytes, source: str, origin: str = "catalog"
    ) -> tuple[int, bool]:
        """Adds one reference photo from bytes (the API's upload path), creating the product if new.

        Args:
            fields: The product's fields; they update an existing product with the same SKU.
            data: The photo's encoded bytes (checked by the safe decoder).
            source: What ``reference_image`` shows for this photo in the CLI (a name or a path).
            origin: ``catalog`` for the brand's photography, ``confirmed`` for a listing photo a
                reviewer confirmed (see :data:`hallmark.db.catalog.REFERENCE_ORIGINS`).

        Returns:
            The reference photo's id, and whether it was new (False: this SKU already had these bytes).

        Raises:
            ImageError: The bytes are not an acceptable image.
            ValueError: ``origin`` is not one of :data:`hallmark.db.catalog.REFERENCE_ORIGINS`.
        """
        origin = parse_origin(origin)
        image = decode_image(data)
        report = ImportReport()
        with self.database.session() as session:
            existing = session.scalar(
                select(ReferenceImage.id)
                .join(Product)
                .where(Product.sku == fields.sku, ReferenceImage.sha256 == image.sha256)
            )
            if existing is not None:
                product = self._upsert_product(session, fields, report)
                return existing, False
            (views,) = self._descriptors([image.pixels])
            product = self._upsert_product(session, fields, report)
            reference = self._new_reference(product, image, data, source, views, origin)
            session.add(reference)
            self._bump_version(session)
            session.flush()
            reference_id = reference.id
        self.load_index()
        return reference_id, True

    def add_confirmed_photos(self) -> ConfirmedPhotosReport:
        """Adds each listing photo reviewers confirmed as a product match to that product's photos.

        A packshot and a person's photo of the same package are far apart for the embedding and
        for local features (lighting, angle, hands, shelves); a confirmed photo of a listing is a
        reference much closer to the next listing of that product, so later matches of it are
        found and verified more often. The photos are marked ``confirmed``: the score model weighs
        a shop photo matched against a shop photo for what it is (they share shelves and hands).
        Idempotent: a photo the product already has is left as it is. The photos are embedded in
        batches and the index is reloaded once, as for a catalog import: a review backlog of
        thousands of photos costs one reload, not one each.
        """
        with self.database.session() as session:
            confirmed = confirmed_product_photos(session)
        report = ConfirmedPhotosReport(cases=len(confirmed))
        for start in range(0, len(confirmed), IMPORT_CHUNK):
            self._add_confirmed_chunk(confirmed[start : start + IMPORT_CHUNK], report)
        if report.added:
            self.load_index()
        return report

    def _add_confirmed_chunk(self, photos: list[ConfirmedPhoto], report: ConfirmedPhotosReport) -> None:
        decoded: list[tuple[ConfirmedPhoto, DecodedImage, bytes]] = []
        for photo in photos:
            try:
                data = (self.home / photo.stored_path).read_bytes()
                decoded.append((photo, decode_image(data), data))
            except (OSError, HallmarkError) as error:
                report.errors.append(f"case {photo.case_id}: {error}")
        with self.database.session() as session:
            new = _photos_not_stored(session, decoded, lambda photo: photo.sku)
            report.unchanged += len(decoded) - len(new)
            if not new:
                return
            described = self._descriptors([image.pixels for _, image, _ in new])
            products = {
                product.sku: product
                for product in session.scalars(
                    select(Product).where(Product.sku.in_({photo.sku for photo, _, _ in new}))
                )
            }
            added = 0
            for (photo, image, data), views in zip(new, described, strict=True):
                product = products.get(photo.sku)
                if product is None:  # removed from the catalog since its case was confirmed
                    report.errors.append(f"case {photo.case_id}: no product with sku {photo.sku!r}")
                    continue
                source = f"listing photo confirmed in case {photo.case_id}"
                session.add(self._new_reference(product, image, data, source, views, "confirmed"))
                added += 1
            if added:
                report.added += added
                self._bump_version(session)

    def remove_reference(self, reference_id: int) -> None:
        """Removes one reference photo (its product stays, possibly with no photo).

        Raises:
            NotFoundError: No reference photo has this id.
        """
        with self.database.session() as session:
            reference = session.get(ReferenceImage, reference_id)
            if reference is None:
                raise NotFoundError(f"no reference photo with id {reference_id}")
            session.delete(reference)
            self._bump_version(session)
        self.load_index()

    def remove_product(self, sku: str) -> int:
        """Removes a product and its photos; returns how many photos went.

        Raises:
            NotFoundError: No product has this SKU.
        """
        with self.database.session() as session:
            product = session.scalar(select(Product).where(Product.sku == sku))
            if product is None:
                raise NotFoundError(f"no product with sku {sku!r}")
            count = len(product.references)
            session.delete(product)
            self._bump_version(session)
        self.load_index()
        return count


def _store_views(reference: ReferenceImage, views: ReferenceViews) -> None:
    """Writes a photo's view descriptors into its row, as float32 bytes."""
    reference.descriptor = views.photo.astype(np.float32).tobytes()
    reference.blurred_descriptor = views.blurred.astype(np.float32).tobytes()
    reference.tilted_descriptors = np.stack(views.tilted).astype(np.float32).tobytes()


def _photos_not_stored(
    session: Session,
    decoded: list[tuple[_Source, DecodedImage, bytes]],
    sku_of: Callable[[_Source], str],
) -> list[tuple[_Source, DecodedImage, bytes]]:
    """The decoded photos their product does not have yet, each only once: a photo is stored once
    per product (by SKU and the SHA-256 of its bytes)."""
    pairs = session.execute(select(Product.sku, ReferenceImage.sha256).join(ReferenceImage.product))
    seen = {(sku, sha) for sku, sha in pairs}
    new = []
    for item in decoded:
        key = (sku_of(item[0]), item[1].sha256)
        if key not in seen:
            seen.add(key)
            new.append(item)
    return new
