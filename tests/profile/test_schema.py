"""The profile schema as seen through loading: located errors, messages, redaction."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from orchestrator.errors import ProfileError, ProfileIssue
from orchestrator.profile.load import load_profile, profile_json_schema, redacted_profile
from orchestrator.profile.schema import Profile

VALID = """\
[repositories.local]
url = "/var/backups/strongroom"
password_file = "/etc/strongroom/local.pass"

[repositories.offsite]
url = "s3://bucket/backups"
password_command = "pass show backup/offsite"

[config]
mcp-server = ["/etc/mcp-server"]
terraform = { paths = ["/srv/infra/terraform"], exclude = ["**/.terraform"] }

[services.nextcloud]
config = ["/var/www/nextcloud/config"]
data = ["/srv/nextcloud/data"]

[[services.nextcloud.hooks]]
type = "postgresql"
databases = ["nextcloud"]

[infrastructure]
network = ["/etc/netplan"]

[schedules.weekly-full]
schedule = "0 1 * * 0"
type = "full"
destination = "offsite"
services = ["nextcloud"]
retention = "12w"
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text))
    path.chmod(0o600)
    return path


def issues_of(path: Path) -> list[ProfileIssue]:
    with pytest.raises(ProfileError) as caught:
        load_profile(path, environ={})
    return caught.value.issues


def only_issue(path: Path) -> ProfileIssue:
    issues = issues_of(path)
    assert len(issues) == 1, [i.render() for i in issues]
    return issues[0]


def test_valid_profile_loads(tmp_path: Path) -> None:
    path = write(tmp_path, "site.toml", VALID)
    profile = load_profile(path, environ={})
    assert isinstance(profile, Profile)
    assert list(profile.repositories) == ["local", "offsite"]
    assert profile.config["terraform"].exclude == ["**/.terraform"]
    assert profile.config["mcp-server"].paths == [Path("/etc/mcp-server")]
    assert profile.services["nextcloud"].hooks[0].type == "postgresql"
    assert profile.source_files == [path]
    assert profile.profile_name == "site"


def test_unknown_key_is_located_and_suggests_the_closest_key(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "p.toml",
        """\
        [repositories.local]
        url = "/srv/repo"
        password_file = "/etc/pass"
        password_fil = "/etc/pass"
        """,
    )
    issue = only_issue(path)
    assert (issue.file, issue.line, issue.column) == (str(path), 4, 1)
    assert issue.key_path == "repositories.local.password_fil"
    assert issue.message == "unknown key; did you mean 'password_file'?"
    assert issue.render() == (
        f"{path}:4:1: repositories.local.password_fil: unknown key; did you mean 'password_file'?"
    )


def test_unknown_key_without_a_close_match(tmp_path: Path) -> None:
    path = write(tmp_path, "q.toml", VALID.replace('type = "full"', 'qqqqq = "full"'))
    issue = only_issue(path)
    assert issue.message == "unknown key"
    assert issue.key_path == "schedules.weekly-full.qqqqq"


def test_unknown_key_inside_an_inline_table_points_at_its_column(tmp_path: Path) -> None:
    text = VALID.replace('exclude = ["**/.terraform"]', 'exclde = ["**/.terraform"]')
    issue = only_issue(write(tmp_path, "p.toml", text))
    assert issue.key_path == "config.terraform.exclde"
    assert issue.line == 11
    line = text.splitlines()[10]
    assert issue.column == line.index("exclde") + 1
    assert issue.message == "unknown key; did you mean 'exclude'?"


def test_unknown_top_level_key_suggests_extends(tmp_path: Path) -> None:
    issue = only_issue(write(tmp_path, "p.toml", 'extend = "base.toml"\n' + VALID))
    assert (issue.line, issue.key_path) == (1, "extend")
    assert issue.message == "unknown key; did you mean 'extends'?"


def test_bad_cron_is_located_at_the_schedule_key(tmp_path: Path) -> None:
    path = write(tmp_path, "p.toml", VALID.replace('"0 1 * * 0"', '"0 1 * *"'))
    issue = only_issue(path)
    assert issue.key_path == "schedules.weekly-full.schedule"
    assert issue.line == VALID.splitlines().index('schedule = "0 1 * * 0"') + 1
    assert issue.column == 1
    assert "cron" in issue.message and "'0 1 * *'" in issue.message


