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
from vision.preprocess import blur_for_retrieval

#: What a decoded photo came from: a catalog CSV row or a confirmed case's photo.
_Source = TypeVar("_Source")

#: Rows decoded and embedded together; bounds memory on large catalogs.
IMPORT_CHUNK = 256
#: Each reference photo has two vectors in the index: its descriptor under its id, and the
#: descriptor of a blurred copy (:func:`vision.preprocess.blur_for_retrieval`) under its id plus this.
BLURRED_ID_OFFSET = 1 << 40


def reference_ids_of(vector_ids: np.ndarray) -> np.ndarray:
    """The reference photo each index vector belongs to (-1, FAISS's "no result", stays -1)."""
    return np.where(vector_ids >= BLURRED_ID_OFFSET, vector_ids - BLURRED_ID_OFFSET, vector_ids)


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
        indexed = int((loaded.index.ids() < BLURRED_ID_OFFSET).sum())
        return CatalogStats(products=products, references=references, indexed=indexed)

    def load_index(self) -> LoadedIndex:
        """The index for the current catalog version: in memory, from disk, or rebuilt.

        Every process compares the database's catalog version and the model fingerprint with what
        its index was built from, so an import by another process is picked up on the next call.
        """
        fingerprint = model_fingerprint()
        with self._lock, self.database.session() as session:
            version = self.version(session)
            wanted = IndexStamp(catalog_version=version, model_fingerprint=fingerprint, dim=self.embedder.dim)
            if self._loaded is not None and self._loaded.stamp == wanted:
                return self._loaded
            references = self._reference_infos(session)
            on_disk = VectorIndex.load(self.index_path)
            if on_disk is not None and on_disk[1] == wanted and len(on_disk[0]) == 2 * len(references):
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
            )
        ).all()
        for start in range(0, len(stale), IMPORT_CHUNK):
            chunk = stale[start : start + IMPORT_CHUNK]
            images = [read_image(self.home / reference.stored_path).pixels for reference in chunk]
            vectors, blurred = self._descriptors(images)
            for reference, vector, blurred_vector in zip(chunk, vectors, blurred, strict=True):
                reference.descriptor = vector.tobytes()
                reference.blurred_descriptor = blurred_vector.tobytes()
                reference.model_fingerprint = fingerprint
        session.flush()
        rows = session.execute(
            select(ReferenceImage.id, ReferenceImage.descriptor, ReferenceImage.blurred_descriptor)
        ).all()
        if rows:
            ids = np.array([row[0] for row in rows], dtype=np.int64)
            vectors = np.stack([np.frombuffer(row[1], dtype=np.float32) for row in rows])
            # Every row without one was filled in above.
            blurred = np.stack([np.frombuffer(row[2] or b"", dtype=np.float32) for row in rows])
            index.add(np.concatenate([ids, ids + BLURRED_ID_OFFSET]), np.concatenate([vectors, blurred]))
        return index

    def _descriptors(self, images: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Descriptors of reference photos and of their blurred copies."""
        return self.embedder.embed(images), self.embedder.embed(
            [blur_for_retrieval(image) for image in images]
        )

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
            vectors, blurred = self._descriptors([image.pixels for _, image, _ in new])
            products: dict[str, Product] = {}
            for (row, image, data), vector, blurred_vector in zip(new, vectors, blurred, strict=True):
                product = products.get(row.product.sku) or self._upsert_product(session, row.product, report)
                products[row.product.sku] = product
                session.add(
                    self._new_reference(
                        product, image, data, str(row.image_path), vector, blurred_vector, row.origin
                    )
                )
                report.references_added += 1
            if new:
                self._bump_version(session)

    def _new_reference(
        self,
        product: Product,
        image: DecodedImage,
        data: bytes,
        source: str,
        vector: np.ndarray,
        blurred_vector: np.ndarray,
        origin: str,
    ) -> ReferenceImage:
        return ReferenceImage(
            product=product,
            sha256=image.sha256,
            source_path=source,
            stored_path=self._store_bytes(image, data),
            width=image.width,
            height=image.height,
            phash=to_signed64(phash(image.pixels)),
            descriptor=vector.astype(np.float32).tobytes(),
            blurred_descriptor=blurred_vector.astype(np.float32).tobytes(),
            model_fingerprint=model_fingerprint(),
            origin=origin,
        )

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
            vectors, blurred = self._descriptors([image.pixels])
            product = self._upsert_product(session, fields, report)
            reference = self._new_reference(product, image, data, source, vectors[0], blurred[0], origin)
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
            vectors, blurred = self._descriptors([image.pixels for _, image, _ in new])
            products = {
                product.sku: product
                for product in session.scalars(
                    select(Product).where(Product.sku.in_({photo.sku for photo, _, _ in new}))
                )
            }
            added = 0
            for (photo, image, data), vector, blurred_vector in zip(new, vectors, blurred, strict=True):
                product = products.get(photo.sku)
                if product is None:  # removed from the catalog since its case was confirmed
                    report.errors.append(f"case {photo.case_id}: no product with sku {photo.sku!r}")
                    continue
                source = f"listing photo confirmed in case {photo.case_id}"
                session.add(
                    self._new_reference(product, image, data, source, vector, blurred_vector, "confirmed")
                )
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
