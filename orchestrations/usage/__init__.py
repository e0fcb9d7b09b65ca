"""What a job's model calls used and cost, and the limits put on them (issue 19).

- `ledger`: the usage record of one model call (tokens as its API returned them, the model, the cost at
  the price of the day), and the sums of records per agent step, per orchestration and per job;
- `prices`: the price table (defaults for the models our infrastructure deploys, each with a dated
  source; `MODEL_PRICES` overrides), and the cost of a call;
- `budget`: a job's budget (tokens, cost, wall-clock minutes), the rules of the check, and the question a job
  asks when it is reached; `budget_check`: the check itself, in the `run_model` activity;
- `model_slots`: the per-deployment limit on model calls in flight;
- `ending`: what a job or a sub-orchestration does when it ends (its exact usage, its trace).
"""
