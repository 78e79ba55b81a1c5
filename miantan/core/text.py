"""Normalising what people type or paste (full-width digits, stray spaces)."""

from __future__ import annotations

import unicodedata


def normalise(value: object) -> str:
    """NFKC folds full-width digits and letters ("１２３" → "123") and the ideographic space."""
    if value is None:
        return ""
    return unicodedata.normalize("NFKC", str(value)).strip()
