"""How recover runs its steps: the file steps in one restic restore, the dumps into
database servers beside it, the rest after both, each step with its own result."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import IO, Any, cast

import pytest

from orchestrator import models
from orchestrator.engines.base import Node
from orchestrator.errors import StrongroomError
from orchestrator.sets import recover, recover_run
from orchestrator.sets.layout import SourcePath
from orchestrator.sets.manifest import ManifestStream
from orchestrator.sets.recover_plan import PlannedStep

WAIT = 10.0  # long enough for a loaded machine; the waits end at once when all goes well


class RecordingEngine:
    def __init__(self, during_restore: Callable[[], None] = lambda: None) -> None:
        self.restores: list[tuple[str, Path, list[str]]] = []
        self.during_restore = during_restore

    def restore(self, snapshot_id: str, target: Path, *, includes: Sequence[str] = (),
                excludes: Sequence[str] = (), verify: bool = False) -> None:
        self.restores.append((snapshot_id, target, list(includes)))
        self.during_restore()


def file_step(name: str, *sources: str) -> PlannedStep:
    items = [SourcePath(source, f"services/{name}/data", "service-data", name)
             for source in sources]
    return PlannedStep(models.RecoveryStep(kind="service", part="files", name=name,
                                           targets=list(sources)), sources=items)


def stream_step(hook: str, database: str) -> PlannedStep:
    stream = ManifestStream(part=f"services/web/{database}", logical=f"services/web/{database}",
                            snapshot_id="cd" * 32, bytes=10, hook=hook, service="web",
                            database=database, format="custom")
    return PlannedStep(models.RecoveryStep(kind="database", part="databases",
                                           name=f"{hook} {database}"), stream=stream)


NODES = [
    Node("/srv/a", "dir", 0, 0o755, "2026-01-01T00:00:00Z"),
    Node("/srv/a/one", "file", 3, 0o644, "2026-01-01T00:00:00Z"),
    Node("/srv/a/two", "file", 4, 0o644, "2026-01-01T00:00:00Z"),
    Node("/srv/b", "dir", 0, 0o755, "2026-01-01T00:00:00Z"),
    Node("/srv/b/three", "file", 5, 0o644, "2026-01-01T00:00:00Z"),
    Node("/srv/c", "dir", 0, 0o755, "2026-01-01T00:00:00Z"),
    Node("/srv/c/four", "file", 6, 0o644, "2026-01-01T00:00:00Z"),
]


def plan_of(steps: list[PlannedStep]) -> Any:
    return cast(Any, SimpleNamespace(snapshot_id="ab" * 32, nodes=NODES, steps=steps,
                                     listed={"/srv/a", "/srv/b", "/srv/c"}))


def test_the_file_steps_share_one_restore_and_a_refused_target_fails_alone(
        tmp_path: Path) -> None:
    (tmp_path / "srv").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "srv" / "c").symlink_to(tmp_path / "elsewhere")  # restic would write through
    steps = [file_step("a", "/srv/a"), file_step("b", "/srv/b"), file_step("c", "/srv/c")]
    engine = RecordingEngine()
    recover._restore_file_steps(cast(Any, engine), plan_of(steps), steps, tmp_path,
                                force=False)
    assert engine.restores == [("ab" * 32, tmp_path, ["/srv/a", "/srv/b"])]
    a, b, c = (planned.step for planned in steps)
    assert (a.result, a.files, a.bytes) == ("ok", 2, 7)
    assert (b.result, b.files, b.bytes) == ("ok", 1, 5)
    assert c.result == "failed" and c.error is not None and "is a symlink" in c.error
    assert c.files == 0


def test_a_failing_restore_fails_every_file_step_it_carried(tmp_path: Path) -> None:
    def broken() -> None:
        raise StrongroomError("restic restore failed: no space left on device")

    steps = [file_step("a", "/srv/a"), file_step("b", "/srv/b")]
    recover._restore_file_steps(cast(Any, RecordingEngine(broken)), plan_of(steps), steps,
                                tmp_path, force=False)
    assert [(p.step.result, p.step.error) for p in steps] == [
        ("failed", "restic restore failed: no space left on device")] * 2


def test_server_dumps_run_beside_the_files_and_the_rest_after_both() -> None:
    """The files' restore waits until the PostgreSQL step has started: run one after the
    other, it would wait in vain and the step would fail."""
    steps = [file_step("a", "/srv/a"), stream_step("postgresql", "web"),
             stream_step("sqlite", "/srv/a/app.db"), stream_step("mysql", "shop")]
    events: list[str] = []
    server_started = threading.Event()

    def restore_files(ready: list[PlannedStep]) -> None:
        def work() -> None:
            if not server_started.wait(WAIT):
                raise StrongroomError("the database steps did not run beside the files")
            events.append("files")
        recover_run.run_steps([p.step for p in ready], work)

    def action_of(planned: PlannedStep) -> Callable[[], object]:
        def work() -> None:
            assert planned.stream is not None
            server_started.set()
            events.append(planned.stream.hook)
        return work

    recover._run_all(plan_of(steps), action_of, restore_files)
    assert all(planned.step.result == "ok" for planned in steps), [
        planned.step.error for planned in steps]
    assert events.index("sqlite") > events.index("files")  # a file target: after the files
    assert events.index("postgresql") < events.index("mysql") < events.index("sqlite")


def test_only_roots_holding_something_are_listed_for_conflicts(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    (tmp_path / "file").write_text("f")
    (tmp_path / "link").symlink_to(tmp_path / "gone")
    assert not recover_run.occupied(tmp_path / "absent")
    assert not recover_run.occupied(tmp_path / "empty")
    assert recover_run.occupied(tmp_path / "full")
    assert recover_run.occupied(tmp_path / "file")
    assert recover_run.occupied(tmp_path / "link")  # a dangling link still stands in the way


def test_restored_roots_are_counted_on_disk(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "a").write_bytes(b"123")
    (tree / "sub" / "b").write_bytes(b"4567")
    (tree / "sub" / "link").symlink_to("a")
    single = tmp_path / "single"
    single.write_bytes(b"89")
    (tmp_path / "linked").symlink_to(single)
    assert recover_run.counted_on_disk([tree, single, tmp_path / "absent",
                                        tmp_path / "linked"]) == (3, 9)


class DumpingEngine:
    """open_dump of files held in memory; counts how much of each was read."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files

    @contextmanager
    def open_dump(self, snapshot_id: str, path: str, archive: bool = False
                  ) -> Iterator[IO[bytes]]:
        yield io.BytesIO(self.files[path])