def test_missing_password_source_is_located_at_the_table_header(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "p.toml",
        """\
        # a comment
        [repositories.local]
        url = "/srv/repo"
        """,
    )
    issue = only_issue(path)
    assert (issue.line, issue.column, issue.key_path) == (2, 1, "repositories.local")
    assert issue.message.startswith("no password source")


def test_two_password_sources_are_an_error(tmp_path: Path) -> None:
    text = VALID.replace(
        'password_file = "/etc/strongroom/local.pass"',
        'password_file = "/etc/strongroom/local.pass"\npassword_env = "PW"',
    )
    issue = only_issue(write(tmp_path, "p.toml", text))
    assert issue.key_path == "repositories.local"
    assert "more than one password source" in issue.message


def test_missing_required_key_falls_back_to_the_table_header(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "p.toml",
        """\
        [repositories.local]
        url = "/srv/repo"
        password_env = "PW"

        [schedules.nightly]
        type = "config"
        """,
    )
    issue = only_issue(path)
    assert (issue.line, issue.column) == (5, 1)
    assert issue.key_path == "schedules.nightly.schedule"
    assert issue.message == "missing required key"


def test_missing_repositories_has_no_line(tmp_path: Path) -> None:
    issue = only_issue(write(tmp_path, "p.toml", 'name = "x"\n'))
    assert (issue.line, issue.key_path, issue.message) == (
        None,
        "repositories",
        "missing required key",
    )


def test_several_errors_are_reported_at_once(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "p.toml",
        """\
        name = "bad name"
        hostt = "x"

        [repositories.local]
        engine = "resticc"
        url = "/srv/repo"
        password_env = "PW"

        [[services.nextcloud.hooks]]
        type = "pg"

        [schedules.daily]
        schedule = "every day"
        retention = "7 days"
        keep_daily = 0
        """,
    )
    issues = issues_of(path)
    found = {(i.key_path, i.line) for i in issues}
    assert found == {
        ("name", 1),
        ("hostt", 2),
        ("repositories.local.engine", 5),
        ("services.nextcloud.hooks[0].type", 10),
        ("schedules.daily.schedule", 13),
        ("schedules.daily.retention", 14),
        ("schedules.daily.keep_daily", 15),
    }
    assert [i.line for i in issues] == sorted(i.line or 0 for i in issues)
    by_key = {i.key_path: i.message for i in issues}
    assert (
        by_key["repositories.local.engine"] == "input should be 'restic' or 'borg', got 'resticc'"
    )
    assert by_key["name"].startswith("a name may hold only")
    assert by_key["schedules.daily.retention"].startswith("retention is a number")
    assert "got 'pg'" in by_key["services.nextcloud.hooks[0].type"]
    rendered = ProfileError(issues).render()
    assert rendered.startswith("the profile has 7 errors:")


def test_union_type_errors_are_merged_into_one_issue(tmp_path: Path) -> None:
    text = VALID.replace('password_command = "pass show backup/offsite"', "password_command = 5")
    issue = only_issue(write(tmp_path, "p.toml", text))
    assert issue.key_path == "repositories.offsite.password_command"
    assert issue.message == "input should be a valid string or list, got 5"


def test_bad_array_element_is_located_at_the_element(tmp_path: Path) -> None:
    text = VALID.replace('data = ["/srv/nextcloud/data"]', 'data = ["/srv/a",\n  5]')
    issue = only_issue(write(tmp_path, "p.toml", text))
    assert issue.key_path == "services.nextcloud.data[1]"
    assert (issue.line, issue.column) == (16, 3)


def test_list_form_config_group_errors_use_the_toml_path(tmp_path: Path) -> None:
    text = VALID.replace('mcp-server = ["/etc/mcp-server"]', 'mcp-server = ["/etc/mcp", 7]')
    issue = only_issue(write(tmp_path, "p.toml", text))
    assert issue.key_path == "config.mcp-server[1]"
    assert issue.line == 10


