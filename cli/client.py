"""The HTTP API seen from the CLI: one httpx client, every error status translated to
one-line `ApiError`s, an unreachable platform to `Unreachable` (naming the URL)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from cli.errors import ApiError, CliError, Unreachable

_HINTS = {
    401: "set NIL_API_KEY or pass --api-key",
    403: "this API key may not do that",
}


class Client:
    def __init__(self, url: str, api_key: str | None, timeout: float = 60.0) -> None:
        self.url = url.rstrip("/")
        headers = {"User-Agent": "nil-cli"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self.http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def request(
        self, method: str, path: str, *, accept: tuple[int, ...] = (), **kwargs: Any
    ) -> httpx.Response:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.ConnectError:
            raise Unreachable(
                f"no Nil platform answers at {self.url}: start one with `make dev`, "
                "or point NIL_URL / --url at yours"
            ) from None
        except httpx.TimeoutException:
            raise CliError(f"{self.url} did not answer in time ({method} {path})") from None
        except httpx.HTTPError as error:
            raise CliError(f"{method} {self.url}{path} failed: {error}") from None
        if response.status_code >= 400 and response.status_code not in accept:
            raise _api_error(response)
        return response

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs).json()

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.request("POST", path, json=body, **kwargs).json()

    def put(self, path: str, body: Any, **kwargs: Any) -> Any:
        return self.request("PUT", path, json=body, **kwargs).json()

    def delete(self, path: str) -> None:
        self.request("DELETE", path)

    def find_function(self, name_or_id: str) -> dict[str, Any]:
        """The function with this id, or the one with exactly this name."""
        if _looks_like_uuid(name_or_id):
            return self.get(f"/functions/{name_or_id}")
        found = self.functions_named(name_or_id)
        if not found:
            raise CliError(f"no function named {name_or_id!r} (see `nil ls`)", exit_code=3)
        if len(found) > 1:
            raise ambiguous(name_or_id, found)
        return self.get(f"/functions/{found[0]['id']}")

    def functions_named(self, name: str) -> list[dict[str, Any]]:
        return self.get("/functions", params={"name": name, "limit": 1000})


def ambiguous(name: str, found: list[dict[str, Any]]) -> CliError:
    ids = ", ".join(f["id"] for f in found)
    return CliError(f"{len(found)} functions are named {name!r} ({ids}): use an id instead")


def path_part(value: str) -> str:
    return quote(value, safe="")


def _looks_like_uuid(value: str) -> bool:
    from uuid import UUID

    try:
        UUID(value)
    except ValueError:
        return False
    return True


def _api_error(response: httpx.Response) -> ApiError:
    status = response.status_code
    try:
        message = response.json().get("message") or response.reason_phrase
    except (ValueError, AttributeError):
        message = response.reason_phrase or "error"
    hint = _HINTS.get(status)
    return ApiError(status, f"{message} ({hint})" if hint else message)
