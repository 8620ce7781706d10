"""Tools around the engine: gradient checking (and, later, tracing and graph pictures)."""
