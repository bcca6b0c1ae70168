"""key list / add / remove / rotate against real restic repositories."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from integration.conftest import Site, compare_trees

STEPS = ("add_key", "keep_previous", "install_new", "verify", "remove_old", "forget_previous")


def opens(site: Site, password: bytes) -> bool:
    """Whether plain restic opens the repository with this password."""
    env = {**os.environ, "RESTIC_REPOSITORY": str(site.repository), "RESTIC_PASSWORD":
           password.decode().strip(), "RESTIC_CACHE_DIR": str(site.root / "cache")}
    env.pop("RESTIC_PASSWORD_FILE", None)
    return subprocess.run(["restic", "cat", "config"], env=env, capture_output=True,
                          check=False).returncode == 0


def test_rotate_replaces_the_password_and_every_set_restores(
        make_site: Callable[..., Site]) -> None:
    site = make_site(large_bytes=64 << 10)
    made = [site.run("create-backup", "--type", kind, "--json").json()["set"]
            for kind in ("config", "full")]
    old = site.password_file.read_bytes()
    listed = site.run("key", "list", "--json").json()
    assert len(listed["keys"]) == 1 and listed["keys"][0]["current"]

    rotated = site.run("key", "rotate", "--json").json()
    assert rotated["removed"] == [listed["keys"][0]["id"]]
    new = site.password_file.read_bytes()
    assert new != old and not opens(site, old) and opens(site, new)
    assert site.password_file.stat().st_mode & 0o777 == 0o600
    assert not Path(f"{site.password_file}.previous").exists()
    assert [k["id"] for k in site.run("key", "list", "--json").json()["keys"]] == [
        rotated["added"]]
    for name in made:
        target = site.root / f"restored-{name}"
        site.run("restore-backup", "--backup", name, "--target", str(target), "--verify")
        host = site.root / "host"
        compare_trees(host / "etc/app", target / str(host).lstrip("/") / "etc/app",
                      skip=(".terraform",))


def test_add_and_remove_keys_and_the_bad_inputs(make_site: Callable[..., Site]) -> None:
    site = make_site(large_bytes=1024)
    second = site.root / "second.pass"
    second.write_text("a second password\n")
    added = site.run("key", "add", "--new-password-file", str(second), "--host", "laptop",
                     "--json").json()["added"]
    assert opens(site, b"a second password")
    keys = site.run("key", "list", "--json").json()["keys"]
    assert {k["id"]: k["host"] for k in keys}[added] == "laptop"
    again = site.run("key", "add", "--new-password-file", str(second), check=False)
    assert again.returncode != 0 and "already opens" in again.stderr
    current = next(k["id"] for k in keys if k["current"])
    refused = site.run("key", "remove", current, check=False)
    assert refused.returncode != 0 and "cannot be removed" in refused.stderr
    assert "Traceback" not in refused.stderr
    site.run("key", "remove", added)
    assert not opens(site, b"a second password")
    missing = site.run("key", "rotate", "--new-password-file", str(site.root / "nope"),
                       check=False)
    assert missing.returncode != 0 and "cannot read" in missing.stderr
    site.password_file.write_text("wrong\n")
    wrong = site.run("key", "rotate", check=False)
    assert wrong.returncode != 0 and "does not open" in wrong.stderr
    assert "Traceback" not in wrong.stderr


def test_rotate_killed_between_steps_opens_and_is_finished_next_time(
        make_site: Callable[..., Site], monkeypatch: pytest.MonkeyPatch) -> None:
    from orchestrator.models import KeyChangeRequest
    from orchestrator.profile.load import load_profile
    from orchestrator.sets import keys
    from orchestrator.sets.session import Session

    site = make_site(large_bytes=1024)
    monkeypatch.setenv("STRONGROOM_STATE_DIR", str(site.state))
    session = Session(load_profile(site.profile))
    previous = keys.sibling(site.password_file, ".previous")
    pending = keys.sibling(site.password_file, ".new")

    def killed(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    for step in STEPS:
        old = site.password_file.read_bytes()
        with monkeypatch.context() as patch:
            patch.setattr(keys, step, killed)
            with pytest.raises(KeyboardInterrupt):
                keys.key_rotate(session, KeyChangeRequest())
        new = (pending if pending.exists() else site.password_file).read_bytes()
        assert opens(site, new) or opens(site, old), step
        finished = keys.key_rotate(session, KeyChangeRequest())
        assert finished.resumed and not finished.pending, step
        assert not previous.exists() and not pending.exists(), step
        assert [key.id for key in keys.key_list(session, None).keys] == [finished.added], step


def test_rotate_with_password_env_waits_for_the_new_password(
        make_site: Callable[..., Site]) -> None:
    site = make_site(large_bytes=1024)
    old = site.password_file.read_text().strip()
    site.profile.write_text(site.profile.read_text().replace(
        f'password_file = "{site.password_file}"', 'password_env = "SITE_PASSWORD"'))
    env = {"SITE_PASSWORD": old}
    refused = site.run("key", "rotate", check=False, env=env)
    assert refused.returncode != 0 and "--new-password-file" in refused.stderr
    new_file = site.root / "new.pass"
    new_file.write_text("the new one\n")
    first = site.run("key", "rotate", "--new-password-file", str(new_file), "--json",
                     env=env).json()
    assert first["pending"] and "SITE_PASSWORD" in first["notes"][0]
    assert opens(site, old.encode()) and opens(site, b"the new one")
    still = site.run("key", "rotate", "--json", env=env).json()
    assert still["pending"] and opens(site, old.encode())
    done = site.run("key", "rotate", "--json", env={"SITE_PASSWORD": "the new one"}).json()
    assert not done["pending"] and len(done["removed"]) == 1
    assert not opens(site, old.encode()) and opens(site, b"the new one")
