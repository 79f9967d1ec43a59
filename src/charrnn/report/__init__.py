"""What the reader sees: the report's sentences (``prose``, held to their numbers by
``findings``), ``tables``, ``plots`` and ``sections`` (made of ``parts``), the sections on why
a vanilla RNN falls short (``shortfall``: context, dynamic evaluation, gradients, scaling), the unit
heat maps (``unitviz``), the exploration
notebook's helpers (``explore``) and the PDF (``pdf``, with its nbconvert template in
``templates/``). The top layer: nothing in the package below imports it."""
