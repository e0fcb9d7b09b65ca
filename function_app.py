"""The function app: durable agent jobs published as MCP tools.

Runs unmodified on Azure Functions (with the MCP and Durable extensions) and on the local host
(`python -m host`). Its functions are the blueprints found in two packages (agent_jobs.register_packages):
`orchestrations/` (jobs, orchestrators, activities and agents: a job added there is one module) and then
`tools/` (the MCP tool triggers, launchers built from the declared jobs, HTTP starters, the job view).
"""
from orchestrations.python_build import require_packages_for_this_python

require_packages_for_this_python()  # before any compiled dependency is imported (Azure/azure-dev#8538)

import azure.functions as func  # noqa: E402

from agent_jobs import register_packages
from orchestrations.agents.durable import AgentApp
from orchestrations.agents.model_config import configure_model
from orchestrations.log_levels import quiet_library_logs
from orchestrations.tracing.export import configure_tracing

quiet_library_logs()
configure_model()
configure_tracing()

app = AgentApp(http_auth_level=func.AuthLevel.FUNCTION)  # a df.DFApp with our run_model: orchestrations/agents/durable.py
register_packages(app, "orchestrations", "tools")
