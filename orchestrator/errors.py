"""The error types a user can cause. Each one becomes one clear message and an exit code.

Nothing here imports anything heavy: the CLI catches these at the top.
"""

from __future__ import annotations

from dataclasses import dataclass


class StrongroomError(Exception):
    """Base for every error that is reported to the user as one message."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def render(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class EndedEarly(StrongroomError):
    """A stream read from a child ended before its own end marker. When the child has
    failed, its error is the one reported (see run.reading)."""


class UsageError(StrongroomError):
    """Bad arguments or a combination of options that cannot work."""

    exit_code = 2


@dataclass(frozen=True)
class ProfileIssue:
    """One located problem in a profile: file:line:col, key path, message."""

    file: str
    line: int | None
    column: int | None
    key_path: str
    message: str

    def render(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        key = f" {self.key_path}:" if self.key_path else ""
        return f"{where}:{key} {self.message}"


class ProfileError(StrongroomError):
    """A profile that cannot be used; carries every issue found, not just the first."""

    exit_code = 2

    def __init__(self, issues: list[ProfileIssue]) -> None:
        self.issues = issues
        count = len(issues)
        head = "the profile has 1 error" if count == 1 else f"the profile has {count} errors"
        super().__init__(head + ":\n" + "\n".join("  " + i.render() for i in issues))


class NotFoundError(StrongroomError):
    """A backup, profile, repository or path that does not exist."""

    exit_code = 1


class UnknownName(NotFoundError):
    """A name given by the user that the profile or the host does not have: a profile,
    a repository, a schedule, a service. Bad input, so exit 2 like any usage error."""

    exit_code = 2


class ConflictError(StrongroomError):
    """Refused because it would overwrite something (restore without --force)."""

    exit_code = 3


class AccessDenied(StrongroomError):
    exit_code = 4


class BusyError(StrongroomError):
    """Another run holds the profile's lock (EX_TEMPFAIL: try again later)."""

    exit_code = 75
