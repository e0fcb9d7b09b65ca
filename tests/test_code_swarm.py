"""run_code_swarm (issue 12): the deterministic parts tested directly (names, plan, guardrails, git merge,
workspace stores on local folders and on Azurite's Blob service, tool limits, the bubblewrap sandbox), and
whole jobs on the real host with the scripted model (testing/model_scripts/code_swarm.py), followed over
MCP with the official client: every numbered step, the downloads and resources, the Blob backend, a
placeholder resolution rejected, generated tests confined, and SIGKILL during a write, a merge and checks."""
from __future__ import annotations

import io
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
import ruff

from orchestrations.app_data.storage import storage_settings
from orchestrations.app_data.workspaces import BlobWorkspaces, LocalWorkspaces, read_branch, workspace_store
from orchestrations.code_swarm import bubblewrap
from orchestrations.code_swarm import checks as code_checks
from orchestrations.code_swarm.file_tools import MAX_FILE_BYTES, MAX_FILES, check_write, workspace_merge, write_file
from orchestrations.code_swarm.guardrails import resolution_problems
from orchestrations.code_swarm.names import BadName, normal_name, normal_path
from orchestrations.code_swarm.plan import normalise_code_plan
from orchestrations.code_swarm.repository import Snapshot, bundle, three_way_merge
from orchestrations.payloads import PAYLOAD_BUDGET_BYTES, result_bytes
from orchestrations.swarm.plan import PlanError
from testing.durable_http import DurableHttp
from testing.host_process import TEST_KEYS, project_host
from testing.mcp_client import call, call_error, connect, wait_until
from testing.model_scripts import code_swarm as todo

pytestmark = pytest.mark.job("run_code_swarm")  # make test-job JOB=run_code_swarm

SCRIPTED_CALLS = {"code-planner": 1, "code-worker-1": 4, "code-worker-parser_cli": 4, "code-worker-3": 4,
                  "code-integrator": 1, "code-judge": 2, "code-fixer": 4}


# ---------------------------------------------------------------------------------------------
# Deterministic parts, tested directly


def test_one_spelling_for_names_and_paths():
    assert [normal_name(raw) for raw in (3, "3", "Parser-CLI", " parser_cli ", "Task 3")] == \
        ["3", "3", "parser_cli", "parser_cli", "task_3"]
    assert normal_path("Todo-CLI/Storage-Layer.PY") == "todo_cli/storage_layer.py"
    assert normal_path("todo/./__init__.py") == "todo/__init__.py"
    assert normal_path(".git/config") == "_git/config"  # no path can reach a .git folder
    for bad, reason in (("/etc/passwd", "absolute"), ("../x.py", "leaves the workspace"), ("a/../../b", "leaves"),
                        ("C:/x.py", "absolute"), ("", "non-empty"), ("/".join("a" * 9), "deeper")):
        with pytest.raises(BadName, match=reason):
            normal_path(bad)


def test_the_plan_is_normalised_with_one_owner_per_file():
    plan = normalise_code_plan({
        "contract": "todo", "modules": [{"path": "todo/Storage.py", "symbols": ["Store.add(x) -> int", "Store"]}],
        "tasks": {"a": {"id": 1, "instructions": "store", "files": "todo/storage.py"},
                  "b": {"id": "Parser-CLI", "instructions": "parse", "files": ["todo/storage.py", "todo/parser.py",
                                                                              "../escape.py"]},
                  "c": {"id": "x", "instructions": ""}, "d": {"id": 4, "instructions": "more"}}}, max_workers=2)
    assert [task["id"] for task in plan["tasks"]] == ["1", "parser_cli"]
    assert plan["modules"] == [{"path": "todo/storage.py", "symbols": ["Store.add", "Store"], "purpose": ""}]
    assert plan["owners"] == {"todo/storage.py": "1", "todo/parser.py": "parser_cli"}
    assert plan["dropped"] == ["task parser_cli: todo/storage.py is owned by task 1",
                               "task parser_cli: file '../escape.py' removed ('../escape.py' leaves the workspace "
                               "('..' is not allowed))", "task x: no instructions and no title",
                               "task 4: over the limit of 2 workers, folded into task 1"]
    with pytest.raises(PlanError, match="no contract"):
        normalise_code_plan({"tasks": [{"instructions": "x"}]}, 3)


def test_guardrails_reject_markers_placeholders_and_dropped_sides():
    ours, theirs = todo.INIT_STORAGE, todo.INIT_PARSER
    symbols = ["open_store", "parse"]
    assert resolution_problems("todo/__init__.py", todo.INIT_RESOLVED, ours, theirs, None, symbols) == []
    hollow = todo.INIT_RESOLVED.replace('    return TodoStore(path)\n', '    ...\n')
    assert resolution_problems("todo/__init__.py", hollow, ours, theirs, None, symbols) == \
        ["implementations were replaced by placeholders: open_store"]
    assert "names defined on the theirs side were dropped: parse, parse_args" in \
        resolution_problems("todo/__init__.py", ours, ours, theirs, None, symbols)[1]
    marked = three_way_merge({}, {"a.py": ours.encode()}, {"a.py": theirs.encode()}).conflicts[0].marked
    assert "conflict markers" in resolution_problems("a.py", marked, ours, theirs, None)[0]
    assert resolution_problems("notes.md", "only ours\n", "only ours\n", "theirs line\n", "") == \
        ["everything the theirs side added was dropped"]
    assert "adds a TODO" in resolution_problems("a.md", "x\ny # TODO\n", "x\n", "y\n", "")[-1]


