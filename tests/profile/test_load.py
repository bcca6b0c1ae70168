"""Loading profiles: interpolation, extends, relative paths, inline secrets,
discovery, TOML syntax errors and the key locator."""

from __future__ import annotations

import logging
import re
import textwrap
from pathlib import Path

import pytest
import tomlkit
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.errors import NotFoundError, ProfileError, ProfileIssue, UsageError
from orchestrator.profile import discovery as profile_discovery
from orchestrator.profile.load import (
    find_profile,
    load_profile,
    load_profile_with_warnings,
)
from orchestrator.profile.locate import Locator, format_key_path

REPO = """\
[repositories.local]
url = "/srv/repo"
password_env = "PW"
"""


def write(directory: Path, name: str, text: str, mode: int = 0o600) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    path.chmod(mode)
    return path


def issues_of(path: Path, environ: dict[str, str] | None = None) -> list[ProfileIssue]:
    with pytest.raises(ProfileError) as caught:
        load_profile(path, environ=environ or {})
    return caught.value.issues


# --- interpolation -----------------------------------------------------------


def test_interpolation_set_default_and_escape(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "p.toml",
        """\
        host = "${HOST_NAME}"
        [repositories.local]
        url = "${REPO_ROOT:-/srv/default}/main"
        password_command = ["pass", "show", "${PASS_KEY}", "$${NOT_A_VAR}"]
        options = { "s3.region" = "${REGION:-eu-west-1}" }
        [services.web]
        data = ["${DATA}/a", "${EMPTY:-/fallback}"]
        """,
    )
    env = {"HOST_NAME": "box", "PASS_KEY": "backup/local", "DATA": "/srv/web", "EMPTY": ""}
    profile = load_profile(path, environ=env)
    repo = profile.repositories["local"]
    assert profile.host == "box"
    assert repo.url == "/srv/default/main"
    assert repo.password_command == ["pass", "show", "backup/local", "${NOT_A_VAR}"]
    assert repo.options == {"s3.region": "eu-west-1"}
    assert profile.services["web"].data == [Path("/srv/web/a"), Path("/fallback")]


def test_unset_variables_are_all_reported_at_their_keys(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "p.toml",
        """\
        [repositories.local]
        url = "${REPO_URL}"
        password_env = "PW"

        [schedules.nightly]
        schedule = "${CRON}"
        """,
    )
    issues = issues_of(path)
    assert [(i.key_path, i.line, i.message) for i in issues] == [
        ("repositories.local.url", 2, "environment variable REPO_URL is not set"),
        ("schedules.nightly.schedule", 6, "environment variable CRON is not set"),
    ]


def test_bad_interpolation_syntax(tmp_path: Path) -> None:
    path = write(tmp_path, "p.toml", REPO + 'host = "${1X}"\nname = "${OPEN"\n')
    messages = {i.key_path: i.message for i in issues_of(path)}
    assert messages["repositories.local.host"].startswith("bad reference '${1X}'")
    assert messages["repositories.local.name"].startswith("unclosed '${'")


# --- extends -------------------------------------------------------------------


def test_extends_deep_merges_child_over_base(tmp_path: Path) -> None:
    write(
        tmp_path,
        "_base.toml",
        """\
        host = "base-host"
        [repositories.local]
        url = "/srv/base"
        password_file = "/etc/base.pass"
        compression = "max"
        [config]
        etc = ["/etc/a", "/etc/b"]
        [schedules.nightly]
        schedule = "0 2 * * *"
        """,
    )
    child = write(
        tmp_path,
        "prod.toml",
        """\
        extends = "_base.toml"
        [repositories.local]
        password_env = "PW"
        [config]
        etc = ["/etc/c"]
        [schedules.weekly]
        schedule = "0 3 * * 0"
        """,
    )
    profile = load_profile(child, environ={})
    repo = profile.repositories["local"]
    assert (repo.url, repo.compression, repo.password_env) == ("/srv/base", "max", "PW")
    # One password source per repository: the child's replaces the base's.
    assert repo.password_file is None
    assert profile.config["etc"].paths == [Path("/etc/c")]
    assert set(profile.schedules) == {"nightly", "weekly"}
    assert profile.host == "base-host"
    assert profile.source_files == [child, tmp_path / "_base.toml"]


