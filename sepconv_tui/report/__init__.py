"""Rich renderables and JSON / Markdown / CSV, one module per view; no Textual, no torch.

``layer`` (one comparison), ``network``, ``sweep``, ``latency``, ``memory``; ``format`` holds the
number formats they share. The CLI and the app render the very same objects.
"""
