"""Sweeps: a grid of runs from one YAML spec, their names, results and summary over seeds.

A spec (``sweeps/*.yaml``, read with ``yaml.safe_load``)::

    text: data/goblet_book.txt   # optional, from the current folder; default: as `charrnn train`
    chars: 4000000               # training characters of every run (or n_updates, vanilla only)
    n_evals: 10                  # optional: validation evaluations per run (default N_EVALS)
    kind: vanilla                # vanilla (TrainConfig), lstm or gru (BaselineConfig)
    base: {batch_size: 8}        # settings of every run
    grid: {m: [64, 128], eta: [0.001, 0.002]}   # one job per point of the product
    seeds: [1, 2, 3]

or, for several kinds in one sweep, ``kinds: {vanilla: {base: ..., grid: ...}, lstm: {...}}``
instead of ``kind``/``base``/``grid``. A vanilla run with ``chars`` is configured as the experiments
do it (:func:`charrnn.studies.experiments.variant_config`: n_updates = chars // (batch_size x
seq_length), the last 1 of 20 chunks held out, about ``n_evals`` validations); gated runs are
:class:`charrnn.studies.baselines.BaselineConfig`. Every point of grid x seeds is one job, whose run
folder is named after the grid's settings and the seed (:func:`job_name`: ``m64-eta0.001-seed2``;
with ``kinds``, prefixed by the kind). :func:`plan` checks the whole spec on its text before any
job starts. A job runs on a Dask worker (:mod:`charrnn.studies.cluster`); its results are
:mod:`charrnn.studies.sweep_results`.
"""

from __future__ import annotations

import itertools
import json
import os
from dataclasses import dataclass, fields
from pathlib import Path

import yaml

from ..model.data import read_text
from ..training.config import TrainConfig
from ..training.runs import run_config
from ..training.train import Trainer
from ..util.checks import (
    check_choice,
    check_nonneg_int,
    check_positive_float,
    check_positive_int,
    join_and,
)
from ..util.files import check_regular_file
from ..util.paths import default_text
from .experiments import GATED_SEEDS, N_EVALS, variant_config, variant_seeds
from .experiments import job_name as variant_job_name

__all__ = ["KINDS", "SPEC_KEYS", "Job", "load_spec", "plan", "experiment_jobs", "job_name",
           "format_value"]

KINDS = ("vanilla", "lstm", "gru")
SPEC_KEYS = ("text", "chars", "n_evals", "kind", "base", "grid", "seeds", "kinds")
#: Vanilla settings that a chars budget derives (as the experiments do).
DERIVED = ("n_updates", "eval_every", "sample_every", "log_every")
#: Baseline settings that the spec gives elsewhere (kind, chars, seeds, text).
BASELINE_FIXED = ("kind", "chars", "seed", "data_path")


@dataclass
class Job:
    """One run of a sweep: its folder ``name``, ``kind``, ``point`` (the grid's settings),
    ``seed``, ``settings`` (every TrainConfig field, or the BaselineConfig keywords) and ``want``
    (its ``config.json``: settings, text md5 and length, ``code``)."""

    name: str
    kind: str
    point: dict
    seed: int
    settings: dict
    want: dict

    def payload(self) -> dict:
        """What a worker needs (plain data)."""
        return {"name": self.name, "kind": self.kind, "settings": self.settings, "want": self.want}


def _is_float_field(f) -> bool:
    return "float" in str(f.type)


def _normalize(value, is_float: bool):
    """A float field's int as float, and its YAML 1.1 text such as ``1e-3`` as a number."""
    if is_float and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    if is_float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def format_value(value) -> str:
    """A setting's value as it appears in a folder name: ``0.001``, ``1e-05``, ``64``, ``none``."""
    if isinstance(value, bool) or value is None:
        return str(value).lower()
    if isinstance(value, float):
        short = f"{value:g}"
        return short if float(short) == value else repr(value)
    return str(value).replace(os.sep, "_")


def job_name(point: dict, seed: int, kind: str | None = None) -> str:
    """The run folder of one job: ``[KIND-]KEYVALUE-...-seedS`` over the grid's settings in the
    spec's order, e.g. ``m64-eta0.01-seed2``."""
    parts = ([kind] if kind else []) + [f"{k}{format_value(v)}" for k, v in point.items()]
    return "-".join([*parts, f"seed{seed}"])


