"""The platform's one error hierarchy. Each condition carries its HTTP status;
the docstring is the default message."""

from __future__ import annotations


class NilError(Exception):
    """Unexpected platform failure."""

    status = 500
    error = "Internal Server Error"
    retry_after: int | None = None  # seconds, sent as Retry-After when set

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())

    @property
    def message(self) -> str:
        return str(self)


class DatabaseUnavailable(NilError):
    """The database is unavailable; try again shortly."""

    status = 503
    error = "Service Unavailable"
    retry_after = 1
