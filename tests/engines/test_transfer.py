"""The engines' side of copies between repositories: a dump as a Command with the
repository's own environment and password pipe, and the `root=` prefix restic's staged
trees carry."""

from __future__ import annotations

import os
from pathlib import Path

from orchestrator import run
from orchestrator.engines.borg import BorgEngine
from orchestrator.engines.restic import ResticEngine
from orchestrator.engines.restic_args import root_tag, unrooted
from orchestrator.profile.schema import Repository


def test_unrooted_takes_off_the_staging_prefix_only() -> None:
    tags = ["strongroom", root_tag(Path("/var/lib/sr/migrate/set-x"))]
    paths = ["/var/lib/sr/migrate/set-x/srv/data", "/var/lib/sr/migrate/set-x",
             "/var/lib/sr/migrate/set-xy/srv", "/elsewhere"]
    assert unrooted(paths, tags) == ("/srv/data", "/", "/var/lib/sr/migrate/set-xy/srv",
                                     "/elsewhere")
    assert unrooted(paths, ["strongroom"]) == tuple(paths)


def test_restic_dump_command_reads_the_password_file_or_a_pipe(tmp_path: Path) -> None:
    password = tmp_path / "pass"
    password.write_text("pw\n")
    with_file = ResticEngine("a", Repository(url=str(tmp_path / "a"), password_file=password,
                                             env={"AWS_ACCESS_KEY_ID": "key-a"}), tmp_path)
    command = with_file.dump_command("abc123", "/db.dump")
    assert command.argv[1:] == ("dump", "abc123", "/db.dump") and command.secret is None
    assert command.env["RESTIC_PASSWORD_FILE"] == str(password)
    assert command.env["AWS_ACCESS_KEY_ID"] == "key-a"

    inline = ResticEngine("b", Repository(url=str(tmp_path / "b"), password_env="PW_OF_B",
                                          env={"AWS_ACCESS_KEY_ID": "key-b"}), tmp_path)
    os.environ["PW_OF_B"] = "secret-b"
    try:
        command = inline.dump_command("def456", "/", archive=True)
    finally:
        del os.environ["PW_OF_B"]
    assert command.argv[1:5] == ("dump", "--archive", "tar", "def456")
    assert command.secret == b"secret-b" and "secret-b" not in " ".join(command.argv)
    assert command.env["AWS_ACCESS_KEY_ID"] == "key-b"
    with run.prepared(command) as (_argv, env, fds):
        assert env["RESTIC_PASSWORD_FILE"] == f"/dev/fd/{fds[0]}"
        assert os.read(fds[0], 100) == b"secret-b"


def test_borg_dump_command_hands_the_passphrase_through_its_own_pipe(tmp_path: Path) -> None:
    password = tmp_path / "pass"
    password.write_text("borg-pw\n")
    engine = BorgEngine("v", Repository(engine="borg", url=str(tmp_path / "v"),
                                        password_file=password), tmp_path)
    engine._names = {"0123abcd" * 8: "full-20240101-000000.files"}
    command = engine.dump_command("0123abcd", "/", archive=True)
    assert command.argv[1:] == ("export-tar", "--log-json", "--",
                                "::full-20240101-000000.files", "-")
    stream = engine.dump_command("0123abcd", "/pg/db.dump")
    assert stream.argv[-1] == "pg/db.dump" and "--stdout" in stream.argv
    assert command.secret == b"borg-pw" and command.env["BORG_REPO"] == str(tmp_path / "v")
    with run.prepared(command) as (_argv, env, fds):
        assert env["BORG_PASSPHRASE_FD"] == str(fds[0])


def test_copy_clash_names_the_variables_one_restic_run_cannot_hold(tmp_path: Path) -> None:
    def engine(name: str, key: str, region: str = "x") -> ResticEngine:
        return ResticEngine(name, Repository(url=str(tmp_path / name), password="p", env={
            "AWS_ACCESS_KEY_ID": key, "AWS_DEFAULT_REGION": region}), tmp_path)

    assert engine("a", "k1").copy_clash(engine("b", "k1")) == []
    assert engine("a", "k1").copy_clash(engine("b", "k2", "y")) == ["AWS_ACCESS_KEY_ID",
                                                                    "AWS_DEFAULT_REGION"]
    borg = BorgEngine("v", Repository(engine="borg", url=str(tmp_path / "v"), password="p"),
                      tmp_path)
    assert engine("a", "k1").copy_clash(borg) == ["another engine"]
    assert borg.copy_clash(engine("a", "k1")) == ["another engine"] and borg.copy_clash(borg) == []