def _mapping(where: str, value) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{where} must be a mapping of settings, got {value!r}")
    return value


def load_spec(path) -> dict:
    """Read and check the structure of the sweep spec at ``path``: ``{"text", "chars",
    "n_evals", "seeds", "groups": [(kind, base, grid)], "prefix"}`` (``prefix``: names carry the
    kind). Raises ``ValueError`` with one sentence: a missing file, not YAML, not a mapping, an
    unknown key (naming the allowed ones) or kind, an empty or repeated grid value or seed."""
    path = check_regular_file(path, "sweep spec")
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        raise ValueError(f"{path} is not YAML: not UTF-8 text ({err.reason})") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ValueError(f"{path} is not YAML: {getattr(err, 'problem', None) or err}{where}") \
            from None
    if not isinstance(raw, dict):
        raise ValueError(f"{path} is not a sweep spec: expected a mapping of "
                         f"{join_and(SPEC_KEYS, 'or')}, got {type(raw).__name__}")
    try:
        return _structure(raw)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None


def _structure(raw: dict) -> dict:
    """:func:`load_spec` of the parsed mapping ``raw``."""
    for key in raw:
        check_choice("key in the sweep spec", key, SPEC_KEYS)
    if "kinds" in raw and {"kind", "base", "grid"} & set(raw):
        raise ValueError("give either kinds (one block per kind) or kind, base and grid, not both")
    blocks = _mapping("kinds", raw["kinds"]) if "kinds" in raw else \
        {raw.get("kind", "vanilla"): {"base": raw.get("base"), "grid": raw.get("grid")}}
    if not blocks:
        raise ValueError("kinds is empty: give one block per kind (vanilla, lstm or gru)")
    groups = []
    for kind, block in blocks.items():
        check_choice("kind", kind, KINDS)
        block = _mapping(f"kinds: {kind}", block)
        for key in block:
            check_choice(f"key in kinds: {kind}", key, ("base", "grid"))
        base, grid = _mapping("base", block.get("base")), _mapping("grid", block.get("grid"))
        for key, values in grid.items():
            if not isinstance(values, list):
                raise ValueError(f"grid: {key} must be a list of values, got {values!r}")
            if not values:
                raise ValueError(f"grid: {key} is an empty list; give one or more values")
            if key in base:
                raise ValueError(f"{key} is in both base and grid; give it in one of them")
        groups.append((kind, base, grid))
    seeds = raw.get("seeds", [1])
    if not isinstance(seeds, list) or not seeds:
        raise ValueError(f"seeds must be a list of one or more seeds, got {seeds!r}")
    for s in seeds:
        check_nonneg_int("a seed", s)
    _no_repeats("seeds", seeds)
    text = raw.get("text")
    if text is not None and (not isinstance(text, str) or not text.strip()):
        raise ValueError(f"text must be the path of a text file, got {text!r}")
    chars = None if raw.get("chars") is None else check_positive_int("chars", raw["chars"])
    n_evals = None if raw.get("n_evals") is None else check_positive_int("n_evals", raw["n_evals"])
    return {"text": text, "chars": chars, "n_evals": n_evals, "seeds": seeds, "groups": groups,
            "prefix": "kinds" in raw}


def _no_repeats(where: str, values) -> None:
    for i, v in enumerate(values):
        if v in values[:i]:
            raise ValueError(f"{where} lists {v!r} twice: the same point twice")


def _allowed(kind: str, chars) -> tuple[list[str], set[str]]:
    """The settings a spec may give for ``kind`` and the float ones among them."""
    if kind == "vanilla":
        fs = [f for f in fields(TrainConfig) if f.name != "seed"
              and not (chars is not None and f.name in DERIVED)]
    else:
        from .baselines import BaselineConfig  # noqa: PLC0415 (torch: only for gated sweeps)

        fs = [f for f in fields(BaselineConfig) if f.name not in BASELINE_FIXED]
    return [f.name for f in fs], {f.name for f in fs if _is_float_field(f)}


