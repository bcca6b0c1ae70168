"""Reading a profile: TOML, `extends`, `${VAR}` interpolation, relative paths,
located errors, and finding the profile file by name.

A base that is only meant to be extended should be named `_NAME.toml` or
`NAME.base.toml`: discovery without a name skips those, so a directory holding
`_base.toml` and `prod.toml` has exactly one candidate profile.
"""

from __future__ import annotations

import copy
import logging
import os
import re
import stat
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from orchestrator.errors import ProfileError, ProfileIssue, UnknownName
from orchestrator.profile.discovery import expand_home, find_profile
from orchestrator.profile.locate import (
    KeyPath,
    Locator,
    error_key_path,
    error_message,
    format_key_path,
)
from orchestrator.profile.observe import resolve_observe_paths
from orchestrator.profile.schema import PathPolicy, Profile, SecretSource, reference_problems

log = logging.getLogger("strongroom")


Origins = dict[KeyPath, Path]

_PASSWORD_SOURCES = {"password_file", "password_command", "password_env", "password"}

_REFERENCE = re.compile(r"\$\$\{|\$\{([^}]*)\}|\$\{")
_VARIABLE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?", re.DOTALL)


def load_profile(path: Path, environ: Mapping[str, str] | None = None) -> Profile:
    """Load and validate a profile; warnings are logged to the "strongroom" logger."""
    profile, warnings = load_profile_with_warnings(path, environ)
    for warning in warnings:
        log.warning(warning)
    return profile


def load_profile_with_warnings(
    path: Path, environ: Mapping[str, str] | None = None
) -> tuple[Profile, list[str]]:
    """Load and validate a profile; raise one ProfileError holding every problem found."""
    if not Path(path).is_file():
        raise UnknownName(f"no profile file at {path}")
    loader = _Loader(os.environ if environ is None else environ)
    return loader.load(Path(os.path.abspath(path)), str(path))


