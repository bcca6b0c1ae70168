"""Waits and delays in the profile: `90` or `90s` seconds, `5min` minutes, `2h` hours.

Minutes are `min`, not `m`: in retention `m` means months, and one letter must not
mean two things in one file.
"""

from __future__ import annotations

import re

TIMESPAN_PATTERN = r"^(0|[1-9][0-9]*)(s|min|h|d)?$"
TIMESPAN_FORMS = "seconds (90 or 90s), minutes (5min), hours (2h) or days (7d)"
_UNIT_SECONDS = {"": 1, "s": 1, "min": 60, "h": 3600, "d": 86400}


def parse_timespan(text: str) -> int:
    """Whole seconds; ValueError naming the accepted forms otherwise."""
    match = re.fullmatch(TIMESPAN_PATTERN, text.strip())
    if match is None:
        hint = " (minutes are written min)" if text.strip().endswith("m") else ""
        raise ValueError(f"{text!r} is not a time span{hint}: give {TIMESPAN_FORMS}")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2) or ""]
