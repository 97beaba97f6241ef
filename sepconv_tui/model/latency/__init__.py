"""How fast: a whole model and each layer timed on a runtime in a child process of its own,
and the roofline limit."""
