"""Notebook parameters, checked by type before any work.

papermill's ``-p NAME VALUE`` turns ``True``, ``False``, ``None`` and numbers into Python values
and passes anything else as a string: ``-p force false`` sets ``force = "false"``, which is
truthy, and ``-p seq_length abc`` sets a string where a number belongs. Each notebook therefore
calls :func:`check_parameters` right after its ``parameters`` cell: every parameter is checked
against the type its ``parameters`` cell declares (``name: type = value``, which IPython keeps in
``__annotations__``), converted where that is unambiguous, and refused with one sentence
otherwise. Ranges are checked after it by the same functions the command line uses
(:mod:`charrnn.util.checks`, :meth:`charrnn.training.config.TrainConfig.validate`), so a notebook and the CLI
say the same thing about the same value.
"""

from __future__ import annotations

import types
import typing

import numpy as np

from .util.checks import is_number

__all__ = ["check_parameters", "convert"]

#: The spellings of a boolean that are accepted besides True and False.
BOOLEANS = {"true": True, "false": False}


#: The names a string annotation may use (papermill reads ``"Optional[float]"``, not
#: ``float | None``, and a parameters cell has no imports).
ANNOTATION_NAMES = {"Optional": typing.Optional, "Union": typing.Union, "None": None, "int": int,
                    "float": float, "str": str, "bool": bool}


def _kinds(kind) -> tuple:
    """The types of an annotation: ``int`` -> (int,), ``float | None`` or the string
    ``"Optional[float]"`` -> (float, NoneType)."""
    if isinstance(kind, str):
        kind = eval(kind, {"__builtins__": {}}, ANNOTATION_NAMES)  # noqa: S307 (names only)
    if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union:
        return typing.get_args(kind)
    return (kind,)


def convert(name: str, value, kind):
    """``value`` of parameter ``name`` as the annotation ``kind`` wants (bool, int, float, str,
    or a union with None): ``"true"``/``"false"`` (any case) become booleans, an int becomes a
    float where a float is wanted, a number becomes a string where a string is wanted.

    Raises ``ValueError`` naming the parameter, what it must be and the value it got (a bool is
    refused where a number is wanted, a string where a bool or a number is wanted)."""
    kinds = _kinds(kind)
    if value is None and type(None) in kinds:
        return None
    optional = " (or None)" if type(None) in kinds else ""
    if bool in kinds:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in BOOLEANS:
            return BOOLEANS[value.strip().lower()]
        raise ValueError(f"{name} must be True or False{optional}, got {value!r}")
    if int in kinds:
        if is_number(value) and not isinstance(value, (float, np.floating)):
            return int(value)
        raise ValueError(f"{name} must be an integer{optional}, got {value!r}")
    if float in kinds:
        if is_number(value):
            return float(value)
        raise ValueError(f"{name} must be a number{optional}, got {value!r}")
    if str in kinds:
        if isinstance(value, str):
            return value
        if is_number(value):  # -p run_dir 7: papermill made it a number
            return str(value)
        raise ValueError(f"{name} must be a string{optional}, got {value!r}")
    raise TypeError(f"parameter {name} has an annotation charrnn cannot check: {kind!r}")


def check_parameters(namespace: dict) -> dict:
    """Check and convert, in place, every parameter annotated in ``namespace`` (a notebook's
    ``globals()``; the annotations of its ``parameters`` cell are ``__annotations__``) with
    :func:`convert`; return ``{name: value}``. Raises ``ValueError`` for the first bad one."""
    checked = {name: convert(name, namespace[name], kind)
               for name, kind in namespace.get("__annotations__", {}).items() if name in namespace}
    namespace.update(checked)
    return checked
