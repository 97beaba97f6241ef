"""The plain data the rest of the model speaks: the analysis, the swap plan, the runtime
table and the machine."""
