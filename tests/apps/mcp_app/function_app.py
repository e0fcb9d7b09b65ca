"""Entry point the host indexes; the functions live in mcp_test_functions (shared with anonymous/)."""
from mcp_test_functions import app  # noqa: F401  (the worker finds the FunctionApp by scanning this module)
