"""The profile: one TOML file per host, as validated models.

Owns the schema (schema.py), loading with `extends` and `${ENV}` (load.py), where an
error sits in the file (locate.py), finding the profile (discovery.py), comment-keeping
edits (edit.py), the profile lock (lock.py), and the small grammars the schema checks:
cron expressions (cron.py), repository URL kinds (urls.py), time spans and sizes
(timespan.py, sizes.py).

May import hooks (each hook validates its own table), run and errors; never engines,
models or anything above.
"""
