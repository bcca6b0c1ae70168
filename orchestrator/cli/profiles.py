"""What `strongroom profile validate` and `profile show` print."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from orchestrator.cli.console import setup_logging


def validate_profiles(files: list[str], profile_ref: str | None, as_json: bool,
                      verbose: int) -> None:
    from pathlib import Path

    from orchestrator.errors import ProfileError
    from orchestrator.profile.load import find_profile, load_profile_with_warnings
    from orchestrator.sets.layout import missing_paths

    setup_logging(verbose)
    paths = [Path(f) for f in files] or [find_profile(profile_ref)]
    report: list[dict[str, Any]] = []
    failed = False
    for path in paths:
        try:
            loaded, warnings = load_profile_with_warnings(path)
            warnings = [*warnings, *missing_paths(loaded)]
            report.append({"file": str(path), "valid": True, "warnings": warnings, "errors": []})
        except ProfileError as exc:
            failed = True
            report.append({"file": str(path), "valid": False, "warnings": [],
                           "errors": [issue.render() for issue in exc.issues]})
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        for entry in report:
            for warning in entry["warnings"]:
                click.echo(f"warning: {warning}", err=True)
            if entry["valid"]:
                click.echo(f"{entry['file']}: ok")
            else:
                for line in entry["errors"]:
                    click.echo(line, err=True)
    if failed:
        sys.exit(2)


def show_profile(profile_ref: str | None, as_json: bool, verbose: int) -> None:
    from orchestrator.profile.load import find_profile, load_profile, redacted_profile

    setup_logging(verbose)
    data = redacted_profile(load_profile(find_profile(profile_ref)))
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    import tomlkit

    click.echo(tomlkit.dumps(_drop_none(data)))


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value
