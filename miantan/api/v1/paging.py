"""Page-number pagination with bounds, so that any page number answers 200 or 422, never 500.

Django ninja's own class takes any integer: `?page=99999999999999999999` becomes an OFFSET the
database cannot hold (SQLite: "Python int too large to convert to SQLite INTEGER"). Pages past
the end are empty, as before; numbers beyond `MAX_PAGE` are refused by validation.
"""

from __future__ import annotations

from ninja import Field, Schema
from ninja.pagination import PageNumberPagination

# A million pages of the largest page size is more rows than any list here can hold.
MAX_PAGE = 1_000_000


class BoundedPageNumberPagination(PageNumberPagination):
    class Input(Schema):
        page: int = Field(1, ge=1, le=MAX_PAGE)
        page_size: int | None = Field(None, ge=1, le=1000)
