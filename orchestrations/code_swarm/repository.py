"""Git over workspace snapshots, in a temporary folder only: git's own three-way merge, the history as
a bundle, and the tree as a zip.

Workspaces live in shared storage as snapshots (`app_data/workspaces.py`); git is a tool used on them,
never the store. Commits are made with a fixed author, committer and date, so the same snapshots
give the same commit ids on every run: a merge re-run after a crash, or a bundle built twice, is
byte-for-byte the same history.

Needs the `git` command (2.30 or newer); without it the functions raise `GitUnavailable`, and
`require_git` lets a launcher refuse before any work is done. Azure Functions' Python images do not
install git (Azure/azure-functions-docker, host/4/bookworm/python/*: no git among their packages), so
on Azure the code swarm runs only where the app brings git (README, "Azure vs the local host").
"""
from __future__ import annotations

import io
import os
import shutil
import subprocess
import tempfile
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

GIT_TIMEOUT_SECONDS = 60
FIXED_DATE = "2000-01-01T00:00:00Z"
IDENTITY = {"GIT_AUTHOR_NAME": "code swarm", "GIT_AUTHOR_EMAIL": "code-swarm@localhost",
            "GIT_COMMITTER_NAME": "code swarm", "GIT_COMMITTER_EMAIL": "code-swarm@localhost",
            "GIT_AUTHOR_DATE": FIXED_DATE, "GIT_COMMITTER_DATE": FIXED_DATE}


class GitUnavailable(RuntimeError):
    """The `git` command is missing or failed; the message says which command and why."""


NO_GIT = ("the git command is not installed on this host; the code swarm needs it to merge the workers' "
          "branches (Azure Functions' Python images have no git: see README, Azure vs the local host)")


def require_git() -> None:
    """Raise `GitUnavailable` unless a `git` command is on PATH."""
    if shutil.which("git") is None:
        raise GitUnavailable(NO_GIT)


@dataclass
class Conflict:
    """One file git could not merge: its three versions (None where a side has no such file) and the
    merged text with git's conflict markers (diff3 style, so the base is shown too)."""

    path: str
    base: str | None
    ours: str | None
    theirs: str | None
    marked: str | None


@dataclass
class MergeResult:
    files: dict[str, bytes]
    conflicts: list[Conflict] = field(default_factory=list)


class Repo:
    """A throwaway git repository in a temporary folder."""

    def __init__(self, root: Path):
        self.root = root
        self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(root),
                    "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "LC_ALL": "C", **IDENTITY}

    def git(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        try:
            done = subprocess.run(["git", "-c", "core.autocrlf=false", "-c", "merge.conflictstyle=diff3",
                                   "-c", "init.defaultBranch=base", *args], cwd=self.root / "tree",
                                  env=self.env, capture_output=True, timeout=GIT_TIMEOUT_SECONDS)
        except FileNotFoundError:
            raise GitUnavailable(NO_GIT) from None
        if check and done.returncode != 0:
            raise GitUnavailable(f"git {' '.join(args[:2])} failed: {done.stderr.decode(errors='replace')[:500]}")
        return done

    @property
    def tree(self) -> Path:
        return self.root / "tree"

    def set_tree(self, files: dict[str, bytes]) -> None:
        """Make the work tree and the index exactly `files`."""
        for entry in self.tree.iterdir():
            if entry.name != ".git":
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
        for path, data in files.items():
            target = self.tree / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        self.git("add", "-A")

    def commit(self, files: dict[str, bytes], message: str, *parents: str) -> str:
        """A commit of exactly `files` with the given parents (no branch is moved)."""
        self.set_tree(files)
        tree = self.git("write-tree").stdout.decode().strip()
        parent_args = [arg for parent in parents for arg in ("-p", parent)]
        return self.git("commit-tree", tree, *parent_args, "-m", message).stdout.decode().strip()

    def work_tree_files(self) -> dict[str, bytes]:
        return {path.relative_to(self.tree).as_posix(): path.read_bytes()
                for path in sorted(self.tree.rglob("*")) if path.is_file() and ".git" not in path.parts}

    def staged(self, stage: int, path: str) -> str | None:
        shown = self.git("show", f":{stage}:{path}", check=False)
        return shown.stdout.decode(errors="replace") if shown.returncode == 0 else None


@contextmanager
def temporary_repo() -> Iterator[Repo]:
    root = Path(tempfile.mkdtemp(prefix="code-swarm-git-"))
    try:
        (root / "tree").mkdir()
        repo = Repo(root)
        repo.git("init", "-q")
        yield repo
    finally:
        shutil.rmtree(root, ignore_errors=True)


def three_way_merge(base: dict[str, bytes], ours: dict[str, bytes], theirs: dict[str, bytes]) -> MergeResult:
    """Merge `theirs` into `ours` with `base` as the merge base, by `git merge` itself.

    `files` is the merged tree; a conflicted file holds git's conflict markers there until someone
    resolves it. Pure in its inputs: the same three trees always give the same result."""
    with temporary_repo() as repo:
        root = repo.commit(base, "base")
        ours_commit = repo.commit(ours, "ours", root)
        theirs_commit = repo.commit(theirs, "theirs", root)
        repo.git("checkout", "-q", "-f", ours_commit)
        merged = repo.git("merge", "-q", "--no-edit", "--no-ff", theirs_commit, check=False)
        unmerged = repo.git("diff", "--name-only", "-z", "--diff-filter=U").stdout.decode().split("\0")
        conflicts = [Conflict(path, repo.staged(1, path), repo.staged(2, path), repo.staged(3, path),
                              (repo.tree / path).read_text(errors="replace") if (repo.tree / path).is_file() else None)
                     for path in sorted(p for p in unmerged if p)]
        if merged.returncode != 0 and not conflicts:
            raise GitUnavailable(f"git merge failed: {merged.stderr.decode(errors='replace')[:500]}")
        return MergeResult(repo.work_tree_files(), conflicts)


@dataclass
class Snapshot:
    """One commit of the history a bundle carries: its branch, message, files and parents (branch names)."""

    branch: str
    message: str
    files: dict[str, bytes]
    parents: list[str]


def bundle(snapshots: list[Snapshot], head: str) -> bytes:
    """A git bundle of the snapshots, each committed on its branch in order, HEAD at `head`."""
    with temporary_repo() as repo:
        commits: dict[str, str] = {}
        for snapshot in snapshots:
            commits[snapshot.branch] = repo.commit(snapshot.files, snapshot.message,
                                                   *[commits[parent] for parent in snapshot.parents])
            repo.git("update-ref", f"refs/heads/{snapshot.branch}", commits[snapshot.branch])
        repo.git("symbolic-ref", "HEAD", f"refs/heads/{head}")
        target = repo.root / "workspace.bundle"
        repo.git("bundle", "create", "-q", str(target), "--all")
        return target.read_bytes()


def zip_tree(files: dict[str, bytes], folder: str) -> bytes:
    """The files in a zip under `folder/`, with fixed timestamps (the same tree gives the same bytes)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in sorted(files.items()):
            info = zipfile.ZipInfo(f"{folder}/{path}", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            archive.writestr(info, data, zipfile.ZIP_DEFLATED)
    return buffer.getvalue()