class _Loader:
    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.issues: list[ProfileIssue] = []
        self.files: list[Path] = []
        self.shown: dict[Path, str] = {}
        self.locators: dict[Path, Locator] = {}
        self.own_data: dict[Path, dict[str, Any]] = {}
        # A file in the chain could not be read: missing keys and references are not trusted.
        self.incomplete = False

    def load(self, top: Path, shown: str) -> tuple[Profile, list[str]]:
        loaded = self._read(top, shown, [])
        if loaded is None:
            raise ProfileError(self.issues)
        data, origins = loaded
        interpolation_issues = len(self.issues)
        data = self._interpolate(data, (), origins)
        skip = {issue.key_path for issue in self.issues[interpolation_issues:]}
        profile = self._validate(data, origins, skip)
        if self.issues or profile is None:
            order = {str(name): index for index, name in enumerate(self.shown.values())}
            self.issues.sort(key=lambda i: (order.get(i.file, 0), i.line or 0, i.column or 0))
            raise ProfileError(self.issues)
        _resolve_paths(profile, origins, top, self.environ)
        profile.source_files = list(self.files)
        return profile, self._inline_secret_warnings()

    def _issue(self, file: Path, path: KeyPath, message: str) -> None:
        locator = self.locators.get(file)
        where = locator.locate(path) if locator is not None else None
        line, column = where if where is not None else (None, None)
        self.issues.append(
            ProfileIssue(self.shown[file], line, column, format_key_path(path), message)
        )

    def _read(
        self, path: Path, shown: str, chain: list[Path]
    ) -> tuple[dict[str, Any], Origins] | None:
        if path not in self.files:
            self.files.append(path)
        self.shown.setdefault(path, shown)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            self.issues.append(ProfileIssue(shown, None, None, "", f"cannot read: {reason}"))
            self.incomplete = True
            return None
        self.locators[path] = Locator(text)
        data = _parse_toml(text, shown)
        if isinstance(data, ProfileIssue):
            self.issues.append(data)
            self.incomplete = True
            return None
        extends = data.pop("extends", None)
        self.own_data[path] = data
        own_origins = {key: path for key in _key_paths(data, ())}
        merged: dict[str, Any] = {}
        origins: Origins = {}
        for key, reference in self._extends(path, extends):
            relative = expand_home(Path(reference), self.environ)
            base = Path(os.path.normpath(path.parent / relative))
            base_shown = os.path.normpath(Path(shown).parent / relative)
            seen = [p.resolve() for p in [*chain, path]]
            if base.resolve() in seen:
                names = [p.name for p in [*chain, path, base]]
                self._issue(path, key, "extends cycle: " + " -> ".join(names))
                continue
            if not base.is_file():
                self._issue(path, key, f"base profile not found: {base_shown}")
                self.incomplete = True
                continue
            loaded = self._read(base, base_shown, [*chain, path])
            if loaded is not None:
                _merge_into(merged, origins, loaded[0], loaded[1], ())
        _merge_into(merged, origins, data, own_origins, ())
        return merged, origins

    def _extends(self, path: Path, value: Any) -> Iterator[tuple[KeyPath, str]]:
        if value is None:
            return
        items: list[tuple[KeyPath, Any]] = (
            [(("extends", index), item) for index, item in enumerate(value)]
            if isinstance(value, list)
            else [(("extends",), value)]
        )
        for key, item in items:
            if not isinstance(item, str) or not item:
                self._issue(path, key, "extends takes a file name or a list of file names")
                self.incomplete = True
                continue
            expanded, problems = self._expand(item)
            for problem in problems:
                self._issue(path, key, problem)
            if not problems:
                yield key, expanded

    def _expand(self, text: str) -> tuple[str, list[str]]:
        problems: list[str] = []

        def substitute(match: re.Match[str]) -> str:
            token = match.group(0)
            if token == "$${":
                return "${"
            inner = match.group(1)
            if inner is None:
                problems.append("unclosed '${' (write '$${' for a literal '${')")
                return token
            variable = _VARIABLE.fullmatch(inner)
            if variable is None:
                problems.append(f"bad reference {token!r}: use ${{NAME}} or ${{NAME:-default}}")
                return token
            name, default = variable.group(1), variable.group(2)
            value = self.environ.get(name)
            if default is not None and not value:
                return default
            if value is None:
                problems.append(f"environment variable {name} is not set")
                return token
            return value

        return _REFERENCE.sub(substitute, text), problems

    def _interpolate(self, value: Any, path: KeyPath, origins: Origins) -> Any:
        if isinstance(value, str):
            expanded, problems = self._expand(value)
            for problem in problems:
                self._issue(_origin(origins, path, self.files[0]), path, problem)
            return expanded
        if isinstance(value, dict):
            return {k: self._interpolate(v, path + (k,), origins) for k, v in value.items()}
        if isinstance(value, list):
            return [self._interpolate(v, path + (i,), origins) for i, v in enumerate(value)]
        return value

    def _validate(self, data: dict[str, Any], origins: Origins, skip: set[str]) -> Profile | None:
        top_file = self.files[0]
        if data.pop("source_files", None) is not None:
            where = _origin(origins, ("source_files",), top_file)
            self._issue(where, ("source_files",), "unknown key")
        try:
            profile = Profile.model_validate(data)
        except ValidationError as exc:
            by_path: dict[KeyPath, list[dict[str, Any]]] = {}
            for error in exc.errors():
                missing = error["type"] == "missing"
                if missing and self.incomplete:
                    continue
                key = error_key_path(error["loc"], data, missing)
                by_path.setdefault(key, []).append(dict(error))
            for key, errors in by_path.items():
                if format_key_path(key) not in skip:
                    self._issue(_origin(origins, key, top_file), key, error_message(key, errors))
            return None
        if not self.incomplete:
            for key, message in reference_problems(profile):
                self._issue(_origin(origins, key, top_file), key, message)
        return profile

    def _inline_secret_warnings(self) -> list[str]:
        warnings: list[str] = []
        for path, data in self.own_data.items():
            repositories = data.get("repositories")
            if not isinstance(repositories, dict) or not any(
                isinstance(repo, dict) and "password" in repo for repo in repositories.values()
            ):
                continue
            try:
                mode = path.stat().st_mode
            except OSError:
                continue
            if mode & (stat.S_IRGRP | stat.S_IROTH):
                shown = self.shown[path]
                warnings.append(
                    f"{shown} holds an inline password and is readable by group/others; "
                    f"chmod 600 {shown} or use password_file"
                )
        return warnings


def _parse_toml(text: str, shown: str) -> dict[str, Any] | ProfileIssue:
    """The file's data, or where and why it is not TOML.

    tomllib (standard library) reads it: importing tomlkit would cost every command
    ~7 ms. Only a file tomllib refuses is parsed again by tomlkit, whose verdict stands:
    its errors carry the line and column that the message shows."""
    try:
        return tomllib.loads(text)
    except (ValueError, RecursionError):  # TOMLDecodeError, or an integer past 4,300 digits
        pass
    import tomlkit
    from tomlkit.exceptions import ParseError, TOMLKitError

    try:
        data: dict[str, Any] = tomlkit.parse(text).unwrap()
        return data
    except ParseError as exc:
        message = re.sub(r" at line \d+ col \d+$", "", str(exc))
        return ProfileIssue(shown, exc.line, exc.col + 1, "", message)
    except TOMLKitError as exc:
        return ProfileIssue(shown, None, None, "", str(exc))


def _key_paths(value: Any, prefix: KeyPath) -> Iterator[KeyPath]:
    items: list[tuple[str | int, Any]] = []
    if isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, list):
        items = list(enumerate(value))
    for key, item in items:
        yield prefix + (key,)
        yield from _key_paths(item, prefix + (key,))


