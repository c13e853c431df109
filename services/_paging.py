"""Page-size and page-token handling shared by every ``List*`` method (AIP-158 style).

A page token is an opaque, URL-safe encoding of the offset of the next item in the filtered, ordered
result. That is good enough for an in-memory reference: clients must treat it as opaque, and a token
from a different filter simply lands at another offset.

>>> paginate(list(range(5)), page_size=2, page_token="", default_size=20, max_size=100)
([0, 1], 'b2Zmc2V0OjI')
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import TypeVar

from services._errors import invalid_argument

__all__ = ["paginate"]

T = TypeVar("T")
_PREFIX = "offset:"


def _encode(offset: int) -> str:
    return base64.urlsafe_b64encode(f"{_PREFIX}{offset}".encode()).decode().rstrip("=")


def _decode(token: str) -> int:
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    if not text.startswith(_PREFIX) or not text[len(_PREFIX) :].isdigit():
        raise invalid_argument("page_token", "is not a token returned by a previous call")
    return int(text[len(_PREFIX) :])


def paginate(
    items: Sequence[T], page_size: int, page_token: str, default_size: int, max_size: int
) -> tuple[list[T], str]:
    """One page of ``items`` and the token of the next page (empty on the last page).

    ``page_size`` 0 means ``default_size``; larger than ``max_size`` is capped; negative is
    ``INVALID_ARGUMENT`` on ``page_size``.
    """
    if page_size < 0:
        raise invalid_argument("page_size", "must not be negative")
    size = min(page_size or default_size, max_size)
    start = _decode(page_token) if page_token else 0
    end = start + size
    next_token = _encode(end) if end < len(items) else ""
    return list(items[start:end]), next_token
