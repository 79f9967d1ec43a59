"""Studies built on trained runs: the training-order experiments (``experiments``), the sampling
study (``study``, ``textmetrics``, the t-intervals of ``stats``) with the test loss against the temperature
(``temperature``), the hidden units and linear probes (``units``, ``probes``),
the gated baselines in PyTorch (``gated``, ``baselines``, ``baselines_io``), reference points for
bits per character (``calibrate``, with the Kneser-Ney n-grams of ``ngram``), how much context a
model uses (``context``), dynamic evaluation (``dynamic``), how the gradients vanish
(``gradients``), and sweeps: grids of runs from a YAML spec (``sweep``,
``sweep_results``) trained on Dask distributed (``cluster``). They import the training, model and
util layers, never the report."""