def test_extends_list_later_bases_win(tmp_path: Path) -> None:
    write(tmp_path, "bases/one.base.toml", 'host = "one"\nname = "one"\n' + REPO)
    write(tmp_path, "bases/two.base.toml", 'host = "two"\n')
    child = write(tmp_path, "p.toml", 'extends = ["bases/one.base.toml", "bases/two.base.toml"]\n')
    profile = load_profile(child, environ={})
    assert (profile.host, profile.name) == ("two", "one")
    assert [p.name for p in profile.source_files] == ["p.toml", "one.base.toml", "two.base.toml"]


def test_errors_in_inherited_keys_are_located_in_the_base(tmp_path: Path) -> None:
    base = write(
        tmp_path,
        "_base.toml",
        """\
        [repositories.local]
        url = "/srv/base"
        password_file = "/etc/base.pass"
        storage_klass = "x"
        """,
    )
    child = write(tmp_path, "p.toml", 'extends = "_base.toml"\nhost = 5\n')
    issues = issues_of(child)
    assert [(i.file, i.line, i.key_path) for i in issues] == [
        (str(child), 2, "host"),
        (str(base), 4, "repositories.local.storage_klass"),
    ]
    assert issues[1].message == "unknown key; did you mean 'storage_class'?"


def test_extends_cycle_is_reported_with_the_chain(tmp_path: Path) -> None:
    a = write(tmp_path, "a.toml", 'extends = "b.toml"\n' + REPO)
    b = write(tmp_path, "b.toml", '\nextends = "a.toml"\n')
    issues = issues_of(a)
    assert len(issues) == 1
    issue = issues[0]
    assert (issue.file, issue.line, issue.key_path) == (str(b), 2, "extends")
    assert issue.message == "extends cycle: a.toml -> b.toml -> a.toml"


def test_missing_base_is_located_at_extends(tmp_path: Path) -> None:
    path = write(tmp_path, "p.toml", 'name = "x"\nextends = ["_a.toml", "_gone.toml"]\n')
    write(tmp_path, "_a.toml", 'host = "h"\n')
    issues = issues_of(path)
    # repositories is not reported missing: the missing base may well have held it.
    assert len(issues) == 1
    issue = issues[0]
    assert (issue.line, issue.key_path) == (2, "extends[1]")
    assert issue.column == len('extends = ["_a.toml", ') + 1
    assert issue.message == f"base profile not found: {tmp_path / '_gone.toml'}"


def test_extends_of_wrong_type(tmp_path: Path) -> None:
    issues = issues_of(write(tmp_path, "p.toml", "extends = 3\n" + REPO))
    assert [(i.key_path, i.line) for i in issues] == [("extends", 1)]


# --- relative paths ----------------------------------------------------------------


