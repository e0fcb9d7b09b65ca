"""Git over workspace snapshots through libgit2 (`pygit2`, whose wheels carry the library): the three-way
merge, the history as a bundle, and the tree as a zip. No `git` executable is needed, so the same code
runs on Azure Functions' Python images (which have none) and on the local host (issue 22 §2).

Workspaces live in shared storage as snapshots (`app_data/workspaces.py`); git is a tool used on them,
never the store: each call builds the objects it needs in a throwaway bare repository in a temporary
folder. Commits are made with a fixed author, committer and date, so the same snapshots give the same
commit ids on every run (the ids `git commit-tree` gives for them too): a merge re-run after a crash, or
a bundle built twice, is byte-for-byte the same history.

The merge is libgit2's `git_merge_trees` (git's merge: xdiff's three-way file merge, rename detection),
and a conflicted file's text is `git_merge_file` in diff3 style, so the base is shown between the
markers. libgit2 has no bundle writer: a bundle is git's v2 bundle format (gitformat-bundle(5): a header
of refs, then a packfile), its packfile made by libgit2's pack builder.
"""
from __future__ import annotations

import io
import shutil
import tempfile
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pygit2
from pygit2 import C, ffi
from pygit2.enums import FileMode

FIXED_TIME = 946684800  # 2000-01-01T00:00:00Z
IDENTITY = pygit2.Signature("code swarm", "code-swarm@localhost", FIXED_TIME, 0)
LABELS = {"ancestor_label": b"base", "our_label": b"ours", "their_label": b"theirs"}


@dataclass
class Conflict:
    """One path git could not merge: its three versions (None where a side has no such file), and the
    merged text with git's conflict markers (diff3 style, so the base is shown too; for a file one side
    deleted, the side that kept it, as git leaves it). `clash` is set when the path is a file on one
    side and a folder on the other: the merged tree keeps the folder, and `clash` says what was dropped
    (a tree cannot hold both, so no integrator can resolve it in one file)."""

    path: str
    base: str | None
    ours: str | None
    theirs: str | None
    marked: str | None
    clash: str | None = None


@dataclass
class MergeResult:
    files: dict[str, bytes]
    conflicts: list[Conflict] = field(default_factory=list)


class Repo:
    """A throwaway bare repository in a temporary folder, for building trees and commits."""

    def __init__(self, root: Path):
        self.git = pygit2.init_repository(str(root), bare=True)

    def tree(self, files: dict[str, bytes]) -> pygit2.Oid:
        """The tree object of exactly `files`."""
        index = pygit2.Index()
        for path, data in sorted(files.items()):
            index.add(pygit2.IndexEntry(path, self.git.create_blob(data), FileMode.BLOB))
        return index.write_tree(self.git)

    def commit(self, files: dict[str, bytes], message: str, *parents: pygit2.Oid) -> pygit2.Oid:
        """A commit of exactly `files` with the given parents (no branch is moved). The message ends with a
        newline, as `git commit-tree -m` writes it."""
        return self.git.create_commit(None, IDENTITY, IDENTITY, message + "\n", self.tree(files), list(parents))

    def text(self, entry: pygit2.IndexEntry | None) -> str | None:
        return None if entry is None else self.git[entry.id].data.decode("utf-8", errors="replace")

    def merge_file(self, base: pygit2.IndexEntry | None, ours: pygit2.IndexEntry, theirs: pygit2.IndexEntry) -> bytes:
        """`git_merge_file_from_index` in diff3 style, labelled base/ours/theirs (pygit2's wrapper takes no
        options, so the C call is made through pygit2's own cffi binding). A binary file merges to ours, as
        git leaves it."""
        keep: list[Any] = []

        def c_entry(entry: pygit2.IndexEntry | None) -> Any:
            if entry is None:
                return ffi.NULL
            value = ffi.new("git_index_entry *")
            ffi.buffer(ffi.addressof(value, "id"))[:] = entry.id.raw
            value.mode = int(entry.mode)
            value.path = ffi.new("char[]", entry.path.encode())
            keep.extend((value, value.path))
            return value

        options = ffi.new("git_merge_file_options *")
        options.version = 1
        options.flags = C.GIT_MERGE_FILE_STYLE_DIFF3
        for name, label in LABELS.items():
            text = ffi.new("char[]", label)
            keep.append(text)
            setattr(options, name, text)
        result = ffi.new("git_merge_file_result *")
        pygit2.errors.check_error(C.git_merge_file_from_index(
            result, self.git._repo, c_entry(base), c_entry(ours), c_entry(theirs), options))
        try:
            if result.path == ffi.NULL:  # binary: libgit2 writes no markers
                return self.git[ours.id].data
            return ffi.buffer(result.ptr, result.len)[:]
        finally:
            C.git_merge_file_result_free(result)


