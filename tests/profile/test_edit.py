"""Editing a profile keeps the user's comments and layout; a bad edit changes nothing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from orchestrator.errors import ProfileError
from orchestrator.profile.edit import (
    replace_profile_text,
    schedule_values,
    with_schedule,
    without_schedule,
)

PROFILE = """\
# The homelab: edited by hand and by strongroom.
name = "homelab"   # tags every snapshot

[repositories.local]
url = "/var/backups/strongroom"  # the default destination
password_file = "/etc/strongroom/local.pass"

# ---- schedules ----
[schedules.daily]
# every night, config only
schedule = "0 2 * * *"
type = "config"
retention = "30d"   # a month of nights

[access.download]
max_bytes = 1000000  # exports stay small
"""


def test_adding_a_schedule_keeps_every_line_of_the_file() -> None:
    text = with_schedule(PROFILE, "weekly", {"schedule": "@weekly", "type": "full",
                                             "services": ["web"], "keep_weekly": 8})
    assert text.startswith(PROFILE.split("[access.download]")[0].rstrip("\n"))
    for line in PROFILE.splitlines():
        assert line in text.splitlines()
    assert schedule_values(text, "weekly") == {"schedule": "@weekly", "type": "full",
                                               "services": ["web"], "keep_weekly": 8}
    assert schedule_values(text, "daily") == {"schedule": "0 2 * * *", "type": "config",
                                              "retention": "30d"}


def test_changing_a_schedule_keeps_its_comments() -> None:
    text = with_schedule(PROFILE, "daily", {"schedule": "0 4 * * *", "type": "config",
                                            "retention": "30d"})
    assert text == PROFILE.replace('"0 2 * * *"', '"0 4 * * *"')
    dropped = with_schedule(PROFILE, "daily", {"schedule": "0 2 * * *", "type": "config"})
    assert "retention" not in dropped and "# every night, config only" in dropped


def test_removing_a_schedule_leaves_the_rest() -> None:
    text = without_schedule(PROFILE, "daily")
    assert schedule_values(text, "daily") is None
    assert "# The homelab: edited by hand and by strongroom." in text
    assert "max_bytes = 1000000  # exports stay small" in text
    assert without_schedule(text, "daily") == text


def test_a_profile_without_schedules_gets_its_first() -> None:
    plain = PROFILE.split("# ---- schedules ----")[0]
    text = with_schedule(plain, "daily", {"schedule": "@daily"})
    assert text.startswith(plain) and "[schedules.daily]\nschedule = \"@daily\"" in text


def test_replacing_the_file_validates_first_and_keeps_its_mode(tmp_path: Path) -> None:
    profile = tmp_path / "homelab.toml"
    profile.write_text(PROFILE.replace("[access.download]\nmax_bytes = 1000000  # exports "
                                       "stay small\n", ""))
    os.chmod(profile, 0o640)
    before = profile.read_text()
    bad = with_schedule(before, "broken", {"schedule": "@daily", "destination": "nowhere"})
    with pytest.raises(ProfileError, match="no repository named 'nowhere'") as caught:
        replace_profile_text(profile, bad)
    assert caught.value.issues[0].file == str(profile)
    assert profile.read_text() == before and sorted(p.name for p in tmp_path.iterdir()) == [
        "homelab.toml"]
    good = with_schedule(before, "weekly", {"schedule": "@weekly"})
    replace_profile_text(profile, good)
    assert profile.read_text() == good and profile.stat().st_mode & 0o777 == 0o640


def test_comments_leading_into_the_next_table_stay_with_it() -> None:
    text = PROFILE.replace("[access.download]", "# ---- exports ----\n[access.download]")
    added = with_schedule(text, "a.b", {"schedule": "@daily"})
    assert '[schedules."a.b"]\nschedule = "@daily"\n\n# ---- exports ----\n[access.down' in added
    removed = without_schedule(text, "daily")
    assert "# ---- exports ----\n[access.download]" in removed
    assert "# every night" not in removed and "# ---- schedules ----" in removed


def test_inline_schedule_tables_are_edited_too() -> None:
    text = 'schedules = { a = { schedule = "@daily" } }\n'
    added = with_schedule(text, "b", {"schedule": "@weekly"})
    assert schedule_values(added, "b") == {"schedule": "@weekly"}
    assert schedule_values(without_schedule(added, "a"), "a") is None