def test_git_merges_cleanly_where_it_can_and_reports_real_conflicts():
    base = {"a.py": b"x = 1\n\n\ndef f():\n    pass\n\n\ny = 2\n"}
    ours = {"a.py": base["a.py"].replace(b"x = 1", b"x = 10")}
    theirs = {"a.py": base["a.py"].replace(b"y = 2", b"y = 20"), "b.py": b"z = 3\n"}
    clean = three_way_merge(base, ours, theirs)
    assert clean.conflicts == [] and clean.files == {"a.py": ours["a.py"].replace(b"y = 2", b"y = 20"),
                                                     "b.py": b"z = 3\n"}
    clash = three_way_merge(base, ours, {"a.py": base["a.py"].replace(b"x = 1", b"x = 11")})
    [conflict] = clash.conflicts
    assert (conflict.base, conflict.ours) == (base["a.py"].decode(), ours["a.py"].decode())
    assert "<<<<<<<" in conflict.marked and "|||||||" in conflict.marked  # diff3: the base is shown too


def test_a_file_folder_clash_keeps_the_folder_and_says_what_was_dropped():
    """One side writes a file `todo`, the other a package `todo/` (issue 22 §3.6): git would leave `todo~HEAD`;
    the merge keeps the folder, and the dropped file is a conflict whose `clash` says so."""
    for ours, theirs in (({"todo": b"x\n"}, {"todo/__init__.py": b"y\n"}), ({"todo/__init__.py": b"y\n"}, {"todo": b"x\n"})):
        merged = three_way_merge({}, ours, theirs)
        assert merged.files == {"todo/__init__.py": b"y\n"}
        [clash] = merged.conflicts
        assert (clash.path, clash.marked) == ("todo", "x\n")
        assert clash.clash == ("todo is a file on one side and a folder on the other (todo/__init__.py); the folder "
                               "was kept and the file todo dropped")


def test_bundles_hold_the_commits_git_makes_and_are_built_the_same_twice(tmp_path):
    """The history's commit ids are those `git commit-tree` gives the same trees (git as a client, with the
    fixed identity and date), so bundles made before and after the move to libgit2 agree."""
    files = {"todo/a.py": b"a = 1\n", "README.md": b"hi\n"}
    snapshots = [Snapshot("base", "base: the starting tree", {}, []),
                 Snapshot("worker-1", "worker-1: the worker's changes", files, ["base"])]
    data = bundle(snapshots, "worker-1")
    assert data == bundle(snapshots, "worker-1") and data.startswith(b"# v2 git bundle\n")
    head, branches, cloned_files = cloned(data, tmp_path / "from-bundle")
    assert branches == ["origin/HEAD", "origin/base", "origin/worker-1"]
    assert cloned_files == {path: text.decode() for path, text in files.items()}
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "GIT_CONFIG_NOSYSTEM": "1",
           **{f"GIT_{who}_{what}": value for who in ("AUTHOR", "COMMITTER")
              for what, value in (("NAME", "code swarm"), ("EMAIL", "code-swarm@localhost"),
                                  ("DATE", "2000-01-01T00:00:00Z"))}}
    git = tmp_path / "by-git"
    for path, text in files.items():
        (git / path).parent.mkdir(parents=True, exist_ok=True)
        (git / path).write_bytes(text)

    def run(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=git, env=env, input="", capture_output=True, text=True,
                              check=True).stdout.strip()

    run("init", "-q")
    base = run("commit-tree", run("mktree", "--missing"), "-m", "base: the starting tree")
    run("add", "-A")
    assert head == run("commit-tree", run("write-tree"), "-p", base, "-m", "worker-1: the worker's changes")


@pytest.fixture(params=["local", "blob"])
def store(request, tmp_path):
    if request.param == "local":
        return LocalWorkspaces(tmp_path)
    chosen = workspace_store(storage_settings({"APP_STORAGE": request.getfixturevalue("azurite").connection_string}))
    assert isinstance(chosen, BlobWorkspaces)
    return chosen


def test_workspaces_are_idempotent_and_isolated(store, tmp_path):
    job, other = f"job-{tmp_path.name[-20:]}", f"other-{tmp_path.name[-20:]}"
    for _ in range(2):  # a retried or replayed write leaves the same tree
        store.write(job, "worker-1", "todo/a.py", b"a = 1\n")
    store.write(other, "worker-1", "todo/secret.py", b"s = 1\n")
    assert store.files(job, "worker-1") == {"todo/a.py": 6}
    assert store.files(other, "worker-1") == {"todo/secret.py": 6}  # concurrent jobs never share files
    for _ in range(2):
        store.replace_branch(job, "merge-1", {"b.py": b"b\n", "todo/c.py": b"c\n"})
    assert read_branch(store, job, "merge-1") == {"b.py": b"b\n", "todo/c.py": b"c\n"}
    store.replace_branch(job, "merge-1", {"b.py": b"B\n"})
    assert read_branch(store, job, "merge-1") == {"b.py": b"B\n"}
    assert store.delete(job, "merge-1", "b.py") and not store.delete(job, "merge-1", "b.py")
    for job_id, branch, path in ((job, "worker-1", "../x.py"), ("../x", "worker-1", "a.py"), (job, "../b", "a.py"),
                                 (job, "worker-1", "Todo/A.py")):
        with pytest.raises(ValueError):
            store.write(job_id, branch, path, b"")
    store.delete_job(job)
    assert store.files(job, "worker-1") == {} and store.files(other, "worker-1") == {"todo/secret.py": 6}


