"""Finding the profile: `-p NAME|PATH`, or the only profile in the search path."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from orchestrator.errors import UnknownName, UsageError

SYSTEM_PROFILE_DIR = Path("/etc/strongroom/profiles")


def expand_home(path: Path, environ: Mapping[str, str]) -> Path:
    home = environ.get("HOME")
    if home and path.parts[:1] == ("~",):
        return Path(home, *path.parts[1:])
    try:
        return path.expanduser()
    except RuntimeError:
        return path


def user_config_dir(environ: Mapping[str, str]) -> Path:
    """$XDG_CONFIG_HOME when set to an absolute path (as the XDG spec asks), else ~/.config."""
    configured = environ.get("XDG_CONFIG_HOME", "")
    if configured and Path(configured).is_absolute():
        return Path(configured)
    return expand_home(Path("~/.config"), environ)


def is_base_profile(path: Path) -> bool:
    """Bases (`_x.toml`, `x.base.toml`) are only extended, never picked by discovery."""
    return path.name.startswith("_") or path.name.endswith(".base.toml")


def profile_dirs(environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> list[Path]:
    """Where profiles are looked for, in order."""
    env = os.environ if environ is None else environ
    base = Path() if cwd is None else cwd
    dirs = [
        base / expand_home(Path(entry), env)
        for entry in env.get("STRONGROOM_PROFILE_DIR", "").split(":")
        if entry
    ]
    user_dir = user_config_dir(env) / "strongroom" / "profiles"
    return [*dirs, base / "profiles", user_dir, SYSTEM_PROFILE_DIR]


def _candidates(dirs: list[Path]) -> list[Path]:
    seen: set[Path] = set()
    found: list[Path] = []
    for directory in dirs:
        try:
            files = sorted(directory.glob("*.toml")) if directory.is_dir() else []
        except OSError:
            continue
        for file in files:
            if is_base_profile(file) or not file.is_file() or file.resolve() in seen:
                continue
            seen.add(file.resolve())
            found.append(file)
    return found


def _names(files: list[Path]) -> list[str]:
    stems = [file.stem for file in files]
    return [
        stem if stems.count(stem) == 1 else str(file)
        for stem, file in zip(stems, files, strict=True)
    ]


def find_profile(
    name_or_path: str | None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Path:
    """The profile file for `-p NAME|PATH`, or the only profile there is when none is given."""
    dirs = profile_dirs(environ, cwd)
    looked = ", ".join(str(d) for d in dirs)
    if name_or_path:
        name = name_or_path
        if "/" in name or name.endswith(".toml"):
            given = expand_home(Path(name), os.environ if environ is None else environ)
            candidate = given if cwd is None or given.is_absolute() else cwd / given
            if candidate.is_file():
                return candidate
            if "/" in name:
                raise UnknownName(f"no profile file at {name}")
            name = name.removesuffix(".toml")
        for directory in dirs:
            candidate = directory / f"{name}.toml"
            if candidate.is_file():
                return candidate
        available = _names(_candidates(dirs))
        raise UnknownName(
            f"no profile named {name!r}; looked in {looked}",
            hint=f"available: {', '.join(available)}" if available else "no profiles found at all",
        )
    candidates = _candidates(dirs)
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise UnknownName(
            f"no profile found; looked in {looked}",
            hint="put NAME.toml in one of those directories, "
            "or pass -p NAME or -p path/to/profile.toml",
        )
    names = _names(candidates)
    raise UsageError(
        f"several profiles found: {', '.join(names)}",
        hint=f"pass -p NAME to choose one, e.g. -p {names[0]}",
    )


def available_profiles(environ: Mapping[str, str] | None = None,
                       cwd: Path | None = None) -> list[str]:
    """The names `-p` takes for the profiles discovery finds (shell completion)."""
    return _names(_candidates(profile_dirs(environ, cwd)))
