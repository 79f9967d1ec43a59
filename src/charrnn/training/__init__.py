"""Training: the settings (``config``), the order the text is read in (``orders``), the loop
(``train``, its state in ``state``, its compiled inner loop in ``engine``), checkpoints and run
folders (``checkpoint``, ``runs``) and which code made a result (``provenance``). It imports
:mod:`charrnn.model` and :mod:`charrnn.util`, never the studies or the report."""