def test_file_tools_are_bounded_with_clear_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("APP_DATA_DIR", str(tmp_path))
    call = {"job_id": "job-1", "branch": "worker-1"}
    assert write_file({**call, "path": "todo/Data-Store.py", "content": "x = 1\n"}) == \
        "Wrote todo/data_store.py (normalised from 'todo/Data-Store.py'): 6 bytes."
    assert write_file({**call, "path": "/etc/cron.d/x", "content": ""}).startswith("Error: '/etc/cron.d/x' is absolute")
    assert write_file({**call, "path": "big.py", "content": "x" * (MAX_FILE_BYTES + 1)}) == \
        f"Error: big.py would be {MAX_FILE_BYTES + 1} bytes; a file may have at most {MAX_FILE_BYTES}"
    with pytest.raises(ValueError, match=f"the limit is {MAX_FILES}"):
        check_write({f"f{n}.py": 1 for n in range(MAX_FILES)}, "one_more.py", 1)
    with pytest.raises(ValueError, match="the workspace would hold"):
        check_write({"a.py": MAX_FILE_BYTES} | {f"f{n}.py": MAX_FILE_BYTES for n in range(9)}, "b.py", MAX_FILE_BYTES)


def test_a_merge_hands_the_integrator_no_more_than_a_step_output_can_hold(tmp_path, monkeypatch):
    monkeypatch.setenv("APP_DATA_DIR", str(tmp_path))
    store = LocalWorkspaces(tmp_path)
    big = [f"x{n} = '{'a' * 100_000}'\n" for n in range(3)]
    store.replace_branch("job-1", "ours", {f"f{n}.py": big[n].encode() for n in range(3)})
    store.replace_branch("job-1", "theirs", {f"f{n}.py": big[n].replace("x", "y").encode() for n in range(3)})
    merged = workspace_merge({"job_id": "job-1", "base": "base", "ours": "ours", "theirs": "theirs", "into": "m"})
    assert [c["too_large"] for c in merged["conflicts"]] == [False, False, True]  # 400 kB each
    assert merged["conflicts"][2]["ours"] is None and result_bytes(merged) <= PAYLOAD_BUDGET_BYTES


def escape_tests(port: int, secret_file: Path) -> bytes:
    """Generated tests that pass only if they get out: a socket to a listening port, a file outside the
    workspace, an environment secret."""
    return f'''import os
import socket


def test_opens_a_network_socket():
    socket.create_connection(("127.0.0.1", {port}), timeout=2).close()


def test_reads_a_file_outside_the_workspace():
    assert open({str(secret_file)!r}).read() == "s3cret"


def test_reads_an_environment_secret():
    assert os.environ["OPENAI_API_KEY"] == "test-key"
'''.encode()


def test_the_sandbox_confines_generated_tests(tmp_path, monkeypatch):
    assert code_checks.sandbox_kind() == "bubblewrap", "bubblewrap must be installed (.ci/run installs it)"
    secret = tmp_path / "secret.txt"
    secret.write_text("s3cret")
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        files = {"tests/test_escape.py": escape_tests(listener.getsockname()[1], secret)}
        # outside the sandbox every one of them gets out, so each failure below is the sandbox's doing
        (tmp_path / "unconfined").mkdir()
        (tmp_path / "unconfined" / "test_escape.py").write_bytes(files["tests/test_escape.py"])
        unconfined = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                     str(tmp_path / "unconfined")], capture_output=True, text=True, check=False)
        assert "3 passed" in unconfined.stdout, unconfined.stdout
        checks = code_checks.run_checks(files)
    tests = checks["tests"]
    assert tests["ran"] and not tests["ok"] and "3 failed" in tests["output"], tests
    assert "Network is unreachable" in tests["output"] or "ConnectionRefused" in tests["output"]
    assert "FileNotFoundError" in tests["output"] and "KeyError: 'OPENAI_API_KEY'" in tests["output"]


