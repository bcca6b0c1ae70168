"""key list / add / remove / rotate: the keys (passwords) of a repository.

A key wraps the repository's master key: adding, removing or rotating keys changes who
can open the repository, never how its data is encrypted (moving the data under a new
master key is `backup-encrypt --to`, sets/reencrypt.py).

rotate with a `password_file` P is a sequence of steps, each leaving a repository that
opens with the old or the new password, and files from which the next rotate finds
where it stopped:

1. the new password is written to `P.new` (0600);
2. a key for it is added (skipped when `P.new` already opens the repository);
3. the old password is kept as `P.previous`, then `P.new` is renamed over P;
4. P is proved to open the repository;
5. the key `P.previous` opens is removed;
6. `P.previous` is deleted.

`P.new` present: steps 2-6 are left. `P.previous` present alone: steps 4-6.
With `password_command` / `password_env` strongroom cannot write the password: rotate
adds the key for `--new-password-file`, records the old key in the state directory, and
removes it on the run after the profile's password source yields the new password.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
from pathlib import Path

from orchestrator.engines import open_engine
from orchestrator.engines.base import Engine, KeyInfo, WrongPassword
from orchestrator.errors import StrongroomError, UsageError
from orchestrator.models import (
    KeyChangeRequest,
    KeyChangeResult,
    KeyEntry,
    KeyListResult,
)
from orchestrator.profile.schema import Repository
from orchestrator.run.tempfiles import fsync_folder, write_atomic
from orchestrator.sets.session import Session

log = logging.getLogger("strongroom")
NEW_SUFFIX = ".new"
PREVIOUS_SUFFIX = ".previous"


def key_list(session: Session, destination: str | None) -> KeyListResult:
    name, engine = session.engine(destination)
    return KeyListResult(repository=name, keys=[_entry(key) for key in engine.key_list()])


def key_add(session: Session, request: KeyChangeRequest) -> KeyChangeResult:
    if not request.new_password_file:
        raise UsageError("key add needs --new-password-file FILE (a password is never read "
                         "from the command line)")
    new_file = _readable(request.new_password_file)
    name, repository = session.profile.repository(request.destination)
    engine = session.engine(name)[1]
    if (opened := opened_by(session, name, repository, new_file)) is not None:
        raise UsageError(f"the password in {new_file} already opens {name!r} (key "
                         f"{opened.id})")
    engine.key_add(new_file, host=request.host, user=request.user)
    added = opened_by(session, name, repository, new_file)
    return KeyChangeResult(repository=name, added=added.id if added else None)


def key_remove(session: Session, request: KeyChangeRequest) -> KeyChangeResult:
    if not request.key_id:
        raise UsageError("key remove needs the key's id (see `strongroom key list`)")
    name, engine = session.engine(request.destination)
    keys = engine.key_list()
    matches = [key for key in keys if key.id.startswith(request.key_id.lower())]
    if not matches:
        raise UsageError(f"no key {request.key_id!r} in {name!r} (have: "
                         f"{', '.join(key.id for key in keys)})")
    if len(matches) > 1:
        raise UsageError(f"key id {request.key_id!r} is ambiguous in {name!r}")
    if matches[0].current:
        raise UsageError(f"key {matches[0].id} is the one the profile's password opens "
                         f"{name!r} with: it cannot be removed")
    engine.key_remove(matches[0].id)
    return KeyChangeResult(repository=name, removed=[matches[0].id])


def opened_by(session: Session, name: str, repository: Repository,
              password_file: Path) -> KeyInfo | None:
    """The key the password in this file opens, or None when it opens none."""
    engine = engine_with_password(session, name, repository, password_file)
    try:
        keys = engine.key_list()
    except WrongPassword:
        return None
    return next((key for key in keys if key.current), None)


def engine_with_password(session: Session, name: str, repository: Repository,
                         password_file: Path) -> Engine:
    unset = {"password_command": None, "password_env": None, "password": None}
    return open_engine(name, repository.model_copy(
        update={"password_file": password_file, **unset}), session.state.root)


def key_rotate(session: Session, request: KeyChangeRequest) -> KeyChangeResult:
    """A new password for the repository, its key added and the old key removed (the
    tool holds the profile's lock: no backup of this profile starts mid-rotation)."""
    name, repository = session.profile.repository(request.destination)
    if repository.password_file is not None:
        return _rotate_file(session, name, repository, repository.password_file, request)
    return _rotate_elsewhere(session, name, repository, request)


# ---- rotation of a password_file, step by step


def _rotate_file(session: Session, name: str, repository: Repository, path: Path,
                 request: KeyChangeRequest) -> KeyChangeResult:
    if path.is_symlink():
        raise UsageError(f"password_file {path} of {name!r} is a symlink: rotate would replace "
                         "the link with a file; point password_file at the file itself")
    new, previous = sibling(path, NEW_SUFFIX), sibling(path, PREVIOUS_SUFFIX)
    given = _readable(request.new_password_file) if request.new_password_file else None
    resumed = new.exists() or previous.exists()
    if new.exists():
        if given is not None and _secret(given) != _secret(new):
            raise UsageError(f"a rotation of {name!r} is half done with the password in {new}; "
                             "run `strongroom key rotate` without --new-password-file to "
                             "finish it first")
    elif not previous.exists():
        old = opened_by(session, name, repository, path)
        if old is None:
            raise WrongPassword(f"the password in {path} does not open {name!r}: nothing "
                                "rotated")
        if given is not None and opened_by(session, name, repository, given) is not None:
            raise UsageError(f"the password in {given} already opens {name!r}: give a new one")
        choose_new(new, _secret(given) if given is not None else None)
    if new.exists():
        # Chosen just now, it opens nothing yet; chosen by an interrupted run, it may.
        if not resumed or opened_by(session, name, repository, new) is None:
            add_key(session, name, repository, new, request)
        keep_previous(path, previous)
        install_new(new, path)
    current = verify(session, name, repository, path)
    removed = remove_old(session, name, repository, previous, current)
    forget_previous(previous)
    return KeyChangeResult(repository=name, added=current.id, removed=removed,
                           password_file=str(path), resumed=resumed)


def choose_new(new: Path, given: bytes | None) -> None:
    """Step 1: the new password, kept beside the old one before any key holds it."""
    secret = given if given is not None else base64.b64encode(secrets.token_bytes(32))
    write_atomic(new, secret + b"\n", 0o600)
    fsync_folder(new.parent)


def add_key(session: Session, name: str, repository: Repository, new: Path,
            request: KeyChangeRequest) -> None:
    """Step 2: a key for the new password, added with the old one."""
    session.engine(name)[1].key_add(new, host=request.host, user=request.user)


def keep_previous(path: Path, previous: Path) -> None:
    """Step 3a: the old password kept as P.previous (already there after an interrupted
    step 3b: then it holds P's content)."""
    old = path.read_bytes()
    if previous.exists():
        if previous.read_bytes() != old:
            raise StrongroomError(f"{previous} and {path} differ while {sibling(path, NEW_SUFFIX)}"
                                  " exists: which password is the old one is unclear; "
                                  "move the one that is not yours away and run rotate again")
        return
    write_atomic(previous, old, 0o600)


def install_new(new: Path, path: Path) -> None:
    """Step 3b: P.new renamed over P, atomically."""
    os.replace(new, path)
    fsync_folder(path.parent)


def verify(session: Session, name: str, repository: Repository, path: Path) -> KeyInfo:
    """Step 4: the password now in P opens the repository."""
    current = opened_by(session, name, repository, path)
    if current is None:
        raise WrongPassword(f"the password now in {path} does not open {name!r}; the old "
                            f"one is in {sibling(path, PREVIOUS_SUFFIX)}")
    return current


def remove_old(session: Session, name: str, repository: Repository, previous: Path,
               current: KeyInfo) -> list[str]:
    """Step 5: the key of the old password removed (none when it is gone already)."""
    if not previous.exists():
        return []
    old = opened_by(session, name, repository, previous)
    if old is None or old.id == current.id:
        return []
    session.engine(name)[1].key_remove(old.id)  # opened with the new password, now in P
    return [old.id]


def forget_previous(previous: Path) -> None:
    """Step 6: the old password deleted."""
    previous.unlink(missing_ok=True)
    fsync_folder(previous.parent)


# ---- rotation where strongroom cannot write the password


def _rotate_elsewhere(session: Session, name: str, repository: Repository,
                      request: KeyChangeRequest) -> KeyChangeResult:
    source = "password_command" if repository.password_command is not None else (
        "password_env" if repository.password_env is not None else "password")
    record = session.state.root / "keys" / f"{name}.rotation.json"
    engine = session.engine(name)[1]
    current = next((key for key in engine.key_list() if key.current), None)
    if current is None:
        raise StrongroomError(f"restic names no current key of {name!r}")
    if record.exists():
        pending = json.loads(record.read_text())
        old, new = str(pending["old"]), str(pending["new"])
        if current.id == new:
            if any(key.id == old for key in engine.key_list()):
                engine.key_remove(old)
            record.unlink()
            return KeyChangeResult(repository=name, removed=[old], resumed=True)
        return KeyChangeResult(repository=name, added=new, pending=True, resumed=True,
                               notes=[_instructions(source, name, repository, old)])
    if not request.new_password_file:
        raise UsageError(f"repository {name!r} takes its password from {source}, which "
                         "strongroom cannot change: give --new-password-file FILE with the "
                         "new password")
    given = _readable(request.new_password_file)
    added = opened_by(session, name, repository, given)
    if added is not None and added.id == current.id:
        raise UsageError(f"the password in {given} is the one {name!r} opens with now")
    if added is None:
        engine.key_add(given, host=request.host, user=request.user)
        added = opened_by(session, name, repository, given)
    assert added is not None
    write_atomic(record, json.dumps({"old": current.id, "new": added.id}).encode(), 0o600)
    return KeyChangeResult(repository=name, added=added.id, pending=True,
                           notes=[_instructions(source, name, repository, current.id)])


def _instructions(source: str, name: str, repository: Repository, old: str) -> str:
    where = (f"password_env {repository.password_env}" if source == "password_env"
             else f"{source} of [repositories.{name}]")
    return (f"change {where} so that it yields the new password, then run `strongroom key "
            f"rotate --destination {name}` again: it removes the old key {old}")


# ---- helpers


def sibling(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


def _secret(path: Path) -> bytes:
    return path.read_bytes().strip()


def _readable(value: str) -> Path:
    path = Path(value)
    try:
        secret = path.read_bytes().strip()
    except OSError as exc:
        raise UsageError(f"cannot read --new-password-file {value}: {exc.strerror}") from None
    if not secret:
        raise UsageError(f"--new-password-file {value} is empty")
    return path


def _entry(key: KeyInfo) -> KeyEntry:
    return KeyEntry(id=key.id, user=key.user, host=key.host, created=key.created,
                    current=key.current)