@contextmanager
def temporary_repo() -> Iterator[Repo]:
    root = Path(tempfile.mkdtemp(prefix="code-swarm-git-"))
    try:
        yield Repo(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _folders(paths: set[str]) -> set[str]:
    return {path.rsplit("/", depth)[0] for path in paths for depth in range(1, path.count("/") + 1)}


def _drop_clashes(files: dict[str, bytes], conflicts: list[Conflict]) -> tuple[dict[str, bytes], list[Conflict]]:
    """Keep folders where a path is a file on one side and a folder on the other; the dropped file is a
    conflict whose `clash` says so (merged in by `three_way_merge`)."""
    folders = _folders(set(files))
    kept = {path: data for path, data in files.items() if path not in folders}
    by_path = {conflict.path: conflict for conflict in conflicts}
    for path in sorted(set(files) & folders):
        inside = sorted(other for other in files if other.startswith(path + "/"))
        reason = (f"{path} is a file on one side and a folder on the other ({', '.join(inside[:3])}"
                  f"{' ...' if len(inside) > 3 else ''}); the folder was kept and the file {path} dropped")
        conflict = by_path.get(path)
        if conflict is None:
            by_path[path] = conflict = Conflict(path, None, None, None, None)
        conflict.marked, conflict.clash = files[path].decode("utf-8", errors="replace"), reason
    return kept, sorted(by_path.values(), key=lambda conflict: conflict.path)


def three_way_merge(base: dict[str, bytes], ours: dict[str, bytes], theirs: dict[str, bytes]) -> MergeResult:
    """Merge `theirs` into `ours` with `base` as the merge base, by libgit2's merge of the three trees.

    `files` is the merged tree; a conflicted file holds git's conflict markers there until someone
    resolves it, and a file one side deleted and the other changed is kept (as git leaves it). A path
    that is a file on one side and a folder on the other keeps the folder (`Conflict.clash`). Pure in
    its inputs: the same three trees always give the same result."""
    with temporary_repo() as repo:
        trees = [repo.git[repo.tree(files)] for files in (base, ours, theirs)]
        index = repo.git.merge_trees(*trees)
        sides = list(index.conflicts or ())
        conflicted = {entry.path for triple in sides for entry in triple if entry is not None}
        files = {entry.path: repo.git[entry.id].data for entry in index if entry.path not in conflicted}
        conflicts = []
        for ancestor, mine, other in sides:
            if mine is None and other is None:  # gone on both sides (the base of a rename/rename conflict)
                continue
            path = (mine or other).path
            if mine is not None and other is not None:
                merged = repo.merge_file(ancestor, mine, other)
            else:  # deleted (or renamed away) on one side, changed on the other: kept, as git leaves it
                merged = repo.git[(mine or other).id].data
            files[path] = merged
            conflicts.append(Conflict(path, repo.text(ancestor), repo.text(mine), repo.text(other),
                                      merged.decode("utf-8", errors="replace")))
        files, conflicts = _drop_clashes(files, conflicts)
        return MergeResult(dict(sorted(files.items())), conflicts)


@dataclass
class Snapshot:
    """One commit of the history a bundle carries: its branch, message, files and parents (branch names)."""

    branch: str
    message: str
    files: dict[str, bytes]
    parents: list[str]


def bundle(snapshots: list[Snapshot], head: str) -> bytes:
    """A git bundle (v2) of the snapshots, each committed on its branch in order, HEAD at `head`:
    `git clone x.bundle` checks out `head` and lists every branch as a remote branch."""
    with temporary_repo() as repo:
        commits: dict[str, pygit2.Oid] = {}
        for snapshot in snapshots:
            commits[snapshot.branch] = repo.commit(snapshot.files, snapshot.message,
                                                   *[commits[parent] for parent in snapshot.parents])
        packer = pygit2.PackBuilder(repo.git)
        packer.set_threads(1)  # one thread: the same objects always give the same pack
        for commit in commits.values():
            packer.add_recur(commit)
        folder = Path(tempfile.mkdtemp(prefix="pack-", dir=repo.git.path))
        packer.write(str(folder))
        [pack] = folder.glob("*.pack")
        refs = "".join(f"{commit} refs/heads/{branch}\n" for branch, commit in sorted(commits.items()))
        header = f"# v2 git bundle\n{refs}{commits[head]} HEAD\n\n"
        return header.encode() + pack.read_bytes()


def zip_tree(files: dict[str, bytes], folder: str) -> bytes:
    """The files in a zip under `folder/`, with fixed timestamps (the same tree gives the same bytes)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in sorted(files.items()):
            info = zipfile.ZipInfo(f"{folder}/{path}", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            archive.writestr(info, data, zipfile.ZIP_DEFLATED)
    return buffer.getvalue()
