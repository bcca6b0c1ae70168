"""The path policy of `[access]`: which folders a confined caller may write, read and back up.

A caller is confined when it comes over MCP (always) or from the CLI with `--role`;
the CLI without a role (root at a shell) keeps its freedom. A confined caller's paths
are taken relative to the allowed folder (the first of a list); an absolute path is
accepted only when it resolves inside one. `..` is refused outright, symlinks are
resolved (realpath) and must stay inside, and a symlink at an export's final name is
refused. `confine` returns the request with every path replaced by the real one it
was checked as, so the operation uses exactly what was checked.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from orchestrator import models
from orchestrator.errors import AccessDenied
from orchestrator.profile.schema import Profile


@dataclass(frozen=True)
class AllowedPaths:
    export_dir: Path
    import_dir: Path
    restore_targets: tuple[Path, ...]
    backup_roots: tuple[Path, ...]


def profile_roots(profile: Profile) -> list[Path]:
    """The paths the profile itself names: config groups, services' config and data, and
    infrastructure (the default `backup_roots`)."""
    roots = [path for group in profile.config.values() for path in group.paths]
    for service in profile.services.values():
        roots += service.config + service.data
    return roots + list(profile.infrastructure.network)


def allowed_paths(profile: Profile, role: str | None, state_root: Path) -> AllowedPaths:
    """The access table's folders, each overridden by the role's own when it sets one."""
    access = profile.access
    spec = access.roles.get(role) if role is not None else None

    def pick(name: str) -> object:
        own = getattr(spec, name) if spec is not None else None
        return own if own is not None else getattr(access, name)

    export_dir = pick("export_dir")
    export = export_dir if isinstance(export_dir, Path) else state_root / "exports"
    import_dir = pick("import_dir")
    targets = pick("restore_targets")
    roots = pick("backup_roots")
    return AllowedPaths(
        export_dir=export,
        import_dir=import_dir if isinstance(import_dir, Path) else export,
        restore_targets=tuple(targets) if isinstance(targets, list)
        else (state_root / "restores",),
        backup_roots=tuple(roots) if isinstance(roots, list) else tuple(profile_roots(profile)),
    )


def is_confined(role: str | None, origin: str) -> bool:
    return origin != "cli" or role is not None


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _candidate(value: str, roots: Sequence[Path], what: str) -> Path:
    if not roots:
        raise AccessDenied(f"{what} {value!r}: the access policy allows no folder for it")
    if not value or "\0" in value:
        raise AccessDenied(f"{what} {value!r}: not a path")
    if ".." in Path(value).parts:
        raise AccessDenied(f"{what} {value!r}: '..' is not allowed in a path")
    path = Path(value)
    return path if path.is_absolute() else roots[0] / path


def _check_inside(value: str, real: str, roots: Sequence[Path], what: str, key: str) -> None:
    for root in roots:
        if _inside(real, os.path.realpath(root)):
            return
    shown = ", ".join(str(root) for root in roots)
    raise AccessDenied(f"{what} {value!r} is outside the allowed folder{'s' * (len(roots) > 1)} "
                       f"({shown}; [access] {key})")


def inside(value: str, roots: Sequence[Path], what: str, key: str) -> Path:
    """The real path `value` names, when it resolves inside one of `roots` (symlinks
    followed), else AccessDenied."""
    real = os.path.realpath(_candidate(value, roots, what))
    _check_inside(value, real, roots, what, key)
    return Path(real)


def output_inside(value: str | None, export_dir: Path) -> str:
    """Where an export goes: a name (or none: the default name) in `export_dir`, whose
    folder resolves inside it and whose final name is not a symlink."""
    what = "downloadPath"
    if value is None or value == "":
        return str(Path(os.path.realpath(export_dir))) + "/"
    if value == "-":
        raise AccessDenied("downloadPath '-' (stdout) is refused here: over MCP it is the "
                           "protocol's channel; give a file name in the export folder")
    candidate = _candidate(value, [export_dir], what)
    if value.endswith("/") or candidate.is_dir() and not candidate.is_symlink():
        real = os.path.realpath(candidate)
        _check_inside(value, real, [export_dir], what, "export_dir")
        return real + "/"
    if candidate.is_symlink():
        raise AccessDenied(f"{what} {value!r} is a symlink; an export never replaces or "
                           "writes through one")
    folder = os.path.realpath(candidate.parent)
    _check_inside(value, folder, [export_dir], what, "export_dir")
    return os.path.join(folder, candidate.name)


def confine(profile: Profile, state_root: Path, role: str | None, origin: str,
            request: BaseModel) -> BaseModel:
    """`request` with its paths checked against the policy and replaced by their real
    paths; unchanged for an unconfined caller."""
    if not is_confined(role, origin):
        return request
    allowed = allowed_paths(profile, role, state_root)
    update: dict[str, object] = {}
    if isinstance(request, models.DownloadBackupRequest | models.BackupMigrateRequest):
        output = request.output or ""
        into_repository = isinstance(request, models.BackupMigrateRequest) and \
            request.to is not None
        if isinstance(request, models.BackupMigrateRequest) and request.from_archive:
            update["from_archive"] = str(inside(request.from_archive, [allowed.import_dir],
                                                "fromArchive", "import_dir"))
        if into_repository and not output:
            pass  # a copy into a repository writes no file
        elif output.startswith("s3://"):
            if "allowed_outputs" not in profile.access.download.model_fields_set:
                raise AccessDenied("a confined caller may upload to S3 only when the profile "
                                   "lists it: [access.download] allowed_outputs")
        elif output == "-" and origin == "cli":
            pass  # the shell's own stdout, under --role
        else:
            update["output"] = output_inside(request.output, allowed.export_dir)
    elif isinstance(request, models.BackupEncryptRequest) and request.archive is not None:
        readable = [allowed.export_dir] if request.in_place else [allowed.import_dir,
                                                                  allowed.export_dir]
        update["archive"] = str(inside(request.archive, readable, "archive",
                                       "export_dir" if request.in_place else "import_dir"))
        if not request.in_place:
            update["output"] = output_inside(request.output, allowed.export_dir)
        if request.force:
            raise AccessDenied("a confined caller may not replace an existing file (force); "
                               "give a new output name")
    elif isinstance(request, models.KeyChangeRequest) and request.new_password_file:
        raise AccessDenied("a confined caller may not name a new password file; change keys "
                           "from the shell without a role")
    elif isinstance(request, models.RestoreBackupRequest):
        if request.trust_archive:
            raise AccessDenied("a confined caller may not vouch for an archive "
                               "(trustArchive); restore it from the shell without a role")
        if request.target is not None:
            update["target"] = str(inside(request.target, allowed.restore_targets,
                                          "target", "restore_targets"))
        if request.from_archive is not None:
            update["from_archive"] = str(inside(request.from_archive, [allowed.import_dir],
                                                "fromArchive", "import_dir"))
        if request.vault_password_files:
            update["vault_password_files"] = {
                vault: str(inside(path, [allowed.import_dir], "vaultPasswordFiles",
                                  "import_dir"))
                for vault, path in request.vault_password_files.items()}
    elif isinstance(request, models.DrillRequest) and request.workdir is not None:
        update["workdir"] = str(inside(request.workdir, allowed.restore_targets, "workdir",
                                       "restore_targets"))
    elif isinstance(request, models.RecoverRequest) and request.target is not None:
        update["target"] = str(inside(request.target, allowed.restore_targets, "target",
                                      "restore_targets"))
    elif isinstance(request, models.BackupFilesRequest):
        update["paths"] = [str(inside(path, allowed.backup_roots, "path", "backup_roots"))
                           for path in request.paths]
    elif isinstance(request, models.BackupDatabaseRequest):
        if request.password_file is not None:
            raise AccessDenied("a confined caller may not name a password_file; back up a "
                               "service whose hook names one")
        if request.service is None and request.type == "sqlite":  # database: file paths
            update["database"] = [str(inside(path, allowed.backup_roots, "database",
                                             "backup_roots")) for path in request.database]
    elif isinstance(request, models.PitrRestoreRequest) and request.pgdata is not None:
        update["pgdata"] = str(inside(request.pgdata, allowed.restore_targets, "pgdata",
                                      "restore_targets"))
    elif isinstance(request, models.BackupVmSnapshotRequest) and request.disk is not None:
        update["disk"] = str(inside(request.disk, allowed.backup_roots, "disk", "backup_roots"))
    return request.model_copy(update=update) if update else request