def _settings(kind: str, base: dict, grid: dict, chars) -> tuple[dict, dict]:
    """``base`` and ``grid`` checked against the kind's settings, float fields normalized."""
    allowed, floats = _allowed(kind, chars)
    for where, d in (("base", base), ("grid", grid)):
        for key in d:
            if key == "seed":
                raise ValueError(f"{where}: give seeds in the spec's seeds list, not as {key}")
            if chars is not None and kind == "vanilla" and key in DERIVED:
                raise ValueError(f"{where}: {key} is set by chars (as the experiments do); leave "
                                 "it out, or give n_updates instead of chars")
            check_choice(f"{kind} setting", key, allowed)
    base = {k: _normalize(v, k in floats) for k, v in base.items()}
    grid = {k: [_normalize(v, k in floats) for v in vs] for k, vs in grid.items()}
    for key, values in grid.items():
        _no_repeats(f"grid: {key}", values)
    return base, grid


def _vanilla_config(settings: dict, seed: int, chars, n_evals) -> TrainConfig:
    s = dict(settings)
    if chars is None:
        return TrainConfig.from_preset(s.pop("preset", "adam"), seed=seed, **s).validate()
    if s.pop("preset", "adam") != "adam":
        raise ValueError("a chars budget trains with the adam preset, as the experiments do; "
                         "give n_updates instead of chars for the adagrad preset")
    return variant_config("sequential", chars, n_evals or N_EVALS, seed, scale=1, **s)


def plan(spec: dict, data=None, spec_path: str = "the sweep spec") -> tuple[list[Job], dict]:
    """The jobs of ``spec`` (:func:`load_spec`) on the text ``data`` (else the spec's, else the
    default text) and ``texts`` ({newline: text (str)}, what the jobs train on). Every job is
    checked as its training will check it (TrainConfig.validate, the text's sizes, or
    BaselineConfig) before any job starts. Raises ``ValueError`` with one sentence naming the
    spec and the job, e.g. ``spec.yaml: job m0-seed1: m must be a positive integer (>= 1), got 0``."""
    path = Path(check_regular_file(Path(data or spec["text"] or default_text()).expanduser(),
                                   "text file")).resolve()
    chars, n_evals, jobs, texts, checked = spec["chars"], spec["n_evals"], [], {}, {}
    if n_evals is not None and chars is None:
        raise ValueError(f"{spec_path}: n_evals goes with chars; with n_updates, give eval_every")
    for kind, base, grid in spec["groups"]:
        if kind != "vanilla" and chars is None:
            raise ValueError(f"{spec_path}: {kind} runs need chars (training characters)")
        try:
            base, grid = _settings(kind, base, grid, chars)
        except ValueError as err:
            raise ValueError(f"{spec_path}: {err}") from None
        if kind == "vanilla" and chars is not None and "n_updates" in {*base, *grid}:
            raise ValueError(f"{spec_path}: give chars or n_updates, not both")
        for values in itertools.product(*grid.values()):
            point = dict(zip(grid, values))
            for seed in spec["seeds"]:
                name = job_name(point, seed, kind if spec["prefix"] else None)
                try:
                    jobs.append(_job(kind, name, point, seed, {**base, **point}, chars, n_evals,
                                     path, texts, checked))
                except ValueError as err:
                    raise ValueError(f"{spec_path}: job {name}: {err}") from None
    names = [j.name for j in jobs]
    _no_repeats(f"{spec_path}: the run folders", names)
    return jobs, texts


def _job(kind, name, point, seed, settings, chars, n_evals, path, texts, checked) -> Job:
    """One job, checked on its text. The checks and the config.json of one settings' first seed
    serve its other seeds (the seed changes only ``seed``; a worker checks the whole config)."""
    if kind == "vanilla":
        cfg = _vanilla_config(settings, seed, chars, n_evals)
        if cfg.newline not in texts:
            texts[cfg.newline] = read_text(path, newline=cfg.newline)
        text, key = texts[cfg.newline], json.dumps(dict(cfg.to_dict(), seed=None), sort_keys=True)
        if key not in checked:
            checked[key] = run_config(cfg, path, Trainer(text, cfg).text_md5, len(text))
        return Job(name, kind, point, seed, cfg.to_dict(), dict(checked[key], seed=seed))
    from .baselines import BaselineConfig  # noqa: PLC0415 (torch: only for gated sweeps)

    if "keep" not in texts:
        texts["keep"] = read_text(path)
    s = {"n_evals": n_evals or N_EVALS, "device": "cpu", **settings}
    s.update(kind=kind, chars=chars, seed=seed, data_path=str(path))
    key = json.dumps(dict(s, seed=None), sort_keys=True)
    if key not in checked:
        checked[key] = BaselineConfig(**s).to_dict(texts["keep"])
    return Job(name, kind, point, seed, s, dict(checked[key], seed=seed))


