"""`make demo` / `python -m demo`: the app with a scripted model, so it runs with no API key.

Kept out of `host/` (the host never imports the app or the tests) and out of the app (it is not
deployed): it starts the fake model server from `testing/` with the `testing/model_scripts/demo.py`
script, and the local host pointed at it.
"""
