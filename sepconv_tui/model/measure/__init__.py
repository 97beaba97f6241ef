"""Does the swap still compute what the original did: the user's data, its split, the ranks
and the fidelity measured on it (also as deployed, at a precision)."""
