"""Where each member of an untrusted archive goes, checked before anything is written.

A part of the archive lands where the profile names it, or under --target; every
member name is checked component by component; symlinks that climb out, writes
through symlinks, special files and names that appear twice are refused; the files
must fit the target's free space (or --max-bytes).
"""

from __future__ import annotations

import posixpath
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from orchestrator.errors import UsageError
from orchestrator.export.readers import HostileArchive, Member, shown
from orchestrator.export.safe_tree import UnsafePath, clean_absolute, components
from orchestrator.profile.schema import Profile
from orchestrator.sets.layout import plan_sources
from orchestrator.sets.manifest import Manifest, ManifestPath

FREE_SPACE_MARGIN = 64 << 20


@dataclass(frozen=True)
class Part:
    """Where one file part of the archive goes: `tree` is the folder writes start from
    (trusted), `prefix` the part's own path below it."""

    logical: str
    source: str
    tree: Path
    prefix: str

    @property
    def root(self) -> Path:
        return self.tree / self.prefix if self.prefix else self.tree


@dataclass(frozen=True)
class Placement:
    member: str
    part: Part
    rel: str  # below part.tree
    kind: str
    size: int

    @property
    def destination(self) -> Path:
        return self.part.tree / self.rel


def check_manifest(manifest: Manifest) -> None:
    """Paths and names in the manifest are hostile until checked."""
    try:
        for item in manifest.paths:
            clean_absolute(item.source, f"the archive's source path for {shown(item.logical)}")
            components(item.logical)
        for stream in manifest.streams:
            components(stream.logical)
    except UnsafePath as exc:
        raise HostileArchive(f"the archive's manifest is refused: {exc.message}; nothing was "
                             "written") from None


def parts_for(profile: Profile, paths: Sequence[ManifestPath], target_root: Path | None
           ) -> list[Part]:
    """Each file part's destination: below --target, or where the profile names it."""
    if target_root is not None:
        return [Part(p.logical, p.source, target_root, p.source.lstrip("/")) for p in paths]
    named = {s.logical: s.source for s in plan_sources(profile, "disaster-recovery", [], True)}
    unknown = [p for p in paths if named.get(p.logical) != p.source]
    if unknown:
        lines = "\n".join(f"  {shown(p.logical)} at {shown(p.source)}"
                          + (f" (the profile has it at {named[p.logical]})"
                             if p.logical in named else "") for p in unknown[:20])
        raise UsageError(
            f"the archive would put {len(unknown)} part(s) where this profile does not name "
            f"them:\n{lines}\nnothing was written; restore the archive under --target DIR")
    result = []
    for p in paths:
        source = Path(p.source)
        result.append(Part(p.logical, p.source, source.parent, source.name) if source.name
                      else Part(p.logical, p.source, source, ""))
    return result


def place(member: Member, name: str, parts: Sequence[Part]) -> Placement | None:
    best: Part | None = None
    for part in parts:
        if (name == part.logical or name.startswith(part.logical + "/")) and (
                best is None or len(part.logical) > len(best.logical)):
            best = part
    if best is None:
        return None
    rest = name[len(best.logical):].lstrip("/")
    rel = "/".join(x for x in (best.prefix, rest) if x)
    if not rel:  # a part restored under --target at the root of the tree itself
        if member.kind != "dir":
            raise HostileArchive(f"archive entry {shown(member.name)} would replace the "
                                 "restore's own root; nothing was written")
        rel = "."
    return Placement(member.name, best, rel, member.kind, member.size)


def check_member(member: Member, place: Placement, seen: set[tuple[Path, str]],
                  links: set[tuple[Path, str]]) -> None:
    """Refuse what could write outside its part's root or be ambiguous. Absolute symlinks
    are kept as the data they are (restic restores them too); nothing is ever written
    through one, here or in SafeTree."""
    if member.kind not in ("file", "dir", "symlink"):
        what = member.detail or "special"
        raise HostileArchive(f"archive entry {shown(member.name)} is not a file, folder or "
                             f"symlink ({what}: hard links, devices and FIFOs are refused); "
                             "nothing was written")
    key = (place.part.tree, place.rel)
    if key in seen:
        raise HostileArchive(f"archive entry {shown(member.name)} appears twice; refused, "
                             "nothing was written")
    seen.add(key)
    parents = Path(place.rel).parents
    for parent in parents:
        if (place.part.tree, str(parent)) in links:
            raise HostileArchive(f"archive entry {shown(member.name)} would be written through "
                                 f"the symlink {shown(str(parent))}; refused, nothing was "
                                 "written")
    if member.kind == "symlink":
        links.add(key)
        if not posixpath.isabs(member.link):
            root = str(place.part.root)
            pointed = posixpath.normpath(str(place.destination.parent / member.link))
            if pointed != root and not pointed.startswith(root.rstrip("/") + "/"):
                raise HostileArchive(
                    f"archive entry {shown(member.name)} is a symlink climbing out of {root} "
                    f"({shown(member.link)}); refused, nothing was written")


def check_space(parts: Sequence[Part], total: int, max_bytes: int | None) -> None:
    if max_bytes is not None:
        if total > max_bytes:
            raise UsageError(f"the archive's files hold {total} bytes, more than --max-bytes "
                             f"{max_bytes}; nothing was written")
        return
    if not parts:
        return
    folder = parts[0].tree  # the nearest existing folder of where the files go
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    free = shutil.disk_usage(folder).free
    if total > free - FREE_SPACE_MARGIN:
        raise UsageError(f"the archive's files hold {total} bytes but {folder} has "
                         f"{free} bytes free (keeping {FREE_SPACE_MARGIN} spare); nothing "
                         "was written; free space, or pass --max-bytes to set the limit")
