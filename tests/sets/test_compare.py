"""backup-compare's pure parts: restic diff parsing and which part holds a path."""

from __future__ import annotations

from orchestrator.engines.base import Change
from orchestrator.engines.restic_args import diff_args, parse_diff
from orchestrator.sets.compare import part_of
from orchestrator.sets.manifest import ManifestPath


def test_diff_argv_and_parsing() -> None:
    assert diff_args("aaaa", "bbbb") == ["restic", "diff", "--json", "aaaa", "bbbb"]
    text = "\n".join([
        '{"message_type":"change","path":"/srv/a","modifier":"M"}',
        'not json at all',
        '{"message_type":"change","path":"/srv/d/","modifier":"+"}',
        '{"message_type":"statistics","changed_files":1}',
    ])
    assert parse_diff(text) == [Change("/srv/a", "M"), Change("/srv/d/", "+")]


def test_the_most_specific_part_holds_a_path() -> None:
    parts = [ManifestPath(source="/srv", logical="services/x/data", kind="service-data",
                          owner="x"),
             ManifestPath(source="/srv/app/conf", logical="services/x/config",
                          kind="service-config", owner="x")]
    assert part_of("/srv/app/conf/a.ini", parts) is parts[1]
    assert part_of("/srv/app/conf", parts) is parts[1]
    assert part_of("/srv/app/conffile", parts) is parts[0]
    assert part_of("/etc/x", parts) is None
