"""backup-sync of a set spanning repositories: the vault's parts go to the repository the
target maps for it, under that repository's own key (real restic)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from integration.conftest import Site, compare_trees
from integration.test_vaults import restic_paths, vault_site


def test_a_spanning_set_syncs_with_its_vault_parts_to_the_mapped_repository(
        make_site: Callable[..., Site]) -> None:
    site, _vault, _vault_password, db = vault_site(make_site)
    offsite, nc_offsite = site.root / "offsite", site.root / "nc-offsite"
    nc_offsite_password = site.root / "nc-offsite.pass"
    nc_offsite_password.write_text("yet another horse\n")
    nc_offsite_password.chmod(0o600)
    site.profile.write_text(site.profile.read_text() + f"""
[repositories.offsite]
url = "{offsite}"
password_file = "{site.password_file}"
vaults = {{ nc-vault = "nc-offsite" }}

[repositories.nc-offsite]
url = "{nc_offsite}"
password_file = "{nc_offsite_password}"
""")
    name = site.run("create-backup", "--type", "full", "--json").json()["set"]
    synced = site.run("backup-sync", "--from", "local", "--to", "offsite", "--backup", name,
                      "--json").json()
    assert synced["copied"] == [name], synced

    in_offsite = restic_paths(offsite, site.password_file)
    assert not [p for p in in_offsite if "nextcloud" in p and not p.endswith("metadata.json")]
    assert any(p.endswith("srv/data/large.bin") for p in in_offsite)
    assert any(p.endswith("holiday-photo.jpg") for p in restic_paths(nc_offsite,
                                                                     nc_offsite_password))
    listed = site.run("list-backups", "--destination", "offsite", "--json").json()["backups"]
    assert [(b["set"], b["status"], b["repositories"]) for b in listed] == [
        (name, "complete", ["offsite", "nc-offsite"])], listed

    target = site.root / "from-offsite"
    site.run("restore-backup", "--destination", "offsite", "--backup", name, "--target",
             str(target))
    host = site.root / "host"
    inside = target / str(host).lstrip("/")
    compare_trees(host / "srv/nextcloud", inside / "srv/nextcloud")
    compare_trees(host / "etc/nextcloud", inside / "etc/nextcloud")
    compare_trees(host / "srv/data", inside / "srv/data")
    with sqlite3.connect(target / str(db).lstrip("/")) as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (50,)
    conn.close()
    # The vault part was read from the mapped repository: without its password, it fails.
    nc_offsite_password.rename(site.root / "nc-offsite.away")
    partial = site.run("restore-backup", "--destination", "offsite", "--backup", name,
                       "--target", str(site.root / "partial"), check=False)
    assert partial.returncode == 1 and "nc-offsite" in partial.stderr, partial.stderr
    nc_offsite_password.with_name("nc-offsite.away").rename(nc_offsite_password)
    again = site.run("backup-sync", "--from", "local", "--to", "offsite", "--backup", name,
                     "--json").json()
    assert again["skipped"] == [name] and again["copied"] == [], again

    # A set made into offsite directly keeps nextcloud's parts in nc-offsite too.
    direct = site.run("create-backup", "--type", "full", "--destination", "offsite",
                      "--json").json()["set"]
    listed = site.run("list-backups", "--destination", "offsite", "--json").json()["backups"]
    assert {b["set"]: (b["status"], b["repositories"]) for b in listed}[direct] == (
        "complete", ["offsite", "nc-offsite"]), listed
