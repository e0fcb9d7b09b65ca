"""Code-swarm workspaces in shared storage: a folder under `APP_DATA_DIR` locally, the `workspaces`
Blob Storage container on Azure (chosen like every app store, see `app_data/storage.py`).

A workspace belongs to one job and holds branches; a branch is a snapshot of files
(`path -> bytes`) at `<job_id>/<branch>/<path>`. Activities on Azure run on any instance, so nothing
lives on an instance's disk: a git repository is built from these snapshots in a temporary folder
only to merge and to bundle (`code_swarm/repository.py`). Every operation is idempotent, so a retried or
re-run activity leaves the same tree: `write` and `replace_branch` put whole contents, `delete` of a
missing file is a no-op, and a local write lands with an atomic rename (a crash mid-write leaves the
old file or the new one, never half of one).

Paths arrive normalised and checked (`code_names.normal_path`); job ids and branch names are
checked here again, so no caller can reach outside `<job_id>/<branch>/`. Concurrent jobs never
share a prefix.
"""
from __future__ import annotations

import os
import re
import shutil
import uuid
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Iterator, Protocol

from azure.core.exceptions import AzureError, ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import ContainerClient

from orchestrations.app_data.storage import (WORKSPACES_CONTAINER, StorageSettings, blob_service, make_data_dir,
                                            storage_settings)
from orchestrations.code_swarm.names import normal_path

JOB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9:_.\-]{0,127}$")
BRANCH = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,79}$")


def checked_prefix(job_id: str, branch: str) -> str:
    if not isinstance(job_id, str) or not JOB_ID.match(job_id):
        raise ValueError(f"malformed job id {job_id!r}")
    if not isinstance(branch, str) or not BRANCH.match(branch):
        raise ValueError(f"malformed branch name {branch!r}")
    return f"{job_id}/{branch}"


def checked_path(path: str) -> str:
    if normal_path(path) != path:
        raise ValueError(f"path {path!r} is not in its normal form {normal_path(path)!r}")
    return path


class WorkspaceStoreError(RuntimeError):
    """The store could not do an operation (a full disk, a storage error): the message names the file by its
    workspace path and the cause by its kind, never by a host path or a storage URL (it reaches models)."""


@contextmanager
def _failures(action: str, where: str) -> Iterator[None]:
    """Turn OSError and Azure storage errors into `WorkspaceStoreError("could not <action> <where>: ...")`;
    an OSError's text names host paths, so only its reason (`strerror`) is kept."""
    try:
        yield
    except OSError as error:
        raise WorkspaceStoreError(f"could not {action} {where}: {error.strerror or type(error).__name__}") from error
    except AzureError as error:
        code = getattr(error, "error_code", None) or type(error).__name__
        raise WorkspaceStoreError(f"could not {action} {where}: the storage service answered {code}") from error


class WorkspaceStore(Protocol):
    def files(self, job_id: str, branch: str) -> dict[str, int]:
        """Every file of a branch with its size in bytes, sorted by path; empty for a missing branch."""

    def read(self, job_id: str, branch: str, path: str) -> bytes | None:
        """A file's bytes, or None when the branch has no such file."""

    def write(self, job_id: str, branch: str, path: str, data: bytes) -> None:
        """Create or replace a file."""

    def delete(self, job_id: str, branch: str, path: str) -> bool:
        """Remove a file; False when it was not there."""

    def replace_branch(self, job_id: str, branch: str, files: dict[str, bytes]) -> None:
        """Make the branch exactly `files` (a fork, a merge result)."""

    def delete_job(self, job_id: str) -> None:
        """Remove every branch of a job's workspace."""

    def last_writes(self) -> dict[str, datetime]:
        """Every job's workspace with the time of its latest write (UTC), for retention."""


class LocalWorkspaces:
    """Branches as folders: `<data_dir>/workspaces/<job_id>/<branch>/<path>`."""

    def __init__(self, data_dir: Path):
        self.root = make_data_dir(Path(data_dir) / "workspaces")

    def _branch_dir(self, job_id: str, branch: str) -> Path:
        return self.root / checked_prefix(job_id, branch)

    def files(self, job_id: str, branch: str) -> dict[str, int]:
        base = self._branch_dir(job_id, branch)
        with _failures("list", branch):
            if not base.is_dir():
                return {}
            found = {path.relative_to(base).as_posix(): path.stat().st_size
                     for path in base.rglob("*") if path.is_file() and not path.is_symlink()
                     and not path.name.startswith(".tmp-")}
        return dict(sorted(found.items()))

    def read(self, job_id: str, branch: str, path: str) -> bytes | None:
        target = self._branch_dir(job_id, branch) / checked_path(path)
        with _failures("read", f"{branch}:{path}"):
            return target.read_bytes() if target.is_file() and not target.is_symlink() else None

    @staticmethod
    def _atomic_write(target: Path, data: bytes) -> None:
        """Written beside the target, then renamed over it; the temporary file goes whatever happens."""
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.parent / f".tmp-{uuid.uuid4().hex}"
        try:
            with open(temporary, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, target)
        finally:
            temporary.unlink(missing_ok=True)

    def write(self, job_id: str, branch: str, path: str, data: bytes) -> None:
        with _failures("write", f"{branch}:{path}"):
            self._atomic_write(self._branch_dir(job_id, branch) / checked_path(path), data)

    def delete(self, job_id: str, branch: str, path: str) -> bool:
        base = self._branch_dir(job_id, branch)
        target = base / checked_path(path)
        with _failures("delete", f"{branch}:{path}"):
            if not target.is_file():
                return False
            target.unlink()
            for parent in target.parents:  # drop folders the delete left empty
                if parent == base or any(parent.iterdir()):
                    break
                parent.rmdir()
        return True

    def replace_branch(self, job_id: str, branch: str, files: dict[str, bytes]) -> None:
        """Built beside the branch, then swapped in with renames: a crash leaves the old branch, the new
        one, or none (which the re-run activity builds again), never a mix."""
        target = self._branch_dir(job_id, branch)
        with _failures("replace", branch):
            for leftover in target.parent.glob(f"{branch}.*"):  # from a crash during an earlier swap
                shutil.rmtree(leftover, ignore_errors=True)
            staging = target.parent / f"{branch}.new-{uuid.uuid4().hex}"
            for path, data in files.items():
                self._atomic_write(staging / checked_path(path), data)
            staging.mkdir(parents=True, exist_ok=True)
            if target.exists():
                retired = target.parent / f"{branch}.old-{uuid.uuid4().hex}"
                target.rename(retired)
                staging.rename(target)
                shutil.rmtree(retired, ignore_errors=True)
            else:
                staging.rename(target)

    def delete_job(self, job_id: str) -> None:
        checked_prefix(job_id, "x")
        shutil.rmtree(self.root / job_id, ignore_errors=True)

    def last_writes(self) -> dict[str, datetime]:
        found = {}
        with _failures("list", "the workspaces"):
            for job in self.root.iterdir():
                if job.is_dir() and JOB_ID.match(job.name):
                    times = [entry.stat().st_mtime for entry in (job, *job.rglob("*"))]
                    found[job.name] = datetime.fromtimestamp(max(times), timezone.utc)
        return found


