"""Byte sizes as users write them: 500, 64K, 20M, 3G, 1T (powers of 1024)."""

from __future__ import annotations

import re

from orchestrator.errors import UsageError

_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_size(text: str, what: str) -> int:
    match = re.fullmatch(r"\s*(\d+)\s*([KMGT]?)(?:i?B)?\s*", text, re.IGNORECASE)
    if not match:
        raise UsageError(f"{what} {text!r}: expected a size such as 500, 64K, 20M or 3G")
    return int(match.group(1)) * _UNITS[match.group(2).upper()]
