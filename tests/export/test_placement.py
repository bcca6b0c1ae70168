from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.export.entries import logical_name
from orchestrator.export.from_archive import Placement, _check_member, _place
from orchestrator.export.unpack import HostileArchive, Member
from orchestrator.manifest import ManifestPath

PATHS = [ManifestPath(source="/srv/infra/terraform", logical="config/terraform", kind="config",
                      owner="terraform"),
         ManifestPath(source="/srv/data", logical="services/web/data", kind="service-data",
                      owner="web")]


def test_logical_name_takes_the_longest_prefix() -> None:
    prefixes = [("/srv/data/sub", "services/x/data"), ("/srv/data", "config/data")]
    assert logical_name("/srv/data/sub/f", prefixes) == "services/x/data/f"
    assert logical_name("/srv/data/g", prefixes) == "config/data/g"
    assert logical_name("/srv/database", prefixes) is None


def test_place_maps_logical_names_back() -> None:
    placed = _place("config/terraform/main.tf", PATHS, Path("/"))
    assert placed == Placement("config/terraform/main.tf", Path("/srv/infra/terraform/main.tf"),
                               Path("/srv/infra/terraform"))
    under = _place("services/web/data/a/b", PATHS, Path("/mnt/t"))
    assert under is not None and under.destination == Path("/mnt/t/srv/data/a/b")
    assert _place("logs/other.txt", PATHS, Path("/")) is None


@pytest.mark.parametrize("name", ["/etc/passwd", "../x", "config/terraform/../../../etc/x",
                                  "config/terraform/a/../../../x"])
def test_place_refuses_escapes(name: str) -> None:
    with pytest.raises(HostileArchive):
        _place(name, PATHS, Path("/mnt/t"))


def test_check_member_refuses_links_out_and_writes_through_links() -> None:
    links: set[Path] = set()
    root = Path("/mnt/t/srv/data")
    ok = Placement("services/web/data/l", root / "l", root)
    _check_member(Member("l", "symlink", 0o777, 0, 0, "inside/file"), ok, links)
    _check_member(Member("abs", "symlink", 0o777, 0, 0, "/etc/hosts"),
                  Placement("a", root / "abs", root), links)
    with pytest.raises(HostileArchive, match="climbing out"):
        _check_member(Member("up", "symlink", 0o777, 0, 0, "../../../../etc"),
                      Placement("u", root / "up", root), links)
    with pytest.raises(HostileArchive, match="through the symlink"):
        _check_member(Member("abs/x", "file", 0o644, 0, 1),
                      Placement("x", root / "abs" / "x", root), links)
    with pytest.raises(HostileArchive, match="hard link"):
        _check_member(Member("h", "other", 0, 0, 0), Placement("h", root / "h", root), links)
