"""The platform's one error hierarchy. Each condition carries its HTTP status and reason
phrase, declared as class arguments; the docstring is the default message. The conditions
shared code raises live here (the execution path, the runner client, the database);
API-only ones in gateway/errors.py."""

from __future__ import annotations


class NilError(Exception):
    """Unexpected platform failure."""

    status = 500
    error = "Internal Server Error"
    retry_after: int | None = None  # seconds, sent as Retry-After when set

    def __init_subclass__(cls, *, status: int | None = None, error: str = "") -> None:
        super().__init_subclass__()
        if status is not None:
            cls.status, cls.error = status, error

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())

    @property
    def message(self) -> str:
        return str(self)


class DatabaseUnavailable(NilError, status=503, error="Service Unavailable"):
    """The database is unavailable; try again shortly."""

    retry_after = 1


class SchemaNotReady(DatabaseUnavailable):
    """The database schema is not ready yet (migrations pending); try again shortly."""


class DataRejected(NilError):
    """The database refused a value."""

    def __init__(self, detail: str) -> None:
        super().__init__()
        self.detail = detail  # the database's words: for logs and the execution's record


class BadRequest(NilError, status=400, error="Bad Request"):
    """The request is invalid."""


class Unauthorized(NilError, status=401, error="Unauthorized"):
    """A valid API key is required: send Authorization: Bearer <key>."""


class NotFound(NilError, status=404, error="Not Found"):
    """No such resource."""


class RouteNotReady(NotFound):
    """The route's function has no READY revision yet: nothing is served there."""


class FunctionNotReady(BadRequest):
    """The function is not READY; only READY functions can be executed."""


class Conflict(NilError, status=409, error="Conflict"):
    """The request conflicts with the current state of the resource."""


class ConcurrencyLimited(NilError, status=429, error="Too Many Requests"):
    """The function's concurrency limit is reached; try again shortly."""

    retry_after = 1


class ServiceUnavailable(NilError, status=503, error="Service Unavailable"):
    """The platform cannot serve this request right now; try again shortly."""

    retry_after = 1


class NoRunnerAvailable(ServiceUnavailable):
    """No runner became free in time; try again shortly."""


class RunnerFailed(ServiceUnavailable):
    """The runner failed while running the call."""


class DedicatedIsolationUnavailable(ServiceUnavailable):
    """Dedicated isolation needs a backend that starts runners per function (local or
    docker); this platform's runners are started elsewhere."""


class DedicatedRunnersExhausted(NoRunnerAvailable):
    """Every dedicated runner is busy and their cap is reached; try again shortly."""
