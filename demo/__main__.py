"""`python -m demo`: the local host with a scripted model (demo/cli.py).

Ctrl+C ends it quietly with status 0 whenever it comes, even while its modules still import (they
are imported here, inside the KeyboardInterrupt handling); demo/cli.py stops the host it started.
"""
import sys

from host.interrupts import honour_ctrl_c


def main() -> int:
    honour_ctrl_c()
    try:
        from demo.cli import main as run_demo

        return run_demo()
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
