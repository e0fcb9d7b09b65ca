"""`run_swarm`: planner, specialist workers in parallel, judge, bounded fixer (see `workflow.py`)."""
