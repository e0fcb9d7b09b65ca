"""`run_code_swarm`: a coding swarm that builds a tested codebase in a durable workspace (see `workflow.py`)."""
