"""The MCP test app again, served with webhookAuthorizationLevel Anonymous (see host.json here)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mcp_test_functions import app  # noqa: E402,F401
