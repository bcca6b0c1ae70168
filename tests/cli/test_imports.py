"""A command's start pays only for what it uses: `--help` and create-backup leave the
heavy modules other commands need (their models, the drill, mail and HTTP delivery,
rich, the MCP server) unimported. Each check runs in a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MARK = "--- modules ---"

# Imported only by the commands (or the messages) that need them.
HEAVY = (
    "rich", "mcp", "jinja2", "smtplib", "ssl", "urllib.request",
    "orchestrator.observe.notify.senders", "orchestrator.sets.drill",
    "orchestrator.sets.drill_checks", "orchestrator.models.pitr",
    "orchestrator.models.observe", "orchestrator.models.export", "orchestrator.models.keys",
    "orchestrator.models.recovery", "orchestrator.models.schedule",
    "orchestrator.models.restore", "orchestrator.models.verify", "orchestrator.access.mcp",
)


def loaded_after(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running `code`."""
    probe = f"MARK = {MARK!r}\n{code}\nimport sys\nprint(MARK, *sys.modules, sep='\\n')"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
                          timeout=120, check=True)
    return set(done.stdout.split(MARK + "\n", 1)[1].split())


def test_help_imports_no_command_module() -> None:
    loaded = loaded_after("from orchestrator.cli import main\ntry:\n    main(['--help'])\n"
                          "except SystemExit:\n    pass")
    assert "click" in loaded  # the probe ran the group
    unwanted = {*HEAVY, "pydantic", "orchestrator.models.backup",
                "orchestrator.profile.schema", "orchestrator.access.tools"}
    assert not loaded & unwanted, sorted(loaded & unwanted)


def test_create_backup_imports_only_what_a_backup_needs() -> None:
    """The modules create-backup's path imports (its face, the tool table, the operation,
    both engines, the profile loader) and the models it validates and renders."""
    loaded = loaded_after(
        "from orchestrator.cli import main, console\n"
        "from orchestrator.access.tools import TOOLS, check_access\n"
        "import orchestrator.sets.create, orchestrator.engines.borg, orchestrator.engines.restic\n"
        "import orchestrator.profile.load, orchestrator.observe.watch\n"
        "from orchestrator.models import CreateBackupRequest, CreateBackupResult\n"
        "assert TOOLS['create-backup'].request is CreateBackupRequest\n")
    assert "orchestrator.models.backup" in loaded
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_every_model_name_still_resolves() -> None:
    """The lazy table of orchestrator.models covers every name it exports."""
    loaded = loaded_after(
        "from orchestrator import models\n"
        "missing = [name for name in models.__all__ if getattr(models, name, None) is None]\n"
        "assert not missing, missing\n")
    assert "orchestrator.models.pitr" in loaded


def test_a_command_defines_only_its_own_family() -> None:
    loaded = loaded_after("from orchestrator.cli import main\ntry:\n"
                          "    main(['create-backup', '--help'])\nexcept SystemExit:\n    pass")
    families = {name for name in loaded if name.startswith("orchestrator.cli.")} - {
        "orchestrator.cli.main", "orchestrator.cli.options", "orchestrator.cli.progress",
        "orchestrator.cli.repo", "orchestrator.cli.start"}
    assert families == {"orchestrator.cli.sets"}


def test_a_valid_profile_is_read_without_tomlkit(tmp_path: Path) -> None:
    profile = tmp_path / "p.toml"
    profile.write_text('[repositories.local]\nurl = "/srv/repo"\npassword_file = "/srv/pw"\n'
                       '[config]\netc = ["/etc/hosts"]\n')
    loaded = loaded_after("from pathlib import Path\nfrom orchestrator.profile.load import "
                          f"load_profile\nload_profile(Path({str(profile)!r}))")
    assert "orchestrator.profile.schema" in loaded and "tomlkit" not in loaded
