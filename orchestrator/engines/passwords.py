"""A repository's password: from a file, a command, an environment variable or (with a
warning elsewhere) inline; read at most once per run and handed to restic as a file,
to borg as an inherited descriptor."""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterator
from contextlib import contextmanager

from orchestrator import run
from orchestrator.errors import StrongroomError
from orchestrator.profile.schema import Repository


class PasswordSource:
    """Where a repository's password comes from; read at most once per strongroom run."""

    def __init__(self, repository_name: str, repository: Repository) -> None:
        self.repository_name = repository_name
        self.repository = repository
        self._secret: bytes | None = None

    @contextmanager
    def as_file(self) -> Iterator[tuple[str, tuple[int, ...]]]:
        """A path restic can read the password from, and the fds the child must inherit."""
        repo = self.repository
        if repo.password_file is not None:
            if not repo.password_file.is_file():
                raise StrongroomError(
                    f"repository {self.repository_name!r}: password_file "
                    f"{repo.password_file} does not exist"
                )
            yield str(repo.password_file), ()
            return
        with run.secret_fd(self._read_secret()) as fd:
            yield f"/dev/fd/{fd}", (fd,)

    @contextmanager
    def as_fd(self) -> Iterator[int]:
        """A pipe holding the password, for a child that reads it from an inherited
        descriptor (borg's BORG_PASSPHRASE_FD). One pipe per child: it is read once."""
        with run.secret_fd(self._read_secret()) as fd:
            yield fd

    def file_identity(self) -> str | None:
        """For a password file, a string that changes whenever the file may have (its
        path, device, inode, size, mtime and ctime; a rewrite cannot keep the ctime);
        None for every other source, whose value cannot be watched without reading
        it."""
        path = self.repository.password_file
        if path is None:
            return None
        try:
            stat = os.stat(path)
        except OSError:
            return None
        return (f"{os.path.realpath(path)}:{stat.st_dev}:{stat.st_ino}:{stat.st_size}:"
                f"{stat.st_mtime_ns}:{stat.st_ctime_ns}")

    def secret(self) -> bytes:
        """The password itself, for a Command that hands it to its child through a pipe."""
        return self._read_secret()

    def _read_secret(self) -> bytes:
        if self._secret is None:
            self._secret = self._fetch()
        return self._secret

    def _fetch(self) -> bytes:
        repo = self.repository
        name = self.repository_name
        if repo.password_file is not None:
            try:
                return repo.password_file.read_bytes().rstrip(b"\r\n")
            except OSError as exc:
                raise StrongroomError(f"repository {name!r}: cannot read password_file "
                                      f"{repo.password_file}: {exc.strerror}") from None
        if repo.password is not None:
            return repo.password.get_secret_value().encode()
        if repo.password_env is not None:
            value = os.environ.get(repo.password_env)
            if not value:
                raise StrongroomError(
                    f"repository {name!r}: environment variable {repo.password_env} "
                    "(password_env) is not set"
                )
            return value.encode()
        assert repo.password_command is not None
        command = repo.password_command
        argv = shlex.split(command) if isinstance(command, str) else list(command)
        try:
            out = run.run(argv, timeout=120).stdout_bytes
        except run.CommandError as exc:
            raise StrongroomError(
                f"repository {name!r}: password_command failed (exit {exc.returncode})"
            ) from exc
        secret = out.rstrip(b"\r\n")
        if not secret:
            raise StrongroomError(f"repository {name!r}: password_command printed nothing")
        return secret
