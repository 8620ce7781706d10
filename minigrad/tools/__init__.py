"""Tools around the engine: gradient checking (gradcheck), watching backward op by op
(trace, also `minigrad.trace`), and pictures of the graph (viz, also `minigrad.viz`)."""
