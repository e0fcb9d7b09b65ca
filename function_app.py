"""The function app: durable agent jobs published as MCP tools.

Runs unmodified on Azure Functions (with the MCP and Durable extensions) and on the local host
(`python -m host`). Blueprints: `tools/` holds the MCP tool triggers and HTTP starters,
`orchestrations/` the orchestrators, activities and agents.
"""
from orchestrations.python_build import require_packages_for_this_python

require_packages_for_this_python()  # before any compiled dependency is imported (Azure/azure-dev#8538)

import azure.functions as func  # noqa: E402

from orchestrations import agent, job_status, trip
from orchestrations.agents import builtin_tools
from orchestrations.agents import step as agent_step
from orchestrations.agents.durable import AgentApp
from orchestrations.agents.model_config import configure_model
from orchestrations.code_swarm import file_tools
from orchestrations.code_swarm import worker as code_worker
from orchestrations.code_swarm import workflow as code_swarm
from orchestrations.log_levels import quiet_library_logs
from orchestrations.swarm import worker as swarm_worker
from orchestrations.swarm import workflow as swarm
from tools import code_swarm_launcher, job_view, jobs, launchers, workspaces

quiet_library_logs()
configure_model()

app = AgentApp(http_auth_level=func.AuthLevel.FUNCTION)  # a df.DFApp: see orchestrations/agents/durable.py
for blueprint in (builtin_tools.bp, agent.bp, agent_step.bp, job_status.bp, swarm.bp, swarm_worker.bp, trip.bp,
                  jobs.bp, launchers.bp, job_view.bp, file_tools.bp, code_swarm.bp, code_worker.bp,
                  workspaces.bp, code_swarm_launcher.bp):
    app.register_functions(blueprint)