def test_the_sandbox_runs_a_project_cloned_under_tmp(monkeypatch):
    """The project and its venv under /tmp (where a user or CI may clone), paths with spaces, TMPDIR
    inside the project: no mount of the sandbox (its private /tmp, the workspace) hides the Python
    that runs the tests. The venv is this one, reached through a folder made under /tmp."""
    root = Path(tempfile.mkdtemp(prefix="code swarm trial ", dir="/tmp"))
    try:
        project = root / "my project"
        (project / "tmp files").mkdir(parents=True)
        (project / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
        python = str(project / ".venv" / "bin" / Path(sys.executable).name)
        assert all(folder.startswith(str(root)) for folder in bubblewrap.python_folders(python)[:1])
        monkeypatch.setattr(tempfile, "tempdir", str(project / "tmp files"))
        tests = code_checks.run_tests({"test_where.py": (
            "import os\nimport sys\n\n\ndef test_where():\n"
            f"    assert sys.prefix == {str(project / '.venv')!r}\n"
            "    assert os.listdir('.') == ['test_where.py']\n"
            "    open('written.txt', 'w').write('ok')\n"
            "    assert open('written.txt').read() == 'ok'\n").encode()}, python)
        assert tests["ran"] and tests["ok"] and "1 passed" in tests["output"], tests
    finally:
        shutil.rmtree(root)


@pytest.mark.parametrize("pythons", [("/tmp/trial/.venv", "/opt/python/3.13"),
                                     ("/workspace/trial/.venv", "/workspace/trial/.venv/lib/python3.13/site-packages"),
                                     ("/tmp/code-swarm-checks-1/.venv",)])
def test_no_sandbox_mount_hides_an_earlier_one(pythons, monkeypatch):
    """Every mount comes after the mounts of its ancestors, whatever the Python folders are (bwrap
    applies mounts in order: a later mount above a path hides what an earlier one put there)."""
    monkeypatch.setattr(Path, "is_dir", lambda self: True)
    arguments = bubblewrap.sandbox_mounts(Path("/tmp/code-swarm-checks-2"), pythons)
    order, at = [], 0
    while at < len(arguments):
        option = arguments[at]
        if option in ("--perms", "--size"):
            at += 2
            continue
        skip = 1 if option in ("--tmpfs", "--proc", "--dev", "--dir") else 2
        order.append(arguments[at + skip])
        at += skip + 1
    for later, path in enumerate(order):
        assert not any(Path(path) in Path(other).parents for other in order[:later]), (path, order)
    assert {"/tmp", "/tmp/code-swarm-checks-2"} <= set(order) and set(pythons) & set(order)


def test_the_sandbox_stops_runaway_tests(monkeypatch):
    monkeypatch.setattr(code_checks, "CHECK_TIMEOUT_SECONDS", 5)
    slow = code_checks.run_checks({"test_slow.py": b"import time\n\n\ndef test_sleeps():\n    time.sleep(60)\n"})
    assert slow["tests"]["reason"] == "the tests ran longer than 5 s and were stopped" and not slow["ok"]
    hungry = code_checks.run_checks({"test_hungry.py": b"def test_eats():\n    assert len(bytearray(2 << 30))\n"})
    assert not hungry["tests"]["ok"] and "MemoryError" in hungry["tests"]["output"]


def test_ruff_runs_where_the_app_packages_come_from_pythonpath(tmp_path):
    """Azure's layout: the interpreter has none of the app's packages; the worker puts
    `.python_packages/lib/site-packages` (pip --target: packages, and their scripts in `bin/`) on
    PYTHONPATH. Ruff must run there too, and get no environment but PATH and HOME."""
    base = Path(sys.base_prefix) / "bin" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
    assert subprocess.run([str(base), "-s", "-c", "import ruff"], capture_output=True, env={}).returncode != 0
    packages = tmp_path / ".python_packages" / "lib" / "site-packages"
    (packages / "bin").mkdir(parents=True)
    (packages / "ruff").symlink_to(Path(ruff.__file__).parent, target_is_directory=True)
    (packages / "bin" / "ruff").symlink_to(ruff.find_ruff_bin())
    project = Path(code_checks.__file__).parents[2]
    script = ("import json, pathlib, sys; from orchestrations.code_swarm.checks import run_ruff; "
              "folder = pathlib.Path(sys.argv[1]); (folder / 'a.py').write_text('import os\\n'); "
              "print(json.dumps(run_ruff(folder)))")
    (tmp_path / "tree").mkdir()
    done = subprocess.run([str(base), "-s", "-c", script, str(tmp_path / "tree")], capture_output=True, text=True,
                          env={"PYTHONPATH": f"{packages}:{project}", "PATH": "/usr/bin:/bin"}, check=True)
    ruff_result = json.loads(done.stdout)
    assert not ruff_result["ok"] and "a.py:1:8: F401" in ruff_result["output"], ruff_result


def test_without_a_sandbox_only_parse_and_ruff_run(monkeypatch):
    monkeypatch.setenv("CHECK_SANDBOX", "none")
    checks = code_checks.run_checks({"a.py": b"import os\n", "b.py": b"def f(:\n", "test_a.py": b"def test_a(): pass\n"})
    assert checks["parse"] == {"ok": False, "errors": ["b.py:1: invalid syntax"]}
    assert not checks["ruff"]["ok"] and "F401" in checks["ruff"]["output"]
    clean = code_checks.run_checks({"test_a.py": b"def test_a():\n    assert True\n"})
    assert clean["ok"] and not clean["tests"]["ran"] and "no sandbox" in clean["tests"]["reason"]


# ---------------------------------------------------------------------------------------------
# Whole jobs on the real host


@pytest.fixture(scope="module")
def app_data(tmp_path_factory):
    return tmp_path_factory.mktemp("code-appdata")


@pytest.fixture(scope="module")
def host(tmp_path_factory, model, app_data):
    process = project_host(tmp_path_factory.mktemp("code-swarm"), model, APP_DATA_DIR=str(app_data)).start()
    yield process
    process.stop()


async def start_code_swarm(host, **arguments) -> str:
    """Launch the job over MCP with the official client; its job_id."""
    async with connect(host) as client:
        job = await call(client, "run_code_swarm", **{"goal": todo.GOAL, "max_workers": 3, **arguments})
    assert job["workflow"] == "run_code_swarm" and job["status"] in ("pending", "running"), job
    return job["job_id"]


async def finished(host, job_id: str, timeout: float = 240) -> dict:
    async with connect(host) as client:
        return await wait_until(client, job_id, timeout=timeout)


async def tree_over_mcp(host, job_id: str) -> dict[str, str]:
    async with connect(host) as client:
        listing = json.loads((await client.read_resource(f"workspace://{job_id}/files")).contents[0].text)
        return {entry["path"]: (await client.read_resource(entry["uri"])).contents[0].text
                for entry in listing["files"]}


def download(host, job_id: str, kind: str, key: str | None = TEST_KEYS["FUNCTIONS_DEFAULT_KEY"]) -> httpx.Response:
    headers = {"x-functions-key": key} if key else {}
    return httpx.get(f"{host.base_url}/api/workspaces/{job_id}/{kind}", headers=headers, timeout=60)


def cloned(data: bytes, folder: Path) -> tuple[str, list[str], dict[str, str]]:
    """HEAD commit, branches and HEAD's files of a git bundle, by git itself."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "job.bundle").write_bytes(data)
    subprocess.run(["git", "clone", "-q", str(folder / "job.bundle"), str(folder / "clone")], check=True)
    git = ["git", "-C", str(folder / "clone")]
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    branches = subprocess.run([*git, "branch", "-r", "--format=%(refname:short)"], capture_output=True, text=True,
                              check=True).stdout.split()
    files = {path.relative_to(folder / "clone").as_posix(): path.read_text()
             for path in (folder / "clone").rglob("*") if path.is_file() and ".git" not in path.parts}
    return head, sorted(branches), files


async def test_code_swarm_builds_a_tested_todo_cli(host, model, app_data, tmp_path):
    model.reset()
    model.script(todo.SCRIPT)
    job_id = await start_code_swarm(host)
    job = await finished(host, job_id)
    assert job["status"] == "completed", job
    out = job["output"]
    # 1. contract-first plan, every name in its one spelling
    assert [task["id"] for task in out["plan"]["tasks"]] == ["1", "parser_cli", "3"]
    assert out["plan"]["owners"]["tests/test_parser.py"] == "parser_cli"
    assert out["plan"]["modules"][0]["symbols"] == ["TodoStore", "TodoStore.add", "TodoStore.list", "TodoStore.done"]
    # 2. a branch per worker, changed through the file tools (the model wrote tests/test-parser.py)
    branches = {part["task_id"]: part for part in out["branches"]}
    assert [part["branch"] for part in out["branches"]] == ["worker-1", "worker-parser_cli", "worker-3"]
    assert branches["parser_cli"]["changes"]["added"] == ["tests/test_parser.py", "todo/__init__.py", "todo/parser.py"]
    # 3. validated by its branch: the CLI worker claimed success without a write, was nudged, then wrote
    assert branches["3"]["attempts"] == 2 and "changed no file on its branch" in branches["3"]["problems"][0]
    assert out["gaps"] == []
    # 4. git merged what it could; the one real conflict went to the integrator and passed the guardrails
    assert [(m["branch"], m["clean"]) for m in out["merges"]] == [("worker-1", True), ("worker-parser_cli", False),
                                                                 ("worker-3", True)]
    assert out["merges"][1]["conflicts"] == [{"path": "todo/__init__.py", "status": "resolved", "attempts": 1,
                                              "rejected": []}]
    # 5. the checks caught the failing test, the fixer repaired it in place, the checks and judge passed
    [first] = out["quality_history"]
    assert first["score"] == 55 and not first["checks"]["tests"]["ok"]
    assert "test_done_marks_the_item" in first["checks"]["tests"]["output"]
    assert out["checks"]["ok"] and out["checks"]["tests"]["sandbox"] == "bubblewrap"
    assert "5 passed" in out["checks"]["tests"]["output"] and out["checks"]["ruff"]["ok"]
    assert (out["score"], out["rounds"], out["passed"]) == (92, 1, True)
    # 6. output: the tree, as MCP resources, and as downloads behind the function key
    assert out["tree"] == [{"path": path, "size": len(todo.FINAL_TREE[path].encode())}
                           for path in sorted(todo.FINAL_TREE)]
    assert await tree_over_mcp(host, job_id) == todo.FINAL_TREE
    async with connect(host) as client:
        templates = {t.uri_template for t in (await client.list_resource_templates()).resource_templates}
        assert {"workspace://{job_id}/files", "workspace://{job_id}/file/{path}"} <= templates
        text = (await client.read_resource(f"workspace://{job_id}/file/{quote('todo/storage.py', safe='')}"))
        assert text.contents[0].text == todo.FINAL_TREE["todo/storage.py"]
    origin = job["links"]["status_url"].split("/runtime/webhooks/")[0]
    assert job["links"]["zip_url"] == f"{origin}/api/workspaces/{job_id}/zip"
    assert job["links"]["bundle_url"].endswith(f"/api/workspaces/{job_id}/bundle")
    assert "code=" not in json.dumps(job["links"]) + json.dumps(out["downloads"])
    assert download(host, job_id, "zip", key=None).status_code == 401
    archive = zipfile.ZipFile(io.BytesIO(download(host, job_id, "zip").content))
    assert {name.split("/", 1)[1]: archive.read(name).decode() for name in archive.namelist()} == todo.FINAL_TREE
    head, remote_branches, files = cloned(download(host, job_id, "bundle").content, tmp_path)
    assert files == todo.FINAL_TREE
    assert remote_branches == sorted(f"origin/{b}" for b in ["HEAD", "base", "integration", "merge-1", "merge-2",
                                                               "merge-3", "worker-1", "worker-3", "worker-parser_cli"])
    assert head == expected_history_head(tmp_path / "expected")
    assert download(host, "no-such-job", "zip").status_code == 404
    assert model.stats().by_agent == SCRIPTED_CALLS


async def test_code_swarm_on_blob_storage(tmp_path, model, azurite):
    """The same job with workspaces in Azurite's Blob service: nothing is written under APP_DATA_DIR."""
    model.reset()
    model.script(todo.SCRIPT)
    local = tmp_path / "appdata"
    host = project_host(tmp_path / "state", model, APP_STORAGE=azurite.connection_string,
                        APP_DATA_DIR=str(local)).start()
    try:
        job_id = await start_code_swarm(host)
        job = await finished(host, job_id)
        assert job["status"] == "completed" and job["output"]["checks"]["ok"], job
        assert await tree_over_mcp(host, job_id) == todo.FINAL_TREE
        bundle = download(host, job_id, "bundle").content
    finally:
        host.stop()
    blobs = workspace_store(storage_settings({"APP_STORAGE": azurite.connection_string}))
    assert read_branch(blobs, job_id, "integration") == {p: t.encode() for p, t in todo.FINAL_TREE.items()}
    assert set(blobs.files(job_id, "worker-3")) == {"todo/cli.py", "tests/test_cli.py"}
    assert cloned(bundle, tmp_path)[2] == todo.FINAL_TREE
    assert not (local / "workspaces").exists()


def expected_history_head(folder: Path) -> str:
    """The HEAD commit of the history the scripted job must produce, built from the script's files with the
    app's own bundle code: the same trees in the same order give the same commit ids."""
    base: dict[str, bytes] = {}
    worker_1 = {"todo/storage.py": todo.STORE, "tests/test_storage.py": todo.STORE_TESTS,
                "todo/__init__.py": todo.INIT_STORAGE}
    worker_2 = {"todo/parser.py": todo.PARSER, "tests/test_parser.py": todo.PARSER_TESTS,
                "todo/__init__.py": todo.INIT_PARSER}
    worker_3 = {"todo/cli.py": todo.CLI, "tests/test_cli.py": todo.CLI_TESTS}
    merge_2 = {**worker_1, **worker_2, "todo/__init__.py": todo.INIT_RESOLVED}
    encoded = [{path: text.encode() for path, text in tree.items()}
               for tree in (worker_1, worker_2, worker_3, worker_1, merge_2, {**merge_2, **worker_3}, todo.FINAL_TREE)]
    snapshots = [Snapshot("base", "base: the starting tree", base, []),
                 *[Snapshot(f"worker-{name}", f"worker-{name}: the worker's changes", tree, ["base"])
                   for name, tree in zip(("1", "parser_cli", "3"), encoded[:3])],
                 *[Snapshot(f"merge-{n}", f"merge worker-{name}", tree, [previous, f"worker-{name}"])
                   for n, name, tree, previous in zip((1, 2, 3), ("1", "parser_cli", "3"), encoded[3:6],
                                                     ("base", "merge-1", "merge-2"))],
                 Snapshot("integration", "integration: quality gates and fixes", encoded[6], ["merge-3"])]
    return cloned(bundle(snapshots, "integration"), folder)[0]


def guarded_script(port: int, secret: Path) -> dict:
    """Two workers; the parser's first attempt does not parse (nudged); its second also writes tests that try
    to get out of the sandbox; the integrator first hollows out an implementation (rejected); the fixer
    deletes the escaping tests."""
    broken = "def parse_args(argv:\n    return argv\n"

    def parser_worker(request):
        retry = "previous attempt was not accepted" in request.user_text()
        files = ([("todo/parser.py", todo.PARSER), ("tests/test_parser.py", todo.PARSER_TESTS),
                  ("tests/test_escape.py", escape_tests(port, secret).decode()), ("todo/__init__.py", todo.INIT_PARSER)]
                 if retry else [("todo/parser.py", broken)])
        written = len(request.tool_outputs())
        return todo.write(*files[written]) if written < len(files) else todo.report("parser written")

    def integrator(request):
        if "Your previous resolution was rejected" in request.user_text():
            return {"json": {"content": todo.INIT_RESOLVED}}
        return {"json": {"content": todo.INIT_RESOLVED.replace("    return TodoStore(path)\n", "    pass\n")}}

    def fixer(request):
        if not request.tool_outputs():
            return {"tool_calls": [{"name": "delete_file", "arguments": {"path": "tests/test_escape.py"}}]}
        return {"text": "Deleted tests/test_escape.py: its tests try to reach outside the workspace."}

    def planner(request):
        plan = todo.planner(request)
        plan["json"]["tasks"] = plan["json"]["tasks"][:2]
        plan["json"]["modules"] = [m for m in plan["json"]["modules"] if m["path"] != "todo/cli.py"]
        return plan

    fixed_store = todo.STORE.replace(todo.STORE_BUG, todo.STORE_FIX)
    return {"code-planner": todo.always(planner),
            "code-worker-1": todo.worker([("todo/storage.py", fixed_store), ("tests/test_storage.py", todo.STORE_TESTS),
                                          ("todo/__init__.py", todo.INIT_STORAGE)], "storage written"),
            "code-worker-parser_cli": todo.always(parser_worker), "code-integrator": todo.always(integrator),
            "code-judge": todo.always(lambda request: {"json": {"score": 90, "complaints": []}}),
            "code-fixer": todo.always(fixer)}


async def test_guardrails_nudges_and_the_sandbox_in_a_job(host, model, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("s3cret")
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        model.reset()
        model.script(guarded_script(listener.getsockname()[1], secret))
        job = await finished(host, await start_code_swarm(host, max_workers=2))
    assert job["status"] == "completed", job
    out = job["output"]
    parser = out["branches"][1]
    assert parser["attempts"] == 2 and "its Python files do not parse: todo/parser.py:1:" in parser["problems"][0]
    assert out["merges"][1]["conflicts"] == [{
        "path": "todo/__init__.py", "status": "resolved", "attempts": 2,
        "rejected": ["implementations were replaced by placeholders: open_store"]}]
    [first] = out["quality_history"]
    escaped = first["checks"]["tests"]
    assert first["score"] == 53 and not first["checks"]["ok"] and "3 failed" in escaped["output"], escaped  # 4 of 7 tests pass: capped
    assert "FileNotFoundError" in escaped["output"] and "KeyError: 'OPENAI_API_KEY'" in escaped["output"]
    assert out["checks"]["ok"] and out["rounds"] == 1 and "tests/test_escape.py" not in \
        [entry["path"] for entry in out["tree"]]
    assert (await tree_over_mcp(host, job["job_id"]))["todo/__init__.py"] == todo.INIT_RESOLVED


PACKAGE_TESTS = 'from todo import VERSION\n\n\ndef test_version():\n    assert VERSION == 1\n'


def clash_script() -> dict:
    """Two workers: one writes a file `todo`, the other the package `todo/` with a test."""
    planner = {"json": {"contract": "A package todo with VERSION = 1.",
                        "modules": [{"path": "todo/__init__.py", "symbols": ["VERSION"]}],
                        "tasks": [{"id": "notes", "instructions": "Write the notes file todo.", "files": ["todo"]},
                                  {"id": "package", "instructions": "Write the package.",
                                   "files": ["todo/__init__.py", "tests/test_todo.py"]}]}}
    return {"code-planner": [planner],
            "code-worker-notes": todo.worker([("todo", "buy milk\n")], "notes written"),
            "code-worker-package": todo.worker([("todo/__init__.py", "VERSION = 1\n"),
                                                ("tests/test_todo.py", PACKAGE_TESTS)], "package written"),
            "code-judge": todo.always(lambda request: {"json": {"score": 90, "complaints": []}})}


async def test_a_file_and_a_folder_of_one_name_are_a_gap_not_a_failed_job(host, model):
    """Issue 22 §3.6: git's merge left `todo~HEAD`, the workspace refused the name, and the job failed at
    merging (and again at every retry_job). Now the folder is kept and the file is a gap."""
    model.reset()
    model.script(clash_script())
    job = await finished(host, await start_code_swarm(host, max_workers=2))
    assert job["status"] == "completed", job
    out = job["output"]
    reason = ("todo is a file on one side and a folder on the other (todo/__init__.py); the folder was kept and "
              "the file todo dropped")
    assert out["merges"][1]["conflicts"] == [{"path": "todo", "status": "unresolved", "attempts": 0,
                                              "rejected": [reason]}]
    assert out["gaps"] == [{"file": "todo", "reason": f"merge conflict left unresolved: {reason}"}]
    assert await tree_over_mcp(host, job["job_id"]) == {"todo/__init__.py": "VERSION = 1\n",
                                                        "tests/test_todo.py": PACKAGE_TESTS}
    assert out["checks"]["ok"] and "code-integrator" not in model.stats().by_agent


async def test_sigkill_during_a_write_a_merge_and_checks(tmp_path, model):
    """The host kills itself (SIGKILL) once at each point; after each restart the job goes on, and it
    ends with the same history and tree as a run without crashes."""
    model.reset()
    model.script(todo.SCRIPT)
    app_data = tmp_path / "appdata"
    host = project_host(tmp_path / "state", model, APP_DATA_DIR=str(app_data),
                        APP_CRASH_POINTS="write_file,merge,checks").start()
    api = DurableHttp(host)
    crashes, model_calls_at_crash = 0, []
    try:
        job_id = await start_code_swarm(host)
        deadline = time.monotonic() + 300
        while True:
            assert time.monotonic() < deadline, host.log()[-3000:]
            if host.proc.poll() is not None:  # it killed itself at a crash point
                crashes += 1
                model_calls_at_crash.append(model.stats().total)
                host.start()
                continue
            try:
                status = api.status(job_id)
            except (httpx.HTTPError, AssertionError):
                continue
            if status["runtimeStatus"] in ("Completed", "Failed", "Terminated"):
                break
            time.sleep(0.1)
        job = await finished(host, job_id)
        tree = await tree_over_mcp(host, job_id)
        head = cloned(download(host, job_id, "bundle").content, tmp_path / "crashed")[0]
    finally:
        host.stop()
    assert crashes == 3 and sorted(p.name for p in (app_data / "crash-points").iterdir()) == \
        ["checks", "merge", "write_file"]
    assert job["status"] == "completed" and job["output"]["checks"]["ok"], job
    assert tree == todo.FINAL_TREE
    assert head == expected_history_head(tmp_path / "expected")
    calls = model.stats().by_agent
    # no model call in flight at the merge and checks crashes: nothing repeated there; at the write crash,
    # the other workers' calls then in flight (not recorded) may be made again, at most one each
    assert all(SCRIPTED_CALLS[agent] <= calls[agent] <= SCRIPTED_CALLS[agent] + 1 for agent in SCRIPTED_CALLS), calls
    assert sum(calls.values()) <= sum(SCRIPTED_CALLS.values()) + 2, calls
    assert set(calls) == set(SCRIPTED_CALLS)


async def test_bad_code_swarm_input_gets_clear_errors(host):
    async with connect(host) as client:
        assert "Argument 'goal'" in await call_error(client, "run_code_swarm", goal=" ")
        assert "Argument 'max_workers' is 9. Allowed: a whole number from 1 to 8" in await call_error(
            client, "run_code_swarm", goal="x", max_workers=9)
        assert "Argument 'base' names job no-such-job, which has no finished code swarm workspace" in \
            await call_error(client, "run_code_swarm", goal="x", base="no-such-job")
        assert "Argument 'base'" in await call_error(client, "run_code_swarm", goal="x", base="../other-job")
        with pytest.raises(Exception, match="has no finished workspace"):
            await client.read_resource("workspace://no-such-job/files")
    started = httpx.post(f"{host.base_url}/api/jobs/run_code_swarm", json={"goal": "x", "base": "no-such-job"},
                         headers={"x-functions-key": TEST_KEYS["FUNCTIONS_DEFAULT_KEY"]}, timeout=30)
    assert started.status_code == 400 and "no finished code swarm workspace" in started.json()["error"]


async def test_the_code_swarm_needs_no_git_executable(tmp_path, model):
    """Azure's Python images have no git: a host whose PATH has none (only the sandbox's bwrap and prlimit)
    merges, checks and bundles a whole job through libgit2, and git itself, as a client, clones the bundle."""
    tools = tmp_path / "bin"
    tools.mkdir()
    for name in ("bwrap", "prlimit"):
        (tools / name).symlink_to(shutil.which(name))
    model.reset()
    model.script(todo.SCRIPT)
    with project_host(tmp_path / "state", model, PATH=str(tools), APP_DATA_DIR=str(tmp_path / "appdata")) as host:
        assert shutil.which("git", path=str(tools)) is None
        job = await finished(host, await start_code_swarm(host))
        bundle_bytes = download(host, job["job_id"], "bundle").content
    assert job["status"] == "completed" and job["output"]["checks"]["ok"], job
    assert job["output"]["merges"][1]["conflicts"][0]["status"] == "resolved"
    assert cloned(bundle_bytes, tmp_path)[2] == todo.FINAL_TREE


STATS = 'def count(items):\n    """How many items there are."""\n    return len(items)\n'
STATS_TESTS = 'from todo.stats import count\n\n\ndef test_count():\n    assert count([1, 2]) == 2\n'


def continuation_script() -> dict:
    """One worker that reads the CLI it inherits from `base`, then adds a module and its test."""
    def worker(request):
        outputs = request.tool_outputs()
        if not outputs:
            return {"tool_calls": [{"name": "read_file", "arguments": {"path": "todo/cli.py"}}]}
        if len(outputs) == 1:
            return todo.write("todo/stats.py", STATS if "def main" in outputs[0] else "broken(")
        if len(outputs) == 2:
            return todo.write("tests/test_stats.py", STATS_TESTS)
        return todo.report("stats added")

    planner = {"json": {"contract": "Add todo/stats.py with count(items) to the existing todo CLI.",
                        "modules": [{"path": "todo/stats.py", "symbols": ["count"]}],
                        "tasks": [{"id": "stats", "instructions": "Add count.", "files": ["todo/stats.py"]}]}}
    return {"code-planner": [planner], "code-worker-stats": todo.always(worker),
            "code-judge": todo.always(lambda request: {"json": {"score": 90, "complaints": []}})}


async def test_a_code_swarm_continues_from_a_finished_one(host, model):
    model.reset()
    model.script(todo.SCRIPT)
    first = await finished(host, await start_code_swarm(host))
    assert first["status"] == "completed", first
    model.script(continuation_script())
    job = await finished(host, await start_code_swarm(host, goal="Add a count helper", base=first["job_id"]))
    assert job["status"] == "completed", job
    out = job["output"]
    assert out["branches"][0]["changes"] == {"added": ["tests/test_stats.py", "todo/stats.py"], "modified": [],
                                             "deleted": []}
    assert out["checks"]["ok"] and "6 passed" in out["checks"]["tests"]["output"]
    assert await tree_over_mcp(host, job["job_id"]) == {**todo.FINAL_TREE, "todo/stats.py": STATS,
                                                        "tests/test_stats.py": STATS_TESTS}
    assert await tree_over_mcp(host, first["job_id"]) == todo.FINAL_TREE  # the base job's tree is untouched
