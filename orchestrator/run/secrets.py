"""Secrets handed to children through pipes (/dev/fd/N), and argv+env+secret commands."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from orchestrator.errors import StrongroomError
from orchestrator.run.process import Completed, Env, run


@contextmanager
def secret_fd(secret: bytes) -> Iterator[int]:
    """A pipe's read end holding `secret`, to hand to a child as /dev/fd/N.

    The secret never touches argv, the environment or the disk. It must fit the pipe
    buffer (64 KiB on Linux), which any password does.
    """
    if len(secret) > 60_000:
        raise StrongroomError("secret is too large to pass through a pipe")
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, secret)
    finally:
        os.close(write_end)
    try:
        yield read_end
    finally:
        os.close(read_end)


SECRET_FD = "{secret_fd}"


@dataclass(frozen=True)
class Command:
    """An argv with its environment. `secret`, when set, reaches the child through a pipe
    as /dev/fd/N, and every `{secret_fd}` in argv and in the environment's values is
    replaced by N."""

    argv: tuple[str, ...]
    env: Mapping[str, str | None] = field(default_factory=dict)
    secret: bytes | None = None


@contextmanager
def prepared(command: Command) -> Iterator[tuple[list[str], Env, tuple[int, ...]]]:
    """argv, environment and inherited fds of a Command, its secret pipe open meanwhile."""
    if command.secret is None:
        yield list(command.argv), command.env, ()
        return
    with secret_fd(command.secret) as fd:
        argv = [item.replace(SECRET_FD, str(fd)) for item in command.argv]
        env = {key: value.replace(SECRET_FD, str(fd)) if value is not None else None
               for key, value in command.env.items()}
        yield argv, env, (fd,)


def run_command(command: Command, **options: Any) -> Completed:
    """run() for a Command; options are run()'s keyword arguments."""
    with prepared(command) as (argv, env, fds):
        return run(argv, env=env, pass_fds=fds, **options)
