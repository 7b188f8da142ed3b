"""Errors a user can cause, as our own types; the CLI and the API map them to messages once."""

from __future__ import annotations


class HallmarkError(Exception):
    """Base class of every error that carries a message meant for the user."""

    #: HTTP status the API answers with for this kind of error.
    http_status: int = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ImageError(HallmarkError):
    """An image could not be accepted: unreadable, not allowed, or over a cap."""

    http_status = 422


class ImageTooLargeError(ImageError):
    """An image is over the byte or pixel cap; refused before its pixels are decoded."""

    http_status = 413


class UnsupportedImageFormatError(ImageError):
    """The bytes are an image format we do not accept (or no image at all)."""

    http_status = 415


class CatalogError(HallmarkError):
    """A catalog file or operation is invalid."""


class NotFoundError(HallmarkError):
    """A named object does not exist."""

    http_status = 404


class ModelError(HallmarkError):
    """The embedding model could not be loaded or exported."""

    http_status = 503
