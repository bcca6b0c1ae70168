"""The program's start: pydantic's plugin lookup is skipped, with the answer pydantic
itself gives when plugins are off. Each check runs in a fresh interpreter."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_fresh(code: str, **environ: str) -> str:
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", **environ}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


VALIDATE = (
    "import sys\n"
    "from orchestrator.cli.start import without_pydantic_plugins\n"
    "without_pydantic_plugins()\n"
    "from pydantic import BaseModel\n"
    "class M(BaseModel):\n"
    "    n: int\n"
    "assert M.model_validate({'n': '3'}).n == 3\n"
    "import os\n"
    "print(os.environ['PYDANTIC_DISABLE_PLUGINS'], 'importlib.metadata' in sys.modules)\n"
)


def test_plugins_off_validates_without_reading_package_metadata() -> None:
    assert run_fresh(VALIDATE).split() == ["__all__", "False"]


def test_a_plugin_setting_of_the_users_keeps_the_real_lookup() -> None:
    assert run_fresh(VALIDATE, PYDANTIC_DISABLE_PLUGINS="some-plugin").split() == [
        "some-plugin", "True"]


def test_any_other_name_of_the_loader_is_the_real_one() -> None:
    out = run_fresh(
        "import sys\n"
        "from orchestrator.cli.start import without_pydantic_plugins, PLUGIN_LOADER\n"
        "without_pydantic_plugins()\n"
        "from pydantic.plugin._loader import get_plugins\n"
        "assert tuple(get_plugins()) == ()\n"
        "from pydantic.plugin import _loader\n"
        "print(_loader.PYDANTIC_ENTRY_POINT_GROUP, type(sys.modules[PLUGIN_LOADER]).__name__)\n")
    assert out.split() == ["pydantic", "module"]


def test_the_program_runs_with_plugins_off(tmp_path: Path) -> None:
    out = run_fresh("import sys\nfrom orchestrator.cli import run\n"
                    "sys.argv = ['strongroom', '--version']\n"
                    "try:\n    run()\nexcept SystemExit:\n    pass\n",
                    HOME=str(tmp_path), **{k: v for k, v in os.environ.items()
                                           if k == "PYTHONPYCACHEPREFIX"})
    assert out.startswith("strongroom, version")


def test_the_program_collects_cycles_less_often_but_still_collects() -> None:
    out = run_fresh("import gc, sys\nfrom orchestrator.cli import run\n"
                    "sys.argv = ['strongroom', '--help']\n"
                    "try:\n    run()\nexcept SystemExit:\n    pass\n"
                    "print('threshold', *gc.get_threshold(), gc.isenabled())\n")
    words = out.splitlines()[-1].split()
    assert words[:2] == ["threshold", "50000"] and words[-1] == "True"


def test_the_values_that_turn_plugins_off_are_pydantics_own() -> None:
    """Under each value the stand-in answers for, pydantic's real loader finds none."""
    from orchestrator.cli.start import NO_PLUGINS

    for value in NO_PLUGINS:
        out = run_fresh("from pydantic.plugin._loader import get_plugins\n"
                        "print(len(list(get_plugins())))\n",
                        PYDANTIC_DISABLE_PLUGINS=value)
        assert out.split() == ["0"], value
