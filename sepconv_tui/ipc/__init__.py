"""The transport between a parent and its child processes: the client (client.py), the loop a
child runs (serve.py) and the JSON-lines codec (wire.py). It imports neither torch nor Textual,
so the app and the engine both start their children through it."""
