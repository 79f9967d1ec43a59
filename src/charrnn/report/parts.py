"""The pieces every report section is made of: a section returns a list of parts, each
``("markdown" | "html", text)`` or ``("figure", matplotlib Figure)``, that notebook 03 shows in order."""

from __future__ import annotations

__all__ = ["figure", "not_yet", "shown"]


def figure(width: float, height: float):
    """A new Figure of ``width`` x ``height`` inches (constrained layout), outside pyplot."""
    from matplotlib.figure import Figure  # noqa: PLC0415 (matplotlib: only when a figure is drawn)

    return Figure(figsize=(width, height), layout="constrained")


def not_yet(what: str, target: str) -> tuple[str, str]:
    """The one line a section shows instead of ``what`` while it is missing: run ``target``."""
    return ("markdown", f"*Not yet: {what}; run `{target}`.*")


def shown(parts: list) -> list:
    """``parts`` without empty Markdown (a sentence generator with nothing to say)."""
    return [p for p in parts if not (isinstance(p[1], str) and not p[1])]
