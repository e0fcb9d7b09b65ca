# The project's app object (orchestrations/agents/durable.py AgentApp, made as the project's function_app.py
# makes it) with a blueprint of durable agents written the Durable docs' way (seed_agents.py).
import azure.functions as func

import seed_agents
from orchestrations.agents.durable import AgentApp
from orchestrations.agents.model_config import configure_model

configure_model()
app = AgentApp(http_auth_level=func.AuthLevel.ANONYMOUS)
app.register_functions(seed_agents.bp)
