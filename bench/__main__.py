"""`python -m bench`: run every benchmark in turn; each prints its own figures."""
import runpy
import sys

BENCHMARKS = ["bench.bench_engine", "bench.bench_mcp", "bench.bench_agent"]

if __name__ == "__main__":
    for name in BENCHMARKS:
        print(f"== {name}", flush=True)
        sys.argv = [name]
        runpy.run_module(name, run_name="__main__")
