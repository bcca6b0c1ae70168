"""Where profiles are looked for: STRONGROOM_PROFILE_DIR, ./profiles, the XDG config dir."""

from __future__ import annotations

from pathlib import Path

from orchestrator.profile.discovery import SYSTEM_PROFILE_DIR, find_profile, profile_dirs


def test_xdg_config_home_is_honoured(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path / "home"), "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    assert profile_dirs(env, tmp_path) == [
        tmp_path / "profiles", tmp_path / "xdg" / "strongroom" / "profiles", SYSTEM_PROFILE_DIR]
    found = tmp_path / "xdg" / "strongroom" / "profiles" / "home.toml"
    found.parent.mkdir(parents=True)
    found.write_text("")
    assert find_profile(None, env, tmp_path) == found
    assert find_profile("home", env, tmp_path) == found


def test_without_xdg_config_home_it_is_dot_config(tmp_path: Path) -> None:
    for env in ({"HOME": str(tmp_path)}, {"HOME": str(tmp_path), "XDG_CONFIG_HOME": ""},
                {"HOME": str(tmp_path), "XDG_CONFIG_HOME": "relative/dir"}):
        assert profile_dirs(env, tmp_path)[1] == tmp_path / ".config" / "strongroom" / "profiles"
