"""Studies built on trained runs: the training-order experiments (``experiments``), the sampling
study (``study``, ``textmetrics``), the hidden units and linear probes (``units``, ``probes``),
and the gated baselines in PyTorch (``gated``, ``baselines``, ``baselines_io``). They import the
training, model and util layers, never the report."""
