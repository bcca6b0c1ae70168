"""Schedules: when sets are made and how long they are kept.

Owns schedule-backup (manage.py: profile edits plus installing units), systemd units
and cron blocks (units.py, install.py), the foreground scheduler (scheduler.py), the
retention policy and its application (retention.py, apply.py), and a scheduled
create-backup with its retention and sync_to follow-ups (run.py). The cron grammar
itself is profile/cron.py, since the profile validates it.

May import sets and everything below it; never access or cli.
"""
