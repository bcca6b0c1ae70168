"""The feature request's own command lines (shared REQUEST.md), typed as written, against a
test profile: the ones that can work do, the others are refused with one clear line.

Each line is held verbatim. Only `$(date +%Y%m%d)` is expanded, as a shell would (in UTC,
the day set names use). The request's dates (20241201, …) name sets that do not exist
here: each such line must say so, and the same line with today's date must work."""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from integration.conftest import Site
from integration.s3server import moto_s3

TODAY = datetime.now(UTC).strftime("%Y%m%d")

# The request writes these without the program name; they run as `strongroom LINE -p P`.
CREATE_LINES = [
    # (line, exit code, words in the output)
    ('create-backup --type=config --name="daily-config" --destination="s3://backup-bucket"',
     0, "created daily-config-"),
    ('create-backup --type=full --name="weekly-full" --include-data=true', 0, "created"),
    ('create-backup --service=nextcloud --include-data=true '
     '--name="nextcloud-$(date +%Y%m%d)"', 0, f"created nextcloud-{TODAY}-"),
    ('create-backup --type=disaster-recovery --encrypt=true --verify=true', 0, "verified"),
    ('create-backup --type=full --name="dev-to-prod" --services="all"', 0, "created"),
    ('create-backup --type="disaster-recovery" --verify=true --destination="s3"', 0,
     "verified"),
    ('create-backup --service="nextcloud" --include-data=true --name="nextcloud-migration"', 0,
     "created nextcloud-migration-"),
]

USE_LINES = [
    # (line, exit code, words; with today's date for a dated name: exit code, words)
    ('restore-backup --backup="disaster-recovery-20241201" --mode="full-rebuild"',
     1, "no complete backup matches 'disaster-recovery-20241201'",
     (3, "would overwrite")),
    ('restore-backup --backup="weekly-full-20241220" --services="nextcloud" --target="new-vm"',
     1, "no complete backup matches 'weekly-full-20241220'", (0, "restored weekly-full-")),
    ('restore-backup --backup="daily-config-20241224" --type="config-only"',
     1, "no complete backup matches 'daily-config-20241224'", (3, "would overwrite")),
    ('restore-backup --backup="continuous" --timestamp="2024-12-24T14:30:00Z"',
     2, "--service", None),
    ('verify-backup --backup="weekly-full-20241220" --deep-check=true',
     1, "no complete backup matches 'weekly-full-20241220'", (0, "passed")),
    ('restore-backup --backup="daily-config" --dry-run=true --verify=true',
     0, "would restore daily-config-", None),
    ('download-backup --backup="dev-to-prod" --format="zip" --encrypt=true',
     2, "no password: give --password-file or --password-env", None),
    ('restore-backup --backup="dev-to-prod" --provider="aws" --environment="production"',
     2, "No such option '--provider'", None),
    ('restore-backup --backup="dr-20241224" --mode="full-rebuild" --dry-run=true',
     1, "no complete backup matches 'dr-20241224'", None),
    ('restore-backup --backup="nextcloud-migration" --target="kubernetes" '
     '--namespace="production"', 2, "No such option '--namespace'", None),
]


def words_of(line: str) -> list[str]:
    return shlex.split(line.replace("$(date +%Y%m%d)", TODAY))


def with_today(line: str) -> str:
    return re.sub(r"-2024\d{4}\b", f"-{TODAY}", line)


@pytest.fixture
def request_site(make_site: Callable[..., Site], tmp_path: Path) -> Iterator[Site]:
    """The test site with the request's names: service nextcloud, the default repository
    named s3 (a local one), and an S3 repository at s3://backup-bucket (moto)."""
    site = make_site()
    text = site.profile.read_text().replace("[services.web]", "[services.nextcloud]")
    text = text.replace("[repositories.local]", "[repositories.s3]")
    with moto_s3(tmp_path) as server:
        bucket = server.repository_toml("offsite", "backup-bucket", site.password_file)
        site.profile.write_text(text + bucket.replace('"s3://backup-bucket/strongroom"',
                                                      '"s3://backup-bucket"'))
        site.run("init", "--destination", "offsite")
        yield site


def test_the_request_lines_run_as_written(request_site: Site) -> None:
    site = request_site
    for line, code, words in CREATE_LINES:
        result = site.run(*words_of(line), check=False)
        output = result.stdout + result.stderr
        assert (line, result.returncode) == (line, code), output
        assert words in output and "Traceback" not in output, (line, output)
    # A run past midnight after TODAY was read names the set with the whole date and time.
    names = [b["set"] for b in site.run("list-backups", "--json").json()["backups"]]
    assert [n for n in names if n.startswith("nextcloud-2")] == [
        n for n in names if re.fullmatch(rf"nextcloud-{TODAY}-(\d{{8}}-)?\d{{6}}", n)] != []
    # line 1 made daily-config in the bucket; the restore lines read the default repository
    site.run("create-backup", "--type=config", '--name=daily-config', "--destination=s3")

    for line, code, words, today in USE_LINES:
        result = site.run(*words_of(line), check=False)
        output = result.stdout + result.stderr
        assert (line, result.returncode) == (line, code), output
        assert words in output and "Traceback" not in output, (line, output)
        if code != 0:
            said = [text for text in result.stderr.splitlines() if text.strip()]
            assert len(said) <= 3, (line, result.stderr)
        if today is None:
            continue
        dated = with_today(line)
        result = site.run(*words_of(dated), check=False)
        output = result.stdout + result.stderr
        assert (dated, result.returncode) == (dated, today[0]), output
        assert today[1] in output, (dated, output)

    restored = site.root / "new-vm" / str(site.path("srv/data/nested/deeper/file.txt")).lstrip(
        "/")
    assert restored.read_text() == "deep\n"
    download = site.run("download-backup", '--backup=dev-to-prod', "--format=zip",
                        "--encrypt=true", "--password-env=EXPORT_PW", "-o", "dev.zip",
                        env={"EXPORT_PW": "export secret"})
    assert "(encrypted)" in download.stdout and (site.root / "dev.zip").stat().st_size > 0


def test_an_absent_path_fails_warns_or_is_skipped(make_site: Callable[..., Site]) -> None:
    site = make_site()
    base = site.profile.read_text()
    gone = site.root / "not-there"
    site.profile.write_text(base.replace(
        "[services.web]", f'[config.gone]\npaths = ["{gone}"]\n\n[services.web]'))
    failed = site.run("create-backup", check=False)
    assert failed.returncode == 1 and f"{gone} (config/gone)" in failed.stderr
    assert 'missing = "warn" or "skip"' in failed.stderr
    site.profile.write_text(base.replace(
        "[services.web]", f'[config.gone]\npaths = ["{gone}"]\nmissing = "warn"\n\n'
        "[services.web]"))
    warned = site.run("create-backup", "--name=warned")
    assert f"{gone} (config/gone) does not exist: left out of the set" in warned.stderr
    assert "created warned-" in warned.stdout
    validate = site.run("profile", "validate")
    assert f"warning: {gone} (config/gone) does not exist: a backup leaves it out" in (
        validate.stderr)