def experiment_jobs(variants: list[str], baselines: list[str], chars: int, data,
                    n_evals: int = N_EVALS, eta_factors: list[float] | None = None
                    ) -> tuple[list[Job], dict]:
    """The report's grid as sweep jobs (``make report SCHEDULER=...``): every (variant, seed) of
    ``variants`` (:data:`charrnn.studies.experiments.VARIANTS`) as ``charrnn experiment`` trains
    it into ``NAME-seedS``, and each gated kind of ``baselines`` as ``charrnn baseline --kind KIND
    --seed S`` trains it into ``KIND-seedS`` (S = 1, ..., :data:`~charrnn.studies.experiments.GATED_SEEDS`),
    with the same ``config.json``, so a run made either way is reused by the other.

    With ``eta_factors`` (the learning-rate selection, ``make lr``): instead, seed 1 of every
    variant and kind at each of its own learning rate times a factor, into ``NAME-etaETA-seed1``
    (``point``: ``{"variant": NAME, "eta": ETA}``). Returns ``(jobs, texts)`` as :func:`plan`.
    Raises ``ValueError`` for an unknown variant or kind, a factor that is not a number > 0, a
    missing text, or settings the text cannot honour."""
    path = Path(check_regular_file(Path(data).expanduser(), "text file")).resolve()
    factors = [check_positive_float("learning-rate factor", f) for f in eta_factors or []]
    _no_repeats("learning-rate factors", factors)
    jobs, texts = [], {}
    scale = 1 if factors else None  # the learning rates are chosen on chars for every model
    for name in variants:
        base = variant_config(name, chars, n_evals, 1).eta
        for seed, eta in ([(1, base * f) for f in factors] if factors
                          else [(s, None) for s in variant_seeds(name)]):
            cfg = variant_config(name, chars, n_evals, seed, scale,
                                 **({"eta": eta} if eta else {}))
            if cfg.newline not in texts:
                texts[cfg.newline] = read_text(path, newline=cfg.newline)
            text = texts[cfg.newline]
            want = run_config(cfg, path, Trainer(text, cfg).text_md5, len(text))
            label = f"{name}-eta{format_value(cfg.eta)}" if eta else name
            jobs.append(Job(variant_job_name(label, seed), "vanilla",
                            {"variant": name, **({"eta": cfg.eta} if eta else {})}, seed,
                            cfg.to_dict(), want))
    if baselines:
        from .baselines import DEFAULT_ETA, BaselineConfig  # noqa: PLC0415 (torch: only for gated runs)

        for kind in baselines:
            check_choice("baseline kind", kind, KINDS[1:])
            if "keep" not in texts:
                texts["keep"] = read_text(path)
            for seed, eta in ([(1, DEFAULT_ETA[kind] * f) for f in factors] if factors
                              else [(s, None) for s in range(1, GATED_SEEDS + 1)]):
                s = {"kind": kind, "chars": chars, "seed": seed, "device": "cpu",
                     "data_path": str(path), **({"eta": eta} if eta else {})}
                label = f"{kind}-eta{format_value(eta)}" if eta else kind
                jobs.append(Job(variant_job_name(label, seed), kind,
                                {"variant": kind, **({"eta": eta} if eta else {})}, seed, s,
                                BaselineConfig(**s).to_dict(texts["keep"])))
    return jobs, texts


def chosen_rates(rows: list[dict]) -> dict[str, dict]:
    """The learning-rate selection from the results rows of :func:`experiment_jobs` with
    ``eta_factors`` (each with ``variant``, ``eta`` and ``best_val_loss``, the validation text's
    loss in nats/char): ``{variant: {"eta": the rate with the lowest loss, "losses": {eta: loss}}}``,
    in the rows' order. A tie goes to the smaller rate."""
    out: dict[str, dict] = {}
    for r in rows:
        out.setdefault(r["variant"], {"losses": {}})["losses"][r["eta"]] = r["best_val_loss"]
    for v in out.values():
        v["eta"] = min(sorted(v["losses"]), key=lambda e: v["losses"][e])
    return out
