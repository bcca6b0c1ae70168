"""Continuous backup of PostgreSQL: WAL archiving through the repository and
point-in-time recovery.

`walnames.py` knows WAL file names; `service.py` finds a service's continuous hook;
`spool.py` is the local spool `wal-push` writes durably; `archive.py` tags, lists and
reads the `continuous` family's parts (WAL batches and base backups) in a repository;
`ship.py` moves the spool into the repository in batches; `basebackup.py` streams
`pg_basebackup` in; `fetch.py` is `wal-fetch`; `setup.py` is `pitr setup` and `pitr
status`; `recovery.py` lays a base backup out and writes its recovery settings;
`pgargs.py` builds every argv.

An operation layer: may import sets (the session), profile, engines, models, hooks,
run and errors; nothing imports it but the tools registry and the CLI.
"""