def test_reference_problems_are_located(tmp_path: Path) -> None:
    text = VALID.replace('destination = "offsite"', 'destination = "elsewhere"').replace(
        'services = ["nextcloud"]', 'services = ["nextcloud", "gitea"]'
    )
    text += '\n[services."bad name"]\n'
    issues = issues_of(write(tmp_path, "p.toml", text))
    by_key = {i.key_path: i for i in issues}
    assert set(by_key) == {
        "schedules.weekly-full.destination",
        "schedules.weekly-full.services[1]",
        'services."bad name"',
    }
    assert "no repository named 'elsewhere'" in by_key["schedules.weekly-full.destination"].message
    assert by_key['services."bad name"'].line == len(text.splitlines())
    element = by_key["schedules.weekly-full.services[1]"]
    line = text.splitlines().index('services = ["nextcloud", "gitea"]') + 1
    assert (element.line, element.column) == (line, line_text_column(text, line, '"gitea"'))


def line_text_column(text: str, line: int, needle: str) -> int:
    return text.splitlines()[line - 1].index(needle) + 1


def test_source_files_is_not_a_profile_key(tmp_path: Path) -> None:
    issue = only_issue(write(tmp_path, "p.toml", 'source_files = ["/x"]\n' + VALID))
    assert (issue.key_path, issue.line, issue.message) == ("source_files", 1, "unknown key")


def test_redacted_profile_hides_passwords(tmp_path: Path) -> None:
    text = VALID.replace(
        'password_file = "/etc/strongroom/local.pass"', 'password = "hunter2"'
    )
    profile = load_profile(write(tmp_path, "p.toml", text), environ={})
    shown = redacted_profile(profile)
    assert shown["repositories"]["local"]["password"] == "***"
    assert shown["repositories"]["offsite"]["password"] is None
    assert shown["config"]["mcp-server"]["paths"] == ["/etc/mcp-server"]
    assert "hunter2" not in repr(shown)
    assert "source_files" not in shown


def test_redacted_profile_hides_a_password_inside_a_rest_url(tmp_path: Path) -> None:
    text = VALID.replace('url = "s3://bucket/backups"',
                         'url = "rest:https://backup:s3cr3t@vault.example:8000/host"')
    shown = redacted_profile(load_profile(write(tmp_path, "p.toml", text), environ={}))
    assert shown["repositories"]["offsite"]["url"] == "rest:https://backup:***@vault.example:8000/host"
    assert "s3cr3t" not in repr(shown)


def test_hook_options_are_checked_by_the_hook_and_located(tmp_path: Path) -> None:
    text = VALID.replace('databases = ["nextcloud"]', 'databases = ["nextcloud"]\npassword = "dbpw"')
    with pytest.raises(ProfileError) as caught:
        load_profile(write(tmp_path, "p.toml", text), environ={})
    [issue] = caught.value.issues
    assert issue.key_path == "services.nextcloud.hooks[0].password"
    assert issue.message.startswith("unknown key") and issue.line is not None


def test_json_schema_describes_the_file() -> None:
    schema = profile_json_schema()
    assert "repositories" in schema["required"]
    assert "extends" in schema["properties"]
    assert "source_files" not in schema["properties"]
    assert schema["additionalProperties"] is False


def test_a_destination_may_be_given_by_its_url() -> None:
    from orchestrator.errors import UnknownName
    from orchestrator.profile.schema import Profile

    profile = Profile.model_validate({"repositories": {
        "local": {"url": "/srv/repo", "password_env": "PW"},
        "offsite": {"url": "s3://backup-bucket/host", "password_env": "PW"},
    }})
    assert profile.repository("s3://backup-bucket/host/")[0] == "offsite"
    assert profile.repository("offsite")[0] == "offsite"
    for unknown in ("s3://backup-bucket", "/srv/repo", "nosuch"):
        with pytest.raises(UnknownName, match="have: local, offsite"):
            profile.repository(unknown)


VAULT = """
[repositories.nc-vault]
url = "/var/backups/nc-vault"
password_file = "/etc/strongroom/nc-vault.pass"
"""


