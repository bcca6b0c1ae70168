"""How a lost host had a schedule installed, read from a disaster-recovery set's inventory."""

from __future__ import annotations

from orchestrator.schedule.install import recorded_method
from orchestrator.sets.inventory import Schedules


def test_the_inventory_says_systemd_cron_none_or_cannot_say() -> None:
    units = Schedules(systemd_dir="/etc/systemd/system", systemd_units=[
        "strongroom-site-nightly.service", "strongroom-site-nightly.timer"],
        cron_file="/etc/cron.d/strongroom", cron_blocks=["site/weekly", "other/nightly"])
    assert recorded_method(units, "site", "nightly") == "systemd"
    assert recorded_method(units, "site", "weekly") == "cron"
    assert recorded_method(units, "site", "monthly") == "none"
    assert recorded_method(units, "other", "weekly") == "none"
    user = Schedules(systemd_dir="/root/.config/systemd/user", systemd_units=[],
                     cron_file=None, cron_blocks=[])
    assert recorded_method(user, "site", "nightly") is None  # a crontab it did not read
    assert recorded_method(None, "site", "nightly") is None