class BlobWorkspaces:
    """Branches as blobs named `<job_id>/<branch>/<path>` in the `workspaces` container."""

    def __init__(self, container: ContainerClient):
        self.container = container
        self._created = False

    def _ensure_container(self) -> None:
        if not self._created:
            try:
                self.container.create_container()
            except ResourceExistsError:
                pass
            self._created = True

    def files(self, job_id: str, branch: str) -> dict[str, int]:
        prefix = checked_prefix(job_id, branch) + "/"
        with _failures("list", branch):
            self._ensure_container()
            found = {blob.name[len(prefix):]: blob.size
                     for blob in self.container.list_blobs(name_starts_with=prefix)}
        return dict(sorted(found.items()))

    def read(self, job_id: str, branch: str, path: str) -> bytes | None:
        name = f"{checked_prefix(job_id, branch)}/{checked_path(path)}"
        with _failures("read", f"{branch}:{path}"):
            self._ensure_container()
            try:
                return self.container.download_blob(name).readall()
            except ResourceNotFoundError:
                return None

    def write(self, job_id: str, branch: str, path: str, data: bytes) -> None:
        name = f"{checked_prefix(job_id, branch)}/{checked_path(path)}"
        with _failures("write", f"{branch}:{path}"):
            self._ensure_container()
            self.container.upload_blob(name, data, overwrite=True)

    def delete(self, job_id: str, branch: str, path: str) -> bool:
        name = f"{checked_prefix(job_id, branch)}/{checked_path(path)}"
        with _failures("delete", f"{branch}:{path}"):
            self._ensure_container()
            try:
                self.container.delete_blob(name)
                return True
            except ResourceNotFoundError:
                return False

    def replace_branch(self, job_id: str, branch: str, files: dict[str, bytes]) -> None:
        for path in self.files(job_id, branch):
            if path not in files:
                self.delete(job_id, branch, path)
        for path, data in files.items():
            self.write(job_id, branch, path, data)

    def delete_job(self, job_id: str) -> None:
        prefix = checked_prefix(job_id, "x").rsplit("/", 1)[0] + "/"
        with _failures("delete", job_id):
            self._ensure_container()
            for blob in self.container.list_blobs(name_starts_with=prefix):
                self.container.delete_blob(blob.name)

    def last_writes(self) -> dict[str, datetime]:
        found: dict[str, datetime] = {}
        with _failures("list", "the workspaces"):
            self._ensure_container()
            for blob in self.container.list_blobs():
                job = blob.name.split("/", 1)[0]
                if blob.last_modified and (job not in found or blob.last_modified > found[job]):
                    found[job] = blob.last_modified
        return found


@lru_cache(maxsize=8)
def _blob_workspaces(settings: StorageSettings) -> BlobWorkspaces:
    return BlobWorkspaces(blob_service(settings).get_container_client(WORKSPACES_CONTAINER))


def workspace_store(settings: StorageSettings | None = None) -> WorkspaceStore:
    """The workspace store the configuration names (see `app_storage.storage_settings`)."""
    settings = settings or storage_settings()
    return _blob_workspaces(settings) if settings.kind == "azure" else LocalWorkspaces(settings.data_dir)


def remove_expired(store: WorkspaceStore, older_than: timedelta, now: datetime | None = None) -> list[str]:
    """Delete every job's workspace whose latest write is older than `older_than`; the job ids removed."""
    cutoff = (now or datetime.now(timezone.utc)) - older_than
    expired = sorted(job for job, written in store.last_writes().items() if written < cutoff)
    for job in expired:
        store.delete_job(job)
    return expired


def read_branch(store: WorkspaceStore, job_id: str, branch: str) -> dict[str, bytes]:
    """Every file of a branch with its contents."""
    return {path: store.read(job_id, branch, path) or b"" for path in store.files(job_id, branch)}
