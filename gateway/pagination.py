"""Keyset pagination shared by the list endpoints: `limit`, `before=<id|timestamp>`,
and a `Link: <…>; rel="next"` header on a full page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from flask import Response, url_for

from common.errors import NotFound
from db.records import PageCursor
from gateway.validation import Page

_MIN_UUID = UUID(int=0)


def resolve_cursor(
    page: Page, lookup: Callable[[UUID], PageCursor | None], what: str
) -> PageCursor | None:
    """The (created_at, id) to page before: a row's, or a timestamp's."""
    if page.before_id is not None:
        cursor = lookup(page.before_id)
        if cursor is None:
            raise NotFound(f"no {what} {page.before_id} to page before")
        return cursor
    if page.before_time is not None:
        return PageCursor(page.before_time, _MIN_UUID)
    return None


def page_response(
    items: list[dict[str, Any]], page: Page, endpoint: str, *, key: str = "id", **values: Any
) -> Response:
    """The items, with a Link to the next page (before the last item's `key`) if full."""
    from flask import jsonify

    response = jsonify(items)
    if len(items) == page.limit:
        next_url = url_for(endpoint, limit=page.limit, before=items[-1][key], **values)
        response.headers["Link"] = f'<{next_url}>; rel="next"'
    return response