def profile_source(path: str) -> SourcePath:
    return SourcePath(path, "strongroom/profiles", "profile", "profile")


def test_profile_files_are_read_up_to_a_profile_size_and_checked_against_the_listing(
        ) -> None:
    huge = b"x" * (recover_run.MAX_PROFILE_BYTES + 1)
    engine = cast(Any, DumpingEngine({"/etc/s.toml": b"name = 's'\n", "/etc/big": huge}))
    sources = [profile_source("/etc/s.toml")]
    stored = recover_run.read_profile_files(engine, "ab", sources)
    assert stored == {"/etc/s.toml": b"name = 's'\n"}
    with pytest.raises(StrongroomError, match="more than a profile"):
        recover_run.read_profile_files(engine, "ab", [profile_source("/etc/big")])
    with pytest.raises(StrongroomError, match="not a plain absolute path"):
        recover_run.read_profile_files(engine, "ab", [profile_source("/etc/../s.toml")])
    listed = [Node("/etc/s.toml", "file", 11, 0o600, "2026-01-01T00:00:00Z")]
    recover_run.check_profile_nodes(sources, listed, stored)
    for wrong in ([], [Node("/etc/s.toml", "dir", 0, 0o755, "2026-01-01T00:00:00Z")],
                  [Node("/etc/s.toml", "file", 12, 0o600, "2026-01-01T00:00:00Z")]):
        with pytest.raises(StrongroomError, match="holds no profile file at /etc/s.toml"):
            recover_run.check_profile_nodes(sources, wrong, stored)


