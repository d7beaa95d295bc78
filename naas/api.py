"""The public Python API (``import naas``): load, cost, search, sweep and read runs in one call each.

Each function validates its arguments and raises ``naas.errors.NaasError`` (or the model's own spec errors,
all ``ValueError``) naming the argument; defaults come from the dataclasses that hold them (``SearchSettings``
for mapping searches, the search configs, ``SweepSpec``), the same the command line shows.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

from mapping.network_search import SearchSettings
from nn_space.layers import Network

from .designs import Design
from .errors import ConfigError, NaasError
from .results import NetworkResult, Run, SearchResult, SweepResult

MAPPINGS = ("search", "default")


def load_accelerator(source: Any) -> Design:
    """A built-in accelerator or hierarchy by name (``naas list``), an accelerator / hierarchy YAML file, or an
    ``Accelerator`` / ``Hierarchy`` (returned as is)."""
    from cost_model.accelerator import Accelerator
    from cost_model.hierarchy import Hierarchy

    from .designs import load_design

    if isinstance(source, (Accelerator, Hierarchy)):
        return source
    if not isinstance(source, (str, Path)):
        raise NaasError(f"accelerator: {type(source).__name__} (allowed: a built-in name, a YAML file, an "
                        "Accelerator or a Hierarchy)", "accelerator")
    return load_design(source)


def network(source: Any, input_size: int | None = None, batch: int = 1, name: str | None = None,
            example_inputs: Any = None) -> Network:
    """A network from the zoo (``'resnet50'``, ``'bert_base'``: ``input_size`` is the image size or the number of
    tokens), an ONNX file (``.onnx``), a Timeloop problem file (``.yaml``: one layer), a ``torch.nn.Module``
    (run once on ``example_inputs``, e.g. token ids or a (batch, tokens, width) tensor, or else on zeros of
    ``batch x 3 x input_size x input_size``), or a ``Network`` (returned as is)."""
    if isinstance(source, Network):
        return source
    if hasattr(source, "named_modules") and callable(getattr(source, "forward", None)):  # a torch module
        from nn_space.torch_extract import layers_from_torch

        label = name or type(source).__name__
        if example_inputs is not None:
            return layers_from_torch(source, name=label, example_inputs=example_inputs)
        size = input_size or 224
        return layers_from_torch(source, (batch, 3, size, size), name=label)
    if example_inputs is not None:
        raise NaasError("example_inputs: only a torch.nn.Module is run on example inputs", "example_inputs")
    if not isinstance(source, (str, Path)):
        raise NaasError(f"network: {type(source).__name__} (allowed: a zoo name, an .onnx or Timeloop .yaml "
                        "file, a torch.nn.Module or a Network)", "network")
    text = str(source)
    if text.lower().endswith(".onnx"):
        from nn_space.onnx_import import layers_from_onnx

        resize = input_size is not None or batch != 1  # else the shapes the model declares
        return layers_from_onnx(text, name=name, input_size=input_size, batch=batch if resize else None)
    if text.lower().endswith((".yaml", ".yml")):
        from nn_space.timeloop_problem import load_timeloop_problem

        layer = load_timeloop_problem(text)
        return Network(name or layer.name or Path(text).stem, (layer,))
    from nn_space.zoo import get_network

    try:
        return get_network(text, input_size=input_size, batch=batch)
    except KeyError as exc:
        raise NaasError(f"network: {exc.args[0]}", "network") from None


def evaluate(network: Any, accelerator: Any, mapping: str = "search", budget: int = SearchSettings.budget,
             seed: int = SearchSettings.seed, method: str = SearchSettings.method,
             objective: str = SearchSettings.objective, exact_factors: bool = False,
             energy: str | None = None) -> NetworkResult:
    """Cost ``network`` on ``accelerator`` (``naas evaluate``): each distinct layer shape's mapping searched
    (``mapping='search'``: ``budget`` evaluations, ``seed``, ``method``, ``objective``) or the dataflow's
    default rule (``'default'``). ``exact_factors``: hierarchies only, no padding (as Timeloop and ZigZag);
    ``energy``: an energy table overriding a 3-level accelerator's. A layer that cannot be mapped raises
    ``NetworkEvaluationError`` holding the costs of the others (``.partial``)."""
    from cost_model.blas_kernels import warn_unless_pinned
    from cost_model.hierarchy import Hierarchy

    net = globals()["network"](network)
    acc = load_accelerator(accelerator)
    if mapping not in MAPPINGS:
        raise NaasError(f"mapping: {mapping!r} (allowed: {', '.join(MAPPINGS)})", "mapping")
    if mapping == "search" and (isinstance(budget, bool) or not isinstance(budget, int) or budget < 1):
        raise NaasError(f"budget: {budget!r} (allowed: >= 1 evaluation per layer shape)", "budget")
    from mapping.search import METHODS, OBJECTIVES

    if objective not in OBJECTIVES:
        raise NaasError(f"objective: {objective!r} (allowed: {', '.join(OBJECTIVES)})", "objective")
    if isinstance(acc, Hierarchy):  # searched one layer at a time with pycma, whose numbers follow BLAS's kernels
        warn_unless_pinned()
        return _evaluate_hierarchy(net, acc, mapping, budget, seed, method, objective, exact_factors, energy)
    if method not in METHODS:
        raise NaasError(f"method: {method!r} (allowed: {', '.join(METHODS)})", "method")
    if exact_factors:
        raise NaasError("exact_factors: only for hierarchy files so far (the 3-level search pads freely)",
                        "exact_factors")
    if energy:
        from cost_model.energy import get_energy_table

        try:
            acc = replace(acc, energy=get_energy_table(energy))
        except KeyError as exc:
            raise NaasError(f"energy: {exc.args[0]}", "energy") from None
    if mapping == "default":
        from cost_model.evaluate import evaluate_network
        from mapping.default_mapping import default_mapping

        cost = evaluate_network(net, acc, default_mapping, mapping_source=(
            f"default {acc.dataflow} mapping (fixed heuristic, see mapping/default_mapping.py; not searched)"))
    else:
        from mapping.network_search import search_network

        try:
            settings = SearchSettings(budget=budget, seed=seed, method=method, objective=objective)
        except ValueError as exc:
            raise _argument_error(exc) from None
        cost = search_network(net, acc, settings)
    return NetworkResult.of(cost, acc.name, acc.energy.unit)


def _argument_error(exc: ValueError) -> NaasError:
    from .errors import config_error

    err = config_error(exc)
    return NaasError(str(err), err.argument)


def _evaluate_hierarchy(net: Network, hier, mapping: str, budget: int, seed: int, method: str, objective: str,
                        exact_factors: bool, energy: str | None) -> NetworkResult:
    from cost_model.nest_network import evaluate_nest_network
    from mapping.nest_default import best_nest_default_mapping
    from mapping.nest_search import NEST_METHODS, nest_search_mapper

    if energy:
        raise NaasError("energy: not for a hierarchy file (give per-level energies or its energy.table)", "energy")
    if mapping == "default":
        source = "default: the lowest-EDP of the dataflow rules' mappings (mapping/nest_default.py; not searched)"
        mapper = best_nest_default_mapping
    else:
        if method not in NEST_METHODS:
            raise NaasError(f"method: {method!r} on a hierarchy (allowed: {', '.join(NEST_METHODS)})", "method")
        mapper = nest_search_mapper(budget, seed, method, objective, exact_factors)
        source = (f"searched per layer shape ({method}, {budget} evaluations, seed {seed}"
                  f"{', exact factors' if exact_factors else ''})")
    cost = evaluate_nest_network(net, hier, mapper, mapping_source=source)
    return NetworkResult.of(cost, hier.name, hier.energy_table.unit)


def search_mappings(network: Any, accelerator: Any, budget: int = SearchSettings.budget,
                    seed: int = SearchSettings.seed, method: str = SearchSettings.method,
                    objective: str = SearchSettings.objective, exact_factors: bool = False) -> NetworkResult:
    """The per-layer mapping search alone: ``evaluate(..., mapping='search')``; ``.mappings`` holds them."""
    return evaluate(network, accelerator, "search", budget, seed, method, objective, exact_factors)


def _executor(workers: int, scheduler: str | None, executor):
    from cost_model.blas_kernels import warn_unless_pinned

    from .executor import make_executor

    warn_unless_pinned()
    return executor if executor is not None else make_executor(workers, scheduler)


def _config(cls, config: Any, fields: dict[str, Any]):
    """``config`` (a ``cls``, or a dict of its fields) with ``fields`` replaced; ``cls(**fields)`` if None."""
    from .config_options import build_config

    if config is None:
        return build_config(cls, fields)
    if isinstance(config, dict):
        return build_config(cls, {**config, **fields})
    if not isinstance(config, cls):
        raise ConfigError(f"config: {type(config).__name__} (allowed: a {cls.__name__} or a dict of its fields)",
                          "config")
    return build_config(cls, {**config.to_dict(), **fields}) if fields else config


def search_hardware(config: Any = None, *, out: str | Path, resume: bool = False, budget: int | None = None,
                    workers: int = 1, scheduler: str | None = None, executor=None,
                    progress: Callable | None = None, **fields: Any) -> SearchResult:
    """Run (or ``resume``) a NAAS hardware search into the run folder ``out`` (``naas search``).

    ``config``: a ``HardwareSearchConfig`` (or a dict of its fields); keyword ``fields`` override it, so
    ``search_hardware(out="runs/s", baseline="eyeriss", budget=20)`` works too. With ``resume`` the run's
    stored config is used (``budget`` extends it). Designs run in this process, in ``workers`` local
    processes, or on the Dask ``scheduler``.
    """
    from .designs import load_design
    from .hardware_search import HardwareSearchConfig, run_hardware_search

    if not resume:
        config = _config(HardwareSearchConfig, config, fields if budget is None else {**fields, "budget": budget})
    with _executor(workers, scheduler, executor) as ex:
        best = run_hardware_search(None if resume else config, out, resume=resume, progress=progress, executor=ex,
                                   budget=budget if resume else None)
    run = Run(Path(out))
    return SearchResult(kind="search", folder=run.folder, config=run.config, best_id=best["id"],
                        generation=best["generation"], fitness=best["fitness"],
                        baseline_fitness=best["baseline_fitness"], best=load_design(run.folder / "best.yaml"),
                        final=run.final)


def cosearch(config: Any = None, *, out: str | Path, resume: bool = False, budget: int | None = None,
             data_dir: str | Path | None = None, workers: int = 1, scheduler: str | None = None, executor=None,
             progress: Callable | None = None, **fields: Any) -> SearchResult:
    """Run (or ``resume``) a joint OFA subnet + accelerator + mapping search into ``out`` (``naas cosearch``).

    ``config``: a ``CosearchConfig`` (or dict), keyword ``fields`` overriding it; ``data_dir``: OFA's predictor
    files (default ``$NAAS_OFA_DATA``).
    """
    from .joint_search import CosearchConfig, run_cosearch
    from .designs import load_design

    if not resume:
        config = _config(CosearchConfig, config, fields if budget is None else {**fields, "budget": budget})
    with _executor(workers, scheduler, executor) as ex:
        best = run_cosearch(None if resume else config, out, resume=resume,
                            data_dir=None if data_dir is None else str(data_dir), executor=ex, progress=progress,
                            budget=budget if resume else None)
    run = Run(Path(out))
    return SearchResult(kind="cosearch", folder=run.folder, config=run.config, best_id=best["id"],
                        generation=best["generation"], fitness=best["fitness"],
                        baseline_fitness=best["baseline_fitness"], best=load_design(run.folder / "best.yaml"),
                        final=best.get("final"), subnet=best["subnet"])


def tradeoff(config: Any = None, *, out: str | Path, resume: bool = False, budget: int | None = None,
             data_dir: str | Path | None = None, references: Any = "all", workers: int = 1,
             scheduler: str | None = None, executor=None, progress: Callable | None = None, **fields: Any):
    """Run (or ``resume``) an accuracy–EDP trade-off into ``out`` (``naas tradeoff``); returns every point of the
    co-design curve and of the ``references`` (``'all'``, ``'none'``, or some of fixed, hardware, network) as a
    pandas DataFrame (``naas.tradeoff_search.COLUMNS``), and writes curve.csv, comparison.csv, tradeoff.md and
    tradeoff.png into ``out``.

    ``config``: a ``TradeoffConfig`` (or dict), keyword ``fields`` overriding it, e.g.
    ``tradeoff(out="runs/t", space="ofa-mbv3-w1.2", baseline="eyeriss", accuracies="0.76:0.84:0.01")``.
    """
    import pandas as pd

    from .tradeoff_search import TradeoffConfig, parse_references, reference_points, run_tradeoff
    from .tradeoff_report import title, write_report

    which = references if isinstance(references, tuple) else parse_references(references)
    if not resume:
        config = _config(TradeoffConfig, config, fields if budget is None else {**fields, "budget": budget})
    data = None if data_dir is None else str(data_dir)
    with _executor(workers, scheduler, executor) as ex:
        curve = run_tradeoff(None if resume else config, out, resume=resume, data_dir=data, executor=ex,
                             progress=progress, budget=budget if resume else None)
        config = Run(Path(out)).config
        refs = reference_points(config, out, which, data, ex, progress) if which else None
    frame = pd.concat([curve, refs], ignore_index=True) if refs is not None and len(refs) else curve
    write_report(frame, out, title(config))
    return frame


def sweep(spec: Any = None, *, out: str | Path, resume: bool = False, workers: int = 1,
          scheduler: str | None = None, executor=None, progress: Callable | None = None) -> SweepResult:
    """Run (or ``resume``) a sweep into ``out`` (``naas sweep``): ``spec`` is a ``SweepSpec``, a sweep file's
    path, or its dict (docs/sweeps.md)."""
    from .sweep_run import run_sweep
    from .sweep_spec import SweepSpec, load_sweep, sweep_from_dict

    if not resume:
        if isinstance(spec, (str, Path)):
            spec = load_sweep(spec)
        elif isinstance(spec, dict):
            spec = sweep_from_dict(spec, origin="spec")
        elif not isinstance(spec, SweepSpec):
            raise NaasError(f"spec: {type(spec).__name__} (allowed: a SweepSpec, a sweep file or its dict)", "spec")
    with _executor(workers, scheduler, executor) as ex:
        done = run_sweep(None if resume else spec, out, resume=resume, executor=ex, progress=progress)
    return SweepResult(folder=Path(out), spec=Run(Path(out)).config, designs=done["designs"],
                       evaluated=done["evaluated"], best=done["best"], baseline_fitness=done["baseline_fitness"])


def open_run(folder: str | Path) -> Run:
    """A run folder of any kind, for reading (``NoRunError`` if it holds none)."""
    return Run(Path(folder))