def _merge_into(
    target: dict[str, Any],
    origins: Origins,
    child: dict[str, Any],
    child_origins: Origins,
    prefix: KeyPath,
) -> None:
    """Tables merge recursively; any other value from the child replaces the base's.

    A repository takes one password source, so a child that names one replaces
    whichever the base named instead of adding a second.
    """
    if len(prefix) == 2 and prefix[0] == "repositories" and _PASSWORD_SOURCES & child.keys():
        for key in _PASSWORD_SOURCES - child.keys():
            if target.pop(key, None) is not None:
                _drop_origins(origins, prefix + (key,))
    for key, value in child.items():
        path = prefix + (key,)
        current = target.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            origins[path] = child_origins[path]
            _merge_into(current, origins, value, child_origins, path)
            continue
        _drop_origins(origins, path)
        target[key] = copy.deepcopy(value)
        origins.update({p: f for p, f in child_origins.items() if p[: len(path)] == path})


def _drop_origins(origins: Origins, path: KeyPath) -> None:
    for stale in [p for p in origins if p[: len(path)] == path]:
        del origins[stale]


def _origin(origins: Origins, path: KeyPath, default: Path) -> Path:
    """The file that defined the key path or its deepest defined prefix."""
    for size in range(len(path), 0, -1):
        found = origins.get(path[:size])
        if found is not None:
            return found
    return default


def _resolve_paths(
    profile: Profile, origins: Origins, top: Path, environ: Mapping[str, str]
) -> None:
    """Relative paths are relative to the file that wrote them, not to the cwd."""

    def directory(key: KeyPath) -> Path:
        return _origin(origins, key, top).parent

    def fix(value: Path, key: KeyPath) -> Path:
        value = expand_home(value, environ)
        return value if value.is_absolute() else Path(os.path.normpath(directory(key) / value))

    def fix_all(values: list[Path], key: KeyPath) -> list[Path]:
        return [fix(value, key + (index,)) for index, value in enumerate(values)]

    if profile.state_dir is not None:
        profile.state_dir = fix(profile.state_dir, ("state_dir",))
    if profile.audit.key_file is not None:
        profile.audit.key_file = fix(profile.audit.key_file, ("audit", "key_file"))
    for name, repo in profile.repositories.items():
        key: KeyPath = ("repositories", name)
        if repo.password_file is not None:
            repo.password_file = fix(repo.password_file, key + ("password_file",))
        repo.url = _resolve_url(repo.url, directory(key + ("url",)), environ)
        for variable, item in repo.env.items():
            if isinstance(item, SecretSource) and item.file is not None:
                item.file = fix(item.file, key + ("env", variable, "file"))
    for name, group in profile.config.items():
        group.paths = fix_all(group.paths, ("config", name, "paths"))
    for name, service in profile.services.items():
        service.config = fix_all(service.config, ("services", name, "config"))
        service.data = fix_all(service.data, ("services", name, "data"))
    profile.infrastructure.network = fix_all(
        profile.infrastructure.network, ("infrastructure", "network")
    )
    resolve_observe_paths(profile.metrics, profile.notify, fix)
    policies: list[tuple[KeyPath, PathPolicy]] = [(("access",), profile.access)]
    policies += [(("access", "roles", name), role) for name, role in profile.access.roles.items()]
    for key, policy in policies:
        for field in ("export_dir", "import_dir", "restore_targets", "backup_roots"):
            value = getattr(policy, field)
            if value is not None:
                setattr(policy, field, fix_all(value, key + (field,)) if isinstance(
                    value, list) else fix(value, key + (field,)))


def _resolve_url(url: str, directory: Path, environ: Mapping[str, str]) -> str:
    """Plain paths and `local:` paths are resolved; anything with a scheme or a
    `host:` part (s3:, sftp:, rest:, rclone:, borg's `user@host:repo`, …) is left alone."""
    prefix, rest = ("local:", url[len("local:") :]) if url.startswith("local:") else ("", url)
    if ":" in rest.split("/", 1)[0]:
        return url
    path = expand_home(Path(rest), environ)
    if path.is_absolute():
        return prefix + str(path)
    return prefix + os.path.normpath(directory / path)


def redacted_profile(profile: Profile) -> dict[str, Any]:
    """The profile as JSON-ready data with every inline password shown as "***"."""
    return dict(_redact(profile.model_dump(mode="json")))


def _redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _redact_item(key, item) for key, item in value.items()}
    if isinstance(value, list):
        return [_redact(item) for item in value]
    return value


def _redact_item(key: str, item: Any) -> Any:
    if key == "password" and item is not None:
        return "***"
    if key == "url" and isinstance(item, str):
        from orchestrator.profile.urls import shown_url

        return shown_url(item)  # rest:https://user:password@host/
    return _redact(item)


def profile_json_schema() -> dict[str, Any]:
    """JSON schema of a profile file (with `extends`, without the loader's source_files)."""
    schema = Profile.model_json_schema()
    properties: dict[str, Any] = schema.setdefault("properties", {})
    properties.pop("source_files", None)
    properties["extends"] = {
        "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
        "description": "base profile(s), relative to this file; this file's keys win",
    }
    return schema


__all__ = [
    "find_profile",
    "load_profile",
    "load_profile_with_warnings",
    "profile_json_schema",
    "redacted_profile",
]
