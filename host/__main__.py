"""`python -m host`: start the local host for a Python v2 function app (default: this project)."""
from __future__ import annotations

import logging
import sys

from host.banner import print_banner
from host.bounded import bound_log_records
from host.config import parse_options
from host.functions.loader import AppLoadError


def main(argv: list[str] | None = None) -> int:
    options = parse_options(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # request lines would show one-time progress URLs
    bound_log_records()
    from host.server import LocalHost

    try:
        local_host = LocalHost(options)
    except AppLoadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print_banner(local_host)
    local_host.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
