# The README's two commands: `make demo` and `make test`. Both bootstrap a fresh machine.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
BASE_STAMP := $(VENV)/.installed-base
# What the demo runs, and nothing more: a local restic repository and a SQLite database.
DEMO_PACKAGES := restic:restic sqlite3:sqlite3
# Programs the suite runs for real, as PROGRAM:DEBIAN-PACKAGE.
APT_PACKAGES := restic:restic borg:borgbackup sqlite3:sqlite3 pg_dump:postgresql-client pgbench:postgresql-client mariadb-dump:mariadb-client 7z:p7zip-full pigz:pigz qemu-img:qemu-utils qemu-nbd:qemu-utils nbdcopy:libnbd-bin podman:podman runc:runc systemd-analyze:systemd sshd:openssh-server rclone:rclone npm:npm chromium:chromium

.PHONY: demo demo-deps test unit integration lint bootstrap system-deps clean bench

AZURITE := .tools/node_modules/.bin/azurite-blob

bootstrap: system-deps $(STAMP) $(AZURITE)

# The Azure emulator for the Azure repository tests (npm; the machine's node).
$(AZURITE):
	npm install --prefix .tools --no-audit --no-fund --silent azurite@3

system-deps:
	@bash scripts/system-deps.sh $(APT_PACKAGES)

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $(STAMP) $(BASE_STAMP)

# The package alone, without the test tools (the suite's $(STAMP) also satisfies it).
$(BASE_STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e .
	touch $(BASE_STAMP)

demo-deps:
	@bash scripts/system-deps.sh $(DEMO_PACKAGES)

# Only what the demo needs: restic, sqlite3 and the package (no podman, sshd, azurite, …).
demo: demo-deps $(BASE_STAMP)
	@bash scripts/demo.sh

lint: $(STAMP)
	$(VENV)/bin/ruff check orchestrator hooks tests integration bench
	$(VENV)/bin/mypy

unit: $(STAMP)
	$(VENV)/bin/pytest -q tests

integration: bootstrap
	$(VENV)/bin/pytest -q integration

test: bootstrap lint
	$(VENV)/bin/pytest -q tests integration

bench: bootstrap
	$(PY) bench/overhead.py

clean:
	rm -rf .demo .pytest_cache .mypy_cache .ruff_cache .tools
