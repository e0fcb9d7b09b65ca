"""Scripts for the fake model server that are loaded by name: `python -m testing.fake_model_server --script demo`."""
