"""charrnn: the character-level vanilla RNN of KTH DD2424 Assignment 4, in NumPy."""

__version__ = "0.1.0"