def test_a_service_repository_must_be_a_known_restic_vault(tmp_path: Path) -> None:
    text = VALID.replace('data = ["/srv/nextcloud/data"]',
                         'data = ["/srv/nextcloud/data"]\nrepository = "nc-vault"')
    assert load_profile(write(tmp_path, "ok.toml", text + VAULT), environ={}).services[
        "nextcloud"].repository == "nc-vault"
    issue = only_issue(write(tmp_path, "unknown.toml", text))
    line = text.splitlines().index('repository = "nc-vault"') + 1
    assert (issue.file.endswith("unknown.toml"), issue.line, issue.key_path) == (
        True, line, "services.nextcloud.repository")
    assert "no repository named 'nc-vault' (have: local, offsite)" in issue.message
    borg = VAULT.replace('url =', 'engine = "borg"\nurl =')
    assert "must be restic" in only_issue(write(tmp_path, "borg.toml", text + borg)).message
    first = text.replace('repository = "nc-vault"', 'repository = "local"')
    assert "default destination" in only_issue(write(tmp_path, "first.toml", first)).message


def test_a_vault_is_no_schedule_destination_nor_sync_target(tmp_path: Path) -> None:
    text = VALID.replace('data = ["/srv/nextcloud/data"]',
                         'data = ["/srv/nextcloud/data"]\nrepository = "nc-vault"') + VAULT
    as_destination = text.replace('destination = "offsite"', 'destination = "nc-vault"')
    issue = only_issue(write(tmp_path, "dest.toml", as_destination))
    assert issue.key_path == "schedules.weekly-full.destination"
    assert "a service's own repository" in issue.message
    as_copy = text.replace('retention = "12w"', 'retention = "12w"\nsync_to = ["nc-vault"]')
    issue = only_issue(write(tmp_path, "sync.toml", as_copy))
    assert issue.key_path == "schedules.weekly-full.sync_to[0]"


def test_a_continuous_service_cannot_have_its_own_repository_yet(tmp_path: Path) -> None:
    text = VALID.replace('data = ["/srv/nextcloud/data"]',
                         'data = ["/srv/nextcloud/data"]\nrepository = "nc-vault"').replace(
        'databases = ["nextcloud"]',
        'databases = ["nextcloud"]\ncontinuous = true\ndata_directory = "/var/lib/pg"') + VAULT
    issue = only_issue(write(tmp_path, "pitr.toml", text))
    assert issue.key_path == "services.nextcloud.repository"
    assert "continuous backup" in issue.message


def test_a_repositorys_vault_map_names_another_restic_repository(tmp_path: Path) -> None:
    text = VALID.replace('data = ["/srv/nextcloud/data"]',
                         'data = ["/srv/nextcloud/data"]\nrepository = "nc-vault"') + VAULT
    mapped = text.replace('password_command = "pass show backup/offsite"',
                          'password_command = "pass show backup/offsite"\n'
                          'vaults = { nc-vault = "nc-offsite" }') + """
[repositories.nc-offsite]
url = "/var/backups/nc-offsite"
password_file = "/etc/strongroom/nc-offsite.pass"
"""
    profile = load_profile(write(tmp_path, "ok.toml", mapped), environ={})
    assert profile.repositories["offsite"].vaults == {"nc-vault": "nc-offsite"}
    unknown = mapped.replace('nc-vault = "nc-offsite"', 'nc-vault = "nowhere"')
    issue = only_issue(write(tmp_path, "unknown.toml", unknown))
    assert issue.key_path == "repositories.offsite.vaults.nc-vault"
    assert "no repository named 'nowhere'" in issue.message
    itself = mapped.replace('nc-vault = "nc-offsite"', 'nc-vault = "offsite"')
    assert any("is this repository" in issue.message
               for issue in issues_of(write(tmp_path, "self.toml", itself)))
    borg = mapped.replace('url = "/var/backups/nc-offsite"',
                          'engine = "borg"\nurl = "/var/backups/nc-offsite"')
    assert "is a borg repository" in only_issue(write(tmp_path, "borg.toml", borg)).message
