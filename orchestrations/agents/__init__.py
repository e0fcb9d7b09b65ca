"""What every durable agent of the app is built from: the model client configuration, our `run_model`
activity, the built-in activity tools, the durable runner, and one agent run as a sub-orchestration."""
