"""The model: the vanilla RNN's equations and their backprop through time (``rnn``, read it
first), the optimizers (``optim``), sampling (``sampling``), the text and its vocabulary
(``data``), the loss on held-out text (``evaluate``), and the gradient check against a PyTorch
float64 mirror (``reference``, ``gradcheck``). It imports only :mod:`charrnn.util`."""