def test_the_vaults_are_read_after_the_main_files_and_before_the_rest() -> None:
    in_vault = stream_step("postgresql", "shop")
    in_vault.repository = "shop-vault"
    steps = [file_step("a", "/srv/a"), stream_step("postgresql", "web"), in_vault]
    events: list[str] = []

    def restore_files(ready: list[PlannedStep]) -> None:
        assert ready == steps[:1]
        events.append("files")

    def action_of(planned: PlannedStep) -> Callable[[], object]:
        assert planned.stream is not None
        return lambda: events.append(planned.stream.database if planned.stream else "")

    recover._run_all(plan_of(steps), action_of, restore_files,
                     lambda: events.append("vaults"))
    assert events.index("files") < events.index("vaults") < events.index("shop")
    assert events.index("web") < events.index("vaults")  # beside the main files


class Vaults:
    """OpenedVaults as the tests need it: one readable vault, one that is not."""

    def __init__(self, engine: RecordingEngine) -> None:
        self.readable = engine

    def problem(self, repository: str) -> str | None:
        return None if repository == "good" else (
            f"vault {repository} cannot be opened: no password; it holds services/b/data")

    def engine(self, repository: str) -> Any:
        return self.readable if repository == "good" else None

    def snapshot_id(self, repository: str) -> str:
        return "ef" * 32

    def located(self, stream: ManifestStream) -> ManifestStream:
        return stream.model_copy(update={"snapshot_id": "01" * 32})


def test_a_vault_restores_its_files_alone_and_an_unreadable_one_fails_its_steps(
        tmp_path: Path) -> None:
    good, bad, bad_dump = file_step("a", "/srv/a"), file_step("b", "/srv/b"), \
        stream_step("sqlite", "/srv/b/b.db")
    good.repository, bad.repository, bad_dump.repository = "good", "bad", "bad"
    main = file_step("c", "/srv/c")
    engine = RecordingEngine()
    engines: dict[str, Any] = {}
    recover._restore_vault_steps(cast(Any, Vaults(engine)), plan_of([main, good, bad, bad_dump]),
                                 tmp_path, False, engines)
    assert engine.restores == [("ef" * 32, tmp_path, ["/srv/a"])]
    assert engines == {"good": engine}
    assert good.step.result == "ok" and main.step.result == "planned"
    assert bad.step.result == "failed" and bad.step.error is not None
    assert "vault bad cannot be opened" in bad.step.error
    assert "services/b/data" in bad.step.error
    assert bad_dump.step.error == bad.step.error  # it fails when its turn comes


def test_a_vault_the_recovered_profile_cannot_open_is_a_problem_naming_it(
        tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from orchestrator.profile.load import load_profile
    from orchestrator.sets.manifest import Manifest, ManifestPath, ManifestVault
    from orchestrator.sets.naming import BackupSet
    from orchestrator.sets.recover_vaults import open_vaults

    path = tmp_path / "site.toml"
    path.write_text(f'name = "site"\nstate_dir = "{tmp_path}/state"\n[repositories.local]\n'
                    f'url = "{tmp_path}/repo"\npassword_file = "{tmp_path}/local.pass"\n')
    profile = load_profile(path, {})
    manifest = Manifest(
        set="site-dr-1", name="site-dr", type="disaster-recovery", profile="site", host="h",
        started=datetime.now(UTC), services=["b"], include_data=True, compress=False,
        paths=[ManifestPath(source="/srv/b", logical="services/b/data", kind="service-data",
                            owner="b", repository="b-vault")],
        vaults=[ManifestVault(repository="b-vault", url="/x", services=["b"],
                              snapshot_id="ef" * 32, files=1, bytes=1)])
    chosen = BackupSet(name="site-dr-1", base="site-dr", type="disaster-recovery",
                       profile="site", time=datetime.now(UTC))
    opened = open_vaults(profile, cast(Any, None), chosen, manifest)
    assert opened.engine("b-vault") is None
    problem = opened.problem("b-vault")
    assert problem is not None and "vault b-vault" in problem
    assert problem.endswith("it holds services/b/data"), problem
