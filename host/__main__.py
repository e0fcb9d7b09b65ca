"""`python -m host`: start the local host for a Python v2 function app (default: this project)."""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from host.banner import print_banner
from host.functions.loader import AppLoadError

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m host", description=__doc__)
    parser.add_argument("--app", type=Path, default=PROJECT_ROOT, help="folder holding function_app.py")
    parser.add_argument("--port", type=int, default=7071)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--state", type=Path, default=None, help="state folder (default: .durable/ in the app folder)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # request lines would show one-time progress URLs
    from host.server import LocalHost

    try:
        local_host = LocalHost(args.app, args.state, args.host, args.port)
    except AppLoadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print_banner(local_host)
    local_host.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