def test_relative_paths_resolve_against_the_defining_file(tmp_path: Path) -> None:
    write(
        tmp_path,
        "shared/_base.toml",
        """\
        state_dir = "state"
        [repositories.base]
        url = "repos/base"
        password_file = "keys/base.pass"
        [config]
        compose = ["compose"]
        """,
    )
    child = write(
        tmp_path,
        "site/p.toml",
        """\
        extends = "../shared/_base.toml"
        [repositories.local]
        url = "local:../backups"
        password_file = "local.pass"
        [repositories.abs]
        url = "/srv/abs"
        password_file = "/etc/abs.pass"
        [repositories.s3]
        url = "s3:s3.amazonaws.com/bucket"
        password_env = "PW"
        [repositories.sftp]
        url = "sftp:user@host:/srv/restic"
        password_env = "PW"
        [repositories.borg]
        engine = "borg"
        url = "user@host:repo"
        password_env = "PW"
        [repositories.home]
        url = "~/backups"
        password_env = "PW"
        [config]
        terraform = { paths = ["tf", "/abs/tf"], exclude = ["x"] }
        [services.web]
        config = ["conf"]
        data = ["../data"]
        [infrastructure]
        network = ["net/netplan"]
        """,
    )
    profile = load_profile(child, environ={"HOME": "/home/u"})
    shared, site = tmp_path / "shared", tmp_path / "site"
    repos = profile.repositories
    assert profile.state_dir == shared / "state"
    assert (repos["base"].url, repos["base"].password_file) == (
        str(shared / "repos/base"),
        shared / "keys/base.pass",
    )
    assert repos["local"].url == f"local:{tmp_path / 'backups'}"
    assert repos["local"].password_file == site / "local.pass"
    assert (repos["abs"].url, repos["abs"].password_file) == ("/srv/abs", Path("/etc/abs.pass"))
    assert repos["s3"].url == "s3:s3.amazonaws.com/bucket"
    assert repos["sftp"].url == "sftp:user@host:/srv/restic"
    assert repos["borg"].url == "user@host:repo"
    assert repos["home"].url == "/home/u/backups"
    assert profile.config["compose"].paths == [shared / "compose"]
    assert profile.config["terraform"].paths == [site / "tf", Path("/abs/tf")]
    assert profile.services["web"].config == [site / "conf"]
    assert profile.services["web"].data == [tmp_path / "data"]
    assert profile.infrastructure.network == [site / "net/netplan"]


# --- inline secrets ------------------------------------------------------------------

INLINE = '[repositories.local]\nurl = "/srv/repo"\npassword = "hunter2"\n'


def test_inline_password_in_a_readable_file_warns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write(tmp_path, "p.toml", INLINE, mode=0o644)
    profile, warnings = load_profile_with_warnings(path, environ={})
    assert profile.repositories["local"].password is not None
    assert warnings == [
        (
            f"{path} holds an inline password and is readable by group/others; "
            f"chmod 600 {path} or use password_file"
        )
    ]
    with caplog.at_level(logging.WARNING, logger="strongroom"):
        load_profile(path, environ={})
    assert warnings[0] in caplog.text


def test_inline_password_in_a_private_file_is_quiet(tmp_path: Path) -> None:
    path = write(tmp_path, "p.toml", INLINE, mode=0o600)
    assert load_profile_with_warnings(path, environ={})[1] == []


def test_inline_password_in_a_readable_base_warns_about_the_base(tmp_path: Path) -> None:
    base = write(tmp_path, "_base.toml", INLINE, mode=0o640)
    child = write(tmp_path, "p.toml", 'extends = "_base.toml"\nhost = "h"\n', mode=0o644)
    warnings = load_profile_with_warnings(child, environ={})[1]
    assert len(warnings) == 1 and warnings[0].startswith(f"{base} holds an inline password")


def test_no_password_no_warning(tmp_path: Path) -> None:
    path = write(tmp_path, "p.toml", REPO, mode=0o644)
    assert load_profile_with_warnings(path, environ={})[1] == []


# --- TOML syntax and missing files -------------------------------------------------------


def test_toml_syntax_error_is_located(tmp_path: Path) -> None:
    path = write(tmp_path, "p.toml", REPO + 'host = "unterminated\n')
    issues = issues_of(path)
    assert len(issues) == 1
    assert (issues[0].file, issues[0].line, issues[0].column) == (str(path), 4, 21)
    assert " at line " not in issues[0].message


def test_an_integer_tomllib_cannot_read_is_a_located_error(tmp_path: Path) -> None:
    # tomllib raises a plain ValueError past 4,300 digits: tomlkit's verdict stands.
    path = write(tmp_path, "p.toml", REPO + "retry = " + "9" * 5000 + "\n")
    issues = issues_of(path)
    assert len(issues) == 1 and issues[0].line == 4, issues


def test_toml_syntax_error_in_a_base_is_located_in_the_base(tmp_path: Path) -> None:
    base = write(tmp_path, "_base.toml", "x = = 1\n")
    child = write(tmp_path, "p.toml", 'extends = "_base.toml"\nhostt = "h"\n')
    issues = issues_of(child)
    assert [(i.file, i.line) for i in issues] == [(str(child), 2), (str(base), 1)]


