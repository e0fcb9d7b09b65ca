"""`python -m bench`: run every benchmark in turn; each prints its own figures. Exits non-zero if any failed."""
import runpy
import sys
import traceback

BENCHMARKS = ["bench.bench_engine", "bench.bench_mcp", "bench.bench_sessions", "bench.bench_agent",
              "bench.bench_code_swarm"]


def run(name: str) -> int:
    """One benchmark as `python -m <name>` would run it; its exit status (a benchmark may sys.exit)."""
    sys.argv = [name]
    try:
        runpy.run_module(name, run_name="__main__")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except Exception:
        traceback.print_exc()
        return 1
    return 0


if __name__ == "__main__":
    failed = []
    for name in BENCHMARKS:
        print(f"== {name}", flush=True)
        if run(name) != 0:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    sys.exit(1 if failed else 0)
