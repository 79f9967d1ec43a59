"""The bottom layer: argument checks with one-sentence errors (``checks``), files written
atomically and checked before use (``files``), project paths (``paths``) and progress where the
user looks (``progress``). It imports nothing else of charrnn."""
