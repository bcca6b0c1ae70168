"""The units and cron entries a schedule installs, as text (pure builders)."""

from __future__ import annotations

import shlex

from orchestrator.schedule.units import (
    ScheduledJob,
    blocks_in,
    cron_block,
    cron_command,
    cron_expression,
    job_argv,
    replace_block,
    systemd_service,
    systemd_timer,
    systemd_word,
)


def job(**changes: object) -> ScheduledJob:
    values: dict[str, object] = {
        "profile": "homelab", "key": "nightly", "cron": "30 3 * * mon-fri",
        "argv": job_argv(["/opt/strongroom/bin/strongroom"], "/etc/strongroom/homelab.toml",
                         "nightly"),
        "randomized_delay": 900, "profile_file": "/etc/strongroom/homelab.toml"}
    values.update(changes)
    return ScheduledJob(**values)  # type: ignore[arg-type]


def test_systemd_words_escape_specifiers_variables_and_quotes() -> None:
    assert systemd_word("/usr/bin/strongroom") == "/usr/bin/strongroom"
    assert systemd_word("--schedule") == "--schedule"
    assert systemd_word("my profile.toml") == '"my profile.toml"'
    assert systemd_word("100%") == '"100%%"'
    assert systemd_word("$HOME") == '"$$HOME"'
    assert systemd_word('a"b\\c') == '"a\\"b\\\\c"'


def test_service_runs_the_schedule_by_absolute_paths_gently() -> None:
    text = systemd_service(job())
    lines = text.splitlines()
    assert "Type=oneshot" in lines
    assert ("ExecStart=/opt/strongroom/bin/strongroom create-backup --schedule nightly "
            "--profile /etc/strongroom/homelab.toml") in lines
    assert {"Nice=10", "IOSchedulingClass=idle", "NoNewPrivileges=yes",
            "ProtectSystem=full"} <= set(lines)
    assert "EnvironmentFile=-/etc/strongroom/homelab.env" in lines


def test_user_units_carry_no_system_sandboxing() -> None:
    lines = systemd_service(job(user=True)).splitlines()
    assert "NoNewPrivileges=yes" not in lines and "ProtectSystem=full" not in lines
    assert "EnvironmentFile=-%h/.config/strongroom/homelab.env" in lines
    assert "IOSchedulingClass=idle" in lines


def test_environment_is_set_in_the_unit() -> None:
    lines = systemd_service(job(environment={"STRONGROOM_STATE_DIR": "/srv/state dir"}))
    assert 'Environment="STRONGROOM_STATE_DIR=/srv/state dir"' in lines.splitlines()


def test_timer_is_persistent_and_fires_on_the_converted_calendar() -> None:
    lines = systemd_timer(job()).splitlines()
    assert "OnCalendar=Mon,Tue,Wed,Thu,Fri *-*-* 03:30:00" in lines
    assert {"Persistent=true", "RandomizedDelaySec=900", "WantedBy=timers.target",
            "Unit=strongroom-homelab-nightly.service"} <= set(lines)
    both = systemd_timer(job(cron="0 4 1,15 * sun")).splitlines()
    assert [line for line in both if line.startswith("OnCalendar=")] == [
        "OnCalendar=*-*-01,15 04:00:00", "OnCalendar=Sun *-*-* 04:00:00"]


def test_cron_names_become_numbers_and_macros_stay() -> None:
    assert cron_expression("0 3 * jan-mar mon-fri") == "0 3 * 1-3 1-5"
    assert cron_expression("*/15 * * * SUN,sat") == "*/15 * * * 0,6"
    assert cron_expression("@weekly") == "@weekly"


def test_cron_command_quotes_every_word_and_escapes_percent() -> None:
    command = cron_command(job(argv=["/bin/strongroom", "--profile", "/srv/a b%c.toml"],
                               environment={"PATH": "/usr/bin:/bin"}))
    assert command == "/usr/bin/env PATH=/usr/bin:/bin /bin/strongroom --profile " \
                      "'/srv/a b\\%c.toml'"
    assert shlex.split(command.replace("\\%", "%"))[-1] == "/srv/a b%c.toml"


def test_cron_blocks_name_root_only_in_system_files() -> None:
    assert "30 3 * * 1-5 root /opt/strongroom/bin/strongroom create-backup" in cron_block(job())
    assert "30 3 * * 1-5 /opt/strongroom/bin/strongroom" in cron_block(job(user=True))


def test_blocks_are_added_replaced_and_removed_leaving_the_rest() -> None:
    mine = "MAILTO=ops@example.org\n0 5 * * * root /usr/local/bin/other-job\n"
    first = replace_block(mine, "homelab", "nightly", cron_block(job()))
    assert first.startswith(mine) and blocks_in(first) == {("homelab", "nightly")}
    assert replace_block(first, "homelab", "nightly", cron_block(job())) == first
    second = replace_block(first, "homelab", "weekly", cron_block(job(key="weekly", cron="@weekly")))
    changed = replace_block(second, "homelab", "nightly", cron_block(job(cron="0 1 * * *")))
    assert "0 1 * * * root" in changed and "30 3 * * 1-5" not in changed
    assert changed.index("nightly") < changed.index("weekly")  # replaced where it was
    removed = replace_block(changed, "homelab", "nightly", None)
    assert blocks_in(removed) == {("homelab", "weekly")} and removed.startswith(mine)
    assert replace_block(replace_block(removed, "homelab", "weekly", None), "x", "y",
                         None) == mine


def test_a_block_without_its_end_is_not_guessed_at() -> None:
    import pytest

    from orchestrator.errors import UsageError

    broken = "# BEGIN strongroom homelab/nightly\n0 3 * * * root x\n5 * * * * root other\n"
    with pytest.raises(UsageError, match="without its"):
        replace_block(broken, "homelab", "nightly", None)


def test_environment_keeps_dollars_but_escapes_specifiers() -> None:
    lines = systemd_service(job(environment={"STRONGROOM_STATE_DIR": "/var/lib/s$x%y"}))
    assert 'Environment="STRONGROOM_STATE_DIR=/var/lib/s$x%%y"' in lines.splitlines()


def test_a_drill_schedule_runs_the_drill_command() -> None:
    assert job_argv(["/usr/bin/strongroom"], "/etc/p.toml", "rehearsal", drill=True) == [
        "/usr/bin/strongroom", "drill", "--schedule", "rehearsal", "--profile", "/etc/p.toml"]
    assert job_argv(["/usr/bin/strongroom"], "/etc/p.toml", "nightly")[1] == "create-backup"
