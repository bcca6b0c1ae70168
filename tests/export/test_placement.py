from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.export.entries import logical_name
from orchestrator.export.placement import Part, Placement, check_member, place
from orchestrator.export.safe_tree import UnsafePath, components
from orchestrator.export.unpack import HostileArchive, Member

IN_PLACE = [Part("config/terraform", "/srv/infra/terraform", Path("/srv/infra"), "terraform"),
            Part("services/web/data", "/srv/data", Path("/srv"), "data")]
UNDER = [Part("services/web/data", "/srv/data", Path("/mnt/t"), "srv/data")]


def member(name: str, kind: str = "file", link: str = "", size: int = 1) -> Member:
    return Member(name, kind, 0o644, 0, size, link)


def test_logical_name_takes_the_longest_prefix() -> None:
    prefixes = [("/srv/data/sub", "services/x/data"), ("/srv/data", "config/data")]
    assert logical_name("/srv/data/sub/f", prefixes) == "services/x/data/f"
    assert logical_name("/srv/data/g", prefixes) == "config/data/g"
    assert logical_name("/srv/database", prefixes) is None


def test_place_maps_logical_names_back() -> None:
    name = "config/terraform/main.tf"
    placed = place(member(name), name, IN_PLACE)
    assert placed == Placement(name, IN_PLACE[0], "terraform/main.tf", "file", 1)
    assert placed.destination == Path("/srv/infra/terraform/main.tf")
    under = place(member("services/web/data/a/b"), "services/web/data/a/b", UNDER)
    assert under is not None and under.destination == Path("/mnt/t/srv/data/a/b")
    assert place(member("logs/other.txt"), "logs/other.txt", IN_PLACE) is None


@pytest.mark.parametrize("name", ["/etc/passwd", "../x", "config/terraform/../../../etc/x",
                                  "config/terraform/a/../../../x", "a/\x00/b", ""])
def test_names_that_escape_are_refused(name: str) -> None:
    with pytest.raises(UnsafePath):
        components(name)


def test_check_member_refuses_links_out_writes_through_links_and_twins() -> None:
    seen: set[tuple[Path, str]] = set()
    links: set[tuple[Path, str]] = set()
    part = UNDER[0]

    def place(name: str, kind: str = "file", size: int = 1) -> Placement:
        return Placement(name, part, f"srv/data/{name}", kind, size)

    check_member(member("l", "symlink", "inside/file"), place("l", "symlink"), seen, links)
    check_member(member("abs", "symlink", "/etc/hosts"), place("abs", "symlink"), seen, links)
    with pytest.raises(HostileArchive, match="climbing out"):
        check_member(member("up", "symlink", "../../../../etc"), place("up", "symlink"),
                      seen, links)
    with pytest.raises(HostileArchive, match="through the symlink"):
        check_member(member("abs/x"), place("abs/x"), seen, links)
    with pytest.raises(HostileArchive, match="hard link"):
        check_member(member("h", "other"), place("h", "other"), seen, links)
    with pytest.raises(HostileArchive, match="appears twice"):
        check_member(member("l"), place("l"), seen, links)
