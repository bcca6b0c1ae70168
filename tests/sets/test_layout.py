"""Which sources a set holds and where each sits in the logical layout."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.errors import NotFoundError, UsageError
from orchestrator.profile.schema import Profile
from orchestrator.sets.layout import (
    SourcePath,
    anchored_excludes,
    check_sources_exist,
    logical_paths,
    plan_sources,
    select_for_restore,
)


@pytest.fixture
def profile() -> Profile:
    return Profile.model_validate({
        "repositories": {"local": {"url": "/r", "password_file": "/p"}},
        "config": {
            "mcp-server": ["/etc/mcp-server"],
            "terraform": {"paths": ["/srv/infra/terraform"], "exclude": ["**/.terraform"]},
        },
        "services": {
            "nextcloud": {
                "config": ["/var/www/nextcloud/config"],
                "data": ["/srv/nextcloud/data", "/srv/nextcloud/apps"],
                "exclude": ["*.log"],
            },
            "gitea": {"config": ["/etc/gitea"], "data": ["/var/lib/gitea"]},
        },
        "infrastructure": {"network": ["/etc/netplan", "/etc/nftables.conf"]},
        "source_files": ["/etc/strongroom/site.toml", "/etc/strongroom/base.toml"],
    })


def logical(sources: list[SourcePath]) -> list[str]:
    return [item.logical for item in sources]


# --- logical_paths ---------------------------------------------------------------------


def test_one_path_sits_at_the_prefix() -> None:
    assert logical_paths("config/certificates", [Path("/etc/letsencrypt")]) == [
        "config/certificates"]


def test_several_paths_sit_under_their_base_names() -> None:
    paths = [Path("/etc/nginx"), Path("/srv/nginx"), Path("/etc/ssl"), Path("/opt/nginx"),
             Path("/")]
    assert logical_paths("config/web", paths) == [
        "config/web/nginx", "config/web/nginx-2", "config/web/ssl", "config/web/nginx-3",
        "config/web/root",
    ]


def test_generated_names_do_not_collide_with_real_ones() -> None:
    paths = [Path("/a/x"), Path("/b/x"), Path("/c/x-2")]
    result = logical_paths("p", paths)
    assert len(set(result)) == 3
    assert result[:2] == ["p/x", "p/x-2"]


@given(st.lists(st.sampled_from(["x", "x-2", "x-3", "y", "x-2-2"]), min_size=2, max_size=8))
def test_logical_paths_are_unique(names: list[str]) -> None:
    paths = [Path(f"/d{index}/{name}") for index, name in enumerate(names)]
    result = logical_paths("pre", paths)
    assert len(result) == len(paths)
    assert len(set(result)) == len(result)
    assert all(item.startswith("pre/") for item in result)


# --- anchored_excludes -----------------------------------------------------------------


def test_anchored_excludes() -> None:
    assert anchored_excludes(
        "/srv/infra/terraform/",
        ["**/.terraform", "*.tmp", "sub/dir", "./cache", "/var/tmp/abs"],
    ) == (
        "/srv/infra/terraform/**/.terraform",
        "/srv/infra/terraform/**/*.tmp",
        "/srv/infra/terraform/sub/dir",
        "/srv/infra/terraform/cache",
        "/var/tmp/abs",
    )


def test_anchored_excludes_escape_the_source_path() -> None:
    assert anchored_excludes("/srv/a[1]*", ["*.tmp"]) == ("/srv/a\\[1\\]\\*/**/*.tmp",)


def test_anchored_excludes_none() -> None:
    assert anchored_excludes("/srv", []) == ()


# --- plan_sources ----------------------------------------------------------------------


def test_plan_config_excludes_service_data(profile: Profile) -> None:
    sources = plan_sources(profile, "config")
    assert logical(sources) == [
        "config/mcp-server",
        "config/terraform",
        "services/nextcloud/config",
        "services/gitea/config",
        "infrastructure/network-configs/netplan",
        "infrastructure/network-configs/nftables.conf",
    ]
    assert all(item.kind != "service-data" for item in sources)
    by_logical = {item.logical: item for item in sources}
    terraform = by_logical["config/terraform"]
    assert terraform.source == "/srv/infra/terraform"
    assert terraform.kind == "config" and terraform.owner == "terraform"
    assert terraform.excludes == ("/srv/infra/terraform/**/.terraform",)
    assert terraform.service is None
    nextcloud = by_logical["services/nextcloud/config"]
    assert nextcloud.kind == "service-config"
    assert nextcloud.service == "nextcloud"
    assert nextcloud.excludes == ("/var/www/nextcloud/config/**/*.log",)
    assert by_logical["infrastructure/network-configs/netplan"].kind == "network"


def test_plan_full_includes_data(profile: Profile) -> None:
    sources = plan_sources(profile, "full")
    assert logical(sources) == [
        "config/mcp-server",
        "config/terraform",
        "services/nextcloud/config",
        "services/nextcloud/data/data",
        "services/nextcloud/data/apps",
        "services/gitea/config",
        "services/gitea/data",
        "infrastructure/network-configs/netplan",
        "infrastructure/network-configs/nftables.conf",
    ]
    data = [item for item in sources if item.kind == "service-data"]
    assert {item.source for item in data} == {
        "/srv/nextcloud/data", "/srv/nextcloud/apps", "/var/lib/gitea"}
    assert data[0].excludes == ("/srv/nextcloud/data/**/*.log",)
    assert all(item.kind != "profile" for item in sources)


def test_plan_full_limited_to_services(profile: Profile) -> None:
    sources = plan_sources(profile, "full", services=["gitea"])
    assert "services/nextcloud/config" not in logical(sources)
    assert "services/gitea/data" in logical(sources)
    assert "config/mcp-server" in logical(sources)


def test_plan_service_requires_services(profile: Profile) -> None:
    with pytest.raises(UsageError, match="--services"):
        plan_sources(profile, "service")


def test_plan_service_holds_only_that_service(profile: Profile) -> None:
    assert logical(plan_sources(profile, "service", services=["gitea"])) == [
        "services/gitea/config"]
    assert logical(plan_sources(profile, "service", services=["gitea"], include_data=True)) == [
        "services/gitea/config", "services/gitea/data"]


def test_plan_disaster_recovery_includes_profile_files(profile: Profile) -> None:
    sources = plan_sources(profile, "disaster-recovery")
    assert logical(sources)[-2:] == ["strongroom/profiles/site.toml",
                                     "strongroom/profiles/base.toml"]
    profile_parts = [item for item in sources if item.kind == "profile"]
    assert [item.source for item in profile_parts] == [
        "/etc/strongroom/site.toml", "/etc/strongroom/base.toml"]
    assert any(item.kind == "service-data" for item in sources)


def test_plan_unknown_service(profile: Profile) -> None:
    with pytest.raises(UsageError) as info:
        plan_sources(profile, "full", services=["gitea", "wordpress"])
    assert "wordpress" in str(info.value)
    assert "nextcloud" in str(info.value)  # it names what the profile has


def test_plan_config_with_include_data_is_refused(profile: Profile) -> None:
    with pytest.raises(UsageError, match="include-data"):
        plan_sources(profile, "config", include_data=True)


def test_plan_lists_a_shared_path_once(profile: Profile) -> None:
    shared = profile.model_copy(deep=True)
    shared.services["gitea"].config.append(Path("/etc/mcp-server"))
    sources = plan_sources(shared, "config")
    assert [item.source for item in sources].count("/etc/mcp-server") == 1
    # the first claim wins
    assert next(i for i in sources if i.source == "/etc/mcp-server").logical == (
        "config/mcp-server")


# --- check_sources_exist ---------------------------------------------------------------


def test_check_sources_exist_lists_every_missing_path(tmp_path: Path) -> None:
    present = tmp_path / "present"
    present.mkdir()
    sources = [
        SourcePath(str(present), "config/a", "config", "a"),
        SourcePath(str(tmp_path / "gone-1"), "config/b", "config", "b"),
        SourcePath(str(tmp_path / "gone-2"), "services/x/data", "service-data", "x"),
    ]
    with pytest.raises(NotFoundError) as info:
        check_sources_exist(sources)
    text = str(info.value)
    assert "2 source path(s)" in text
    assert str(tmp_path / "gone-1") in text and "config/b" in text
    assert str(tmp_path / "gone-2") in text and "services/x/data" in text
    assert f"{present} " not in text
    assert check_sources_exist(sources[:1]) == sources[:1]  # nothing missing: no error


def test_missing_warn_and_skip_leave_the_path_out(tmp_path: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    present = tmp_path / "present"
    present.mkdir()
    sources = [
        SourcePath(str(present), "config/a", "config", "a"),
        SourcePath(str(tmp_path / "gone-1"), "config/b", "config", "b", missing="warn"),
        SourcePath(str(tmp_path / "gone-2"), "services/x/data", "service-data", "x",
                   missing="skip"),
    ]
    with caplog.at_level("INFO", logger="strongroom"):
        assert check_sources_exist(sources) == sources[:1]
    warned = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warned) == 1 and "gone-1 (config/b) does not exist" in warned[0].getMessage()
    failing = [*sources, SourcePath(str(tmp_path / "gone-3"), "config/c", "config", "c")]
    with pytest.raises(NotFoundError) as info:
        check_sources_exist(failing)
    assert "1 source path(s)" in str(info.value) and "gone-1" not in str(info.value)
    assert 'missing = "warn"' in info.value.render()


def test_the_profile_policy_reaches_the_sources(tmp_path: Path) -> None:
    from orchestrator.profile.schema import Profile
    from orchestrator.sets.layout import missing_paths

    profile = Profile.model_validate({
        "repositories": {"local": {"url": "/srv/repo", "password_env": "PW"}},
        "config": {"etc": {"paths": [str(tmp_path / "etc")], "missing": "warn"},
                   "opt": {"paths": [str(tmp_path / "opt")], "missing": "skip"}},
        "services": {"web": {"config": [str(tmp_path / "web")]}},
    })
    policies = {item.logical: item.missing for item in plan_sources(profile, "full")}
    assert policies == {"config/etc": "warn", "config/opt": "skip",
                        "services/web/config": "fail"}
    warnings = missing_paths(profile)
    assert len(warnings) == 2
    assert any("etc (config/etc) does not exist: a backup leaves it out" in w for w in warnings)
    assert any("web (services/web/config) does not exist: a backup fails" in w
               for w in warnings)


# --- select_for_restore ----------------------------------------------------------------


def test_restore_full_takes_everything(profile: Profile) -> None:
    sources = plan_sources(profile, "disaster-recovery")
    assert select_for_restore(sources, "full") == sources


def test_restore_config_only(profile: Profile) -> None:
    sources = plan_sources(profile, "disaster-recovery")
    chosen = select_for_restore(sources, "config-only")
    assert {item.kind for item in chosen} == {"config", "service-config", "network", "profile"}
    assert len(chosen) == len(sources) - 3  # the three data paths


def test_restore_selective_needs_services(profile: Profile) -> None:
    with pytest.raises(UsageError, match="--services"):
        select_for_restore(plan_sources(profile, "full"), "selective")


def test_restore_selective(profile: Profile) -> None:
    chosen = select_for_restore(plan_sources(profile, "full"), "selective", ["nextcloud"])
    assert logical(chosen) == [
        "services/nextcloud/config", "services/nextcloud/data/data",
        "services/nextcloud/data/apps",
    ]


def test_restore_services_filter_with_config_only(profile: Profile) -> None:
    chosen = select_for_restore(plan_sources(profile, "full"), "config-only", ["gitea"])
    assert logical(chosen) == ["services/gitea/config"]


def test_restore_unknown_service(profile: Profile) -> None:
    sources = plan_sources(profile, "service", services=["gitea"])
    with pytest.raises(UsageError) as info:
        select_for_restore(sources, "selective", ["nextcloud"])
    assert "nextcloud" in str(info.value)
    assert "gitea" in str(info.value)
