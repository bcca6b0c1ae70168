"""Schedules: units, install, the scheduler, retention."""
