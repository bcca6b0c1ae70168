"""Watching the backups: status (OK / WARN / FAIL per schedule and repository), Prometheus
metrics (a textfile for node_exporter, or served over HTTP) and notifications.

`watch.py` is what the tools registry wraps every run in: it records the outcome,
rewrites the metrics textfile and tells the profile's `[[notify]]` receivers, and
none of it can fail or hold up the run. `records.py` keeps what it learns in the
state directory; `status.py`, `metrics.py` and `report.py` (with `report_html.py`)
read it back with the run records of sets/state.py and the repositories themselves.

An operations package: may import schedule (never the other way), sets, profile,
engines, models, run and errors.
"""
