"""Helpers for the database round trips: reach the servers, fill and fingerprint databases."""

from __future__ import annotations

import os
import subprocess
import uuid

import pytest

from integration.conftest import require_binary

PG = ["-h", "127.0.0.1", "-U", "postgres"]


def unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def psql(database: str, sql: str) -> str:
    done = subprocess.run(["psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", *PG, "-d", database,
                           "-c", sql], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise AssertionError(done.stderr)
    return done.stdout.strip()


def require_postgres() -> None:
    require_binary("psql")
    require_binary("pg_dump")
    try:
        psql("postgres", "SELECT 1")
    except AssertionError as exc:
        unavailable(f"PostgreSQL at 127.0.0.1:5432 is not reachable: {exc}")


def pg_fingerprint(database: str) -> dict[str, str]:
    """Row count and md5 of the ordered contents of every table."""
    tables = psql(database, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                            "ORDER BY 1").splitlines()
    result = {}
    for table in tables:
        result[table] = psql(database, f"SELECT count(*) || ':' || md5(coalesce(string_agg(t::text, "
                                       f"'|' ORDER BY t::text), '')) FROM {table} t")
    return result


def mariadb(sql: str, database: str | None = None) -> str:
    argv = ["mariadb", "-uroot", "-N", "-B", "-e", sql]
    if database:
        argv.append(database)
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise AssertionError(done.stderr)
    return done.stdout.strip()


def require_mariadb() -> None:
    require_binary("mariadb")
    require_binary("mariadb-dump")
    try:
        mariadb("SELECT 1")
    except AssertionError as exc:
        unavailable(f"MariaDB is not reachable as root on its socket: {exc}")


MARIADB_SCHEMA = """
CREATE TABLE customers (id INT PRIMARY KEY AUTO_INCREMENT, name VARCHAR(100), note TEXT);
CREATE TABLE orders (id INT PRIMARY KEY AUTO_INCREMENT, customer_id INT, total DECIMAL(10,2),
  FOREIGN KEY (customer_id) REFERENCES customers(id));
CREATE TABLE audit (id INT PRIMARY KEY AUTO_INCREMENT, what VARCHAR(200));
CREATE VIEW big_orders AS SELECT * FROM orders WHERE total > 50;
CREATE TRIGGER orders_audit AFTER INSERT ON orders FOR EACH ROW
  INSERT INTO audit (what) VALUES (CONCAT('order ', NEW.id));
CREATE FUNCTION doubled(x INT) RETURNS INT DETERMINISTIC RETURN x * 2;
INSERT INTO customers (name, note) VALUES ('Ada', 'first'), ('Grace', 'ünïcødé ✓'),
  ('Linus', NULL);
INSERT INTO orders (customer_id, total) VALUES (1, 10.50), (2, 99.99), (3, 51.00), (1, 7.25);
"""


def mariadb_fingerprint(database: str) -> dict[str, str]:
    tables = mariadb("SELECT table_name FROM information_schema.tables WHERE table_schema = "
                     f"'{database}' AND table_type = 'BASE TABLE' ORDER BY 1").splitlines()
    result = {}
    for table in tables:
        count = mariadb(f"SELECT COUNT(*) FROM `{table}`", database)
        checksum = mariadb(f"CHECKSUM TABLE `{table}` EXTENDED", database).split()[-1]
        result[table] = f"{count}:{checksum}"
    result["routines"] = mariadb("SELECT GROUP_CONCAT(routine_name) FROM "
                                 f"information_schema.routines WHERE routine_schema='{database}'")
    result["triggers"] = mariadb("SELECT GROUP_CONCAT(trigger_name) FROM "
                                 f"information_schema.triggers WHERE trigger_schema='{database}'")
    result["views"] = mariadb("SELECT GROUP_CONCAT(table_name) FROM information_schema.views "
                              f"WHERE table_schema='{database}'")
    return result