def test_missing_profile_file(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        load_profile(tmp_path / "nope.toml", environ={})


# --- discovery ---------------------------------------------------------------------------


@pytest.fixture
def no_system_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(profile_discovery, "SYSTEM_PROFILE_DIR", tmp_path / "etc-profiles")


def env_for(tmp_path: Path, *dirs: Path) -> dict[str, str]:
    env = {"HOME": str(tmp_path / "home")}
    if dirs:
        env["STRONGROOM_PROFILE_DIR"] = ":".join(str(d) for d in dirs)
    return env


@pytest.mark.usefixtures("no_system_dir")
def test_single_profile_is_the_default_and_bases_are_skipped(tmp_path: Path) -> None:
    cwd = tmp_path / "work"
    only = write(cwd, "profiles/site.toml", REPO)
    write(cwd, "profiles/_base.toml", REPO)
    write(cwd, "profiles/common.base.toml", REPO)
    assert find_profile(None, env_for(tmp_path), cwd) == only


@pytest.mark.usefixtures("no_system_dir")
def test_several_profiles_need_a_name(tmp_path: Path) -> None:
    cwd = tmp_path / "work"
    write(cwd, "profiles/site.toml", REPO)
    extra = write(tmp_path, "more/lab.toml", REPO)
    with pytest.raises(UsageError) as caught:
        find_profile(None, env_for(tmp_path, extra.parent), cwd)
    assert "lab" in caught.value.message and "site" in caught.value.message
    assert caught.value.hint is not None and "-p NAME" in caught.value.hint


@pytest.mark.usefixtures("no_system_dir")
def test_same_directory_twice_is_one_candidate(tmp_path: Path) -> None:
    cwd = tmp_path / "work"
    only = write(cwd, "profiles/site.toml", REPO)
    env = env_for(tmp_path, only.parent, cwd / "profiles" / ".." / "profiles")
    assert find_profile(None, env, cwd).name == "site.toml"


@pytest.mark.usefixtures("no_system_dir")
def test_no_profile_at_all(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError) as caught:
        find_profile(None, env_for(tmp_path), tmp_path)
    assert "looked in" in caught.value.message
    assert str(tmp_path / "profiles") in caught.value.message
    assert caught.value.hint is not None and "-p" in caught.value.hint


@pytest.mark.usefixtures("no_system_dir")
def test_find_by_name_follows_the_search_order(tmp_path: Path) -> None:
    cwd = tmp_path / "work"
    first = write(tmp_path, "env-dir/site.toml", REPO)
    write(cwd, "profiles/site.toml", REPO)
    home = write(tmp_path, "home/.config/strongroom/profiles/lab.toml", REPO)
    env = env_for(tmp_path, tmp_path / "missing", first.parent)
    assert find_profile("site", env, cwd) == first
    assert find_profile("lab", env, cwd) == home
    assert find_profile("lab.toml", env, cwd) == home
    base = write(cwd, "profiles/_base.toml", REPO)
    assert find_profile("_base", env, cwd) == base


@pytest.mark.usefixtures("no_system_dir")
def test_find_by_path(tmp_path: Path) -> None:
    path = write(tmp_path, "anywhere/x.toml", REPO)
    assert find_profile(str(path), env_for(tmp_path), tmp_path) == path
    assert find_profile("anywhere/x.toml", env_for(tmp_path), tmp_path) == path
    with pytest.raises(NotFoundError):
        find_profile("anywhere/none.toml", env_for(tmp_path), tmp_path)


@pytest.mark.usefixtures("no_system_dir")
def test_unknown_name_lists_the_available_profiles(tmp_path: Path) -> None:
    write(tmp_path, "profiles/site.toml", REPO)
    write(tmp_path, "profiles/lab.toml", REPO)
    with pytest.raises(NotFoundError) as caught:
        find_profile("prod", env_for(tmp_path), tmp_path)
    assert "'prod'" in caught.value.message and "looked in" in caught.value.message
    assert caught.value.hint == "available: lab, site"


# --- the locator ---------------------------------------------------------------------------


LOCATOR_TEXT = """\
title = "x"  # comment with [fake] = 1
"quoted key".inner = 1
dotted . deep . key = 2
text = \"\"\"
[not.a.table]
fake = 1
\"\"\"
lit = '''
also = "not a key"
'''

[a."b.c"]
x = [
  1,  # one
  { y = 2, z = [3, 4] },
]

[[arr]]
k = 1

[[arr]]
k = 2

[[arr.sub]]
m = 3

[arr.tbl]
n = 4
"""


@pytest.mark.parametrize(
    ("path", "where"),
    [
        (("title",), (1, 1)),
        (("quoted key", "inner"), (2, 14)),
        (("dotted", "deep", "key"), (3, 17)),
        (("text",), (4, 1)),
        (("lit",), (8, 1)),
        (("a", "b.c"), (12, 1)),
        (("a", "b.c", "x"), (13, 1)),
        (("a", "b.c", "x", 0), (14, 3)),
        (("a", "b.c", "x", 1, "z"), (15, 12)),
        (("a", "b.c", "x", 1, "z", 1), (15, 20)),
        (("arr", 0, "k"), (19, 1)),
        (("arr", 1), (21, 1)),
        (("arr", 1, "k"), (22, 1)),
        (("arr", 1, "sub", 0, "m"), (25, 1)),
        (("arr", 1, "tbl", "n"), (28, 1)),
    ],
)
def test_locator_positions(path: tuple[str | int, ...], where: tuple[int, int]) -> None:
    tomlkit.parse(LOCATOR_TEXT)
    assert Locator(LOCATOR_TEXT).find(path) == where


def test_locator_skips_string_content_and_falls_back_to_prefixes() -> None:
    locator = Locator(LOCATOR_TEXT)
    assert locator.find(("not", "a", "table")) is None
    assert locator.find(("fake",)) is None
    assert locator.find(("also",)) is None
    assert locator.locate(("arr", 1, "missing")) == (21, 1)
    assert locator.locate(("nothing",)) is None


def test_format_key_path() -> None:
    assert format_key_path(("services", "nextcloud", "hooks", 0, "type")) == (
        "services.nextcloud.hooks[0].type"
    )
    assert format_key_path(("repositories", "my repo")) == 'repositories."my repo"'


BARE = st.from_regex(r"[A-Za-z0-9_-]{1,8}", fullmatch=True)
QUOTED = st.text(
    st.characters(min_codepoint=32, max_codepoint=0x2FF, exclude_characters="\x7f"),
    min_size=1,
    max_size=8,
)
KEY = st.one_of(BARE, QUOTED)
VALUE = st.one_of(
    st.integers(-1000, 1000).map(str),
    QUOTED.map(lambda s: tomlkit.string(s).as_string()),
    st.just('"""\n[fake]\nx = 1\n"""'),
    st.just("'''\nnot = 'a key'\n'''"),
    st.just("[\n  1,\n  2,  # comment\n]"),
    st.just("{ a = 1, b = [2, 3] }"),
)


def render_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else tomlkit.string(key).as_string()


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(
        KEY,
        st.dictionaries(KEY, VALUE, min_size=1, max_size=4),
        min_size=1,
        max_size=4,
    ),
    st.booleans(),
)
def test_locator_finds_generated_keys(tables: dict[str, dict[str, str]], comments: bool) -> None:
    lines: list[str] = []
    expected: dict[tuple[str | int, ...], int] = {}
    for table, keys in tables.items():
        if comments:
            lines.append(f"# table {table} = 1")
        lines.append(f"[{render_key(table)}]")
        expected[(table,)] = len(lines)
        for key, value in keys.items():
            expected[(table, key)] = len(lines) + 1
            lines.extend(f"{render_key(key)} = {value}".split("\n"))
        lines.append("")
    text = "\n".join(lines)
    assert tomlkit.parse(text).unwrap().keys() == tables.keys()
    locator = Locator(text)
    for path, line in expected.items():
        found = locator.find(path)
        assert found is not None and found[0] == line, (path, text)
