"""Tables, the comparison with the paper, and figures, rebuilt from result files on disk."""
