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


class ConflictError(HallmarkError):
    """The request conflicts with the object's current state (an illegal case transition, a duplicate)."""

    http_status = 409


class InvalidRequestError(HallmarkError):
    """The request is well-formed but its content cannot be accepted."""

    http_status = 422


class AuthenticationError(HallmarkError):
    """No API key, or one that is unknown or revoked."""

    http_status = 401


class PermissionDeniedError(HallmarkError):
    """The API key's role may not do this, or the object belongs to someone else."""

    http_status = 403


class RateLimitedError(HallmarkError):
    """Too many requests; ``retry_after`` says in how many seconds to try again."""

    http_status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateLimitStoreUnavailableError(HallmarkError):
    """The shared rate-limit store (e.g. Redis) cannot be reached; requests are refused until it is back."""

    http_status = 503


class ConfigurationError(HallmarkError):
    """A setting is invalid; raised at start-up, before anything is served."""


class WorkerBusyError(HallmarkError):
    """Another worker already holds the queue of an embedded (SQLite) database."""

    http_status = 409


class FetchError(HallmarkError):
    """A URL could not be fetched: unreachable, an error status, or not allowed."""

    http_status = 422


class UnsafeUrlError(FetchError):
    """The URL's scheme or address is not allowed (loopback, private, link-local, metadata...)."""


class FetchTooLargeError(FetchError):
    """The response body is over the byte cap."""

    http_status = 413


class FetchTimeoutError(FetchError):
    """The server took longer than the time cap."""


class UnsupportedMediaTypeError(HallmarkError):
    """The request body is in a media type the route does not take."""

    http_status = 415
