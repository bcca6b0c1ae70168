"""Command lines as they may be logged: secrets after flags, in KEY=VALUE and in URLs hidden."""

from __future__ import annotations

import re
from collections.abc import Sequence

# Flags whose next argv item is a secret, and KEY=VALUE keys that hold one.
SECRET_FLAGS = frozenset({"--password", "--passphrase", "--token", "--secret"})
SECRET_KEY = re.compile(r"(pass(word|phrase)?|secret|token|(^|_)key)$", re.IGNORECASE)
URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^/@:\s]*):\S*@")


def redact_argv(argv: Sequence[str]) -> list[str]:
    """A copy of argv that is safe to log: secrets after flags, in KEY=VALUE and in URLs."""
    shown: list[str] = []
    hide_next = False
    for item in argv:
        if hide_next:
            shown.append("***")
            hide_next = False
            continue
        if item in SECRET_FLAGS:
            shown.append(item)
            hide_next = True
            continue
        key, sep, _value = item.partition("=")
        if sep and SECRET_KEY.search(key.lstrip("-").replace("-", "_")):
            shown.append(f"{key}=***")
            continue
        shown.append(URL_CREDENTIALS.sub(r"\g<scheme>\g<user>:***@", item))
    return shown


def format_argv(argv: Sequence[str]) -> str:
    import shlex

    return " ".join(shlex.quote(part) for part in redact_argv(argv))


def redact_url(url: str) -> str:
    """A URL as logs may show it: scheme and host only. Paths and queries of webhooks and
    ping URLs are often the secret themselves (a Healthchecks UUID, a Slack hook)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "***"
    if not parts.scheme or not host:
        return "***"
    hidden = "/***" if parts.path.strip("/") or parts.query else ""
    return f"{parts.scheme}://{host}{port}{hidden}"
