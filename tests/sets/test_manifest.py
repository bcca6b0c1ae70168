"""The set manifest: serialisation round trip and finding it in a final snapshot."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from orchestrator.engines.base import Snapshot
from orchestrator.errors import StrongroomError
from orchestrator.sets.layout import SourcePath
from orchestrator.sets.manifest import (
    MANIFEST_FILE,
    Manifest,
    ManifestStream,
    manifest_dir_in,
    paths_from,
    read_manifest,
)

SOURCES = [
    SourcePath("/srv/infra/terraform", "config/terraform", "config", "terraform",
               ("/srv/infra/terraform/**/.terraform",)),
    SourcePath("/var/www/nextcloud/config", "services/nextcloud/config", "service-config",
               "nextcloud"),
    SourcePath("/srv/nextcloud/data", "services/nextcloud/data", "service-data", "nextcloud",
               ("/srv/nextcloud/data/**/*.log", "/srv/nextcloud/data/cache")),
    SourcePath("/etc/strongroom/site.toml", "strongroom/profiles", "profile", "profile"),
]


def manifest() -> Manifest:
    return Manifest(
        set="weekly-full-20241220-143022",
        name="weekly-full",
        type="full",
        profile="site",
        host="web1",
        started=datetime(2024, 12, 20, 15, 30, 22, 123456, tzinfo=timezone(timedelta(hours=1))),
        services=["nextcloud"],
        include_data=True,
        compress=False,
        paths=paths_from(SOURCES),
        streams=[ManifestStream(part="services/nextcloud/database.sql",
                                logical="services/nextcloud/database.sql",
                                snapshot_id="5c8e0d9a" * 8, bytes=123456,
                                digest="xxh3-128:" + "ab" * 16, hook="postgresql",
                                service="nextcloud", database="nextcloud", format="plain")],
        tools={"restic": "0.14.0", "pg_dump": "15.5"},
    )


def test_manifest_round_trip() -> None:
    original = manifest()
    data = original.to_bytes()
    assert data.endswith(b"\n")
    restored = Manifest.model_validate(json.loads(data))
    assert restored == original
    assert restored.started == original.started
    assert restored.started.utcoffset() == timedelta(hours=1)
    assert restored.sources() == SOURCES
    assert restored.to_bytes() == data


def test_manifest_json_shape() -> None:
    doc = json.loads(manifest().to_bytes())
    assert doc["format"] == 1
    assert doc["paths"][0] == {
        "source": "/srv/infra/terraform", "logical": "config/terraform", "kind": "config",
        "owner": "terraform", "excludes": ["/srv/infra/terraform/**/.terraform"],
    }
    assert doc["streams"][0]["bytes"] == 123456


@pytest.mark.parametrize(
    "change",
    [
        {"surprise": 1},
        {"format": 2},
        {"paths": [{"source": "/x", "logical": "x", "kind": "nonsense", "owner": "x"}]},
    ],
)
def test_manifest_rejects_unknown_content(change: dict[str, Any]) -> None:
    doc = json.loads(manifest().to_bytes())
    doc.update(change)
    with pytest.raises(ValidationError):
        Manifest.model_validate(doc)


def final(paths: tuple[str, ...]) -> Snapshot:
    return Snapshot("231f18d8" + "0" * 56, "231f18d8",
                    datetime(2024, 12, 20, 14, 30, 22, tzinfo=UTC), "web1", paths,
                    ("strongroom", "part=files"))


def test_manifest_dir_in_finds_the_staged_folder() -> None:
    snap = final(("/etc/nginx", "/var/lib/strongroom/sets/weekly-full/", "/srv/data"))
    assert manifest_dir_in(snap, "weekly-full") == "/var/lib/strongroom/sets/weekly-full"


def test_manifest_dir_in_needs_the_exact_base() -> None:
    snap = final(("/var/lib/strongroom/sets/weekly-full",
                  "/home/u/.local/state/strongroom/sets/weekly"))
    assert manifest_dir_in(snap, "weekly") == "/home/u/.local/state/strongroom/sets/weekly"
    with pytest.raises(StrongroomError, match="231f18d8"):
        manifest_dir_in(final(("/var/lib/strongroom/sets/weekly-full",)), "weekly")
    with pytest.raises(StrongroomError, match="no strongroom manifest"):
        manifest_dir_in(final(("/etc",)), "weekly")


class FakeEngine:
    repository_name = "local"

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.calls: list[tuple[str, str]] = []

    def dump(self, snapshot_id: str, path: str) -> bytes:
        self.calls.append((snapshot_id, path))
        return self.data


def test_read_manifest_dumps_from_the_staged_folder() -> None:
    snap = final(("/etc", "/var/lib/strongroom/sets/weekly-full"))
    engine = FakeEngine(manifest().to_bytes())
    assert read_manifest(engine, snap, "weekly-full") == manifest()  # type: ignore[arg-type]
    assert engine.calls == [(snap.id, f"/var/lib/strongroom/sets/weekly-full/{MANIFEST_FILE}")]


@pytest.mark.parametrize("data", [b"not json", b'{"format": 1}', b"[]"])
def test_read_manifest_reports_unreadable_manifest(data: bytes) -> None:
    snap = final(("/var/lib/strongroom/sets/weekly-full",))
    with pytest.raises(StrongroomError, match="cannot be read"):
        read_manifest(FakeEngine(data), snap, "weekly-full")  # type: ignore[arg-type]


def test_a_staged_copy_is_read_only_when_the_final_snapshot_records_its_digest(
    tmp_path: Path,
) -> None:
    from dataclasses import replace

    from orchestrator.sets.naming import manifest_tag

    data = manifest().to_bytes()
    staged = tmp_path / MANIFEST_FILE
    staged.write_bytes(data)
    untagged = final(("/var/lib/strongroom/sets/weekly-full",))
    tagged = replace(untagged, tags=(*untagged.tags, manifest_tag(data)))
    engine = FakeEngine(data)
    assert read_manifest(engine, tagged, "weekly-full", staged) == manifest()  # type: ignore[arg-type]
    assert engine.calls == []  # proven the same: no restic process
    for snap, path in ((untagged, staged), (tagged, tmp_path / "absent")):
        assert read_manifest(engine, snap, "weekly-full", path) == manifest()  # type: ignore[arg-type]
    staged.write_bytes(data.replace(b"web1", b"web2"))  # another set's copy: not trusted
    assert read_manifest(engine, tagged, "weekly-full", staged) == manifest()  # type: ignore[arg-type]
    assert len(engine.calls) == 3


def test_a_spanning_manifest_names_each_parts_repository_and_narrows_to_one() -> None:
    from orchestrator.sets.manifest import ManifestVault

    plain = manifest()
    assert b'"repository"' not in plain.to_bytes() and b'"vaults"' not in plain.to_bytes()
    vault_paths = paths_from(SOURCES[1:3], "nc-vault")
    spanning = plain.model_copy(update={
        "paths": paths_from([SOURCES[0], SOURCES[3]]) + vault_paths,
        "streams": [plain.streams[0].model_copy(update={"repository": "nc-vault"})],
        "vaults": [ManifestVault(repository="nc-vault", url="/v", services=["nextcloud"],
                                 snapshot_id="9" * 64, files=3, bytes=300)]})
    data = json.loads(spanning.to_bytes())
    assert [p.get("repository") for p in data["paths"]] == [None, None, "nc-vault", "nc-vault"]
    assert data["streams"][0]["repository"] == "nc-vault"
    assert Manifest.model_validate(data) == spanning
    assert [p.logical for p in spanning.in_vault(None).paths] == ["config/terraform",
                                                                  "strongroom/profiles"]
    assert spanning.in_vault(None).streams == []
    assert [p.logical for p in spanning.in_vault("nc-vault").paths] == [
        "services/nextcloud/config", "services/nextcloud/data"]
