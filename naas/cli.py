"""The ``naas`` command line: evaluate, search, cosearch, tradeoff, sweep, timeloop, report, list."""
from __future__ import annotations

import argparse
import json
import logging
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

from cost_model.accelerator import builtin_accelerators, load_accelerator
from cost_model.blas_kernels import reproducible
from cost_model.energy import ENERGY_TABLES, get_energy_table
from cost_model.evaluate import NetworkCost, NetworkEvaluationError, evaluate_network
from mapping.default_mapping import default_mapping
from mapping.network_search import SearchSettings, search_network
from mapping.search import METHODS, OBJECTIVES
from nn_space.layers import LayerSpecError
from nn_space.zoo import NETWORKS, get_network

from naas.config_options import add_config_options, build_config, given_options, names
from naas.errors import INPUT_ERRORS, cli_message
from naas.progress import progress_bars

#: exit code of a command stopped by Ctrl-C (128 + SIGINT, as a shell reports it)
INTERRUPTED = 130
#: the commands that write a run folder (``--out`` / ``--resume``), which Ctrl-C leaves resumable
RUN_COMMANDS = ("search", "cosearch", "sweep", "tradeoff")


class CliError(Exception):
    """A user error the CLI reports on one line with exit code 2."""


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line, ``naas search: error: ...`` (exit code 2), with a
    pointer to ``--help`` instead of the whole usage; ``--help`` itself is argparse's. Subparsers made with
    ``add_subparsers`` are of the same class."""

    #: where ``parse_known_args`` notes the innermost (sub)parser that parsed the command line
    _PROG = "_naas_parser_prog"

    def error(self, message: str, prog: str | None = None):
        prog = prog or self.prog
        self.exit(2, f"{prog}: error: {' '.join(message.split())} (see '{prog} --help')\n")

    def parse_known_args(self, args=None, namespace=None):
        namespace = argparse.Namespace() if namespace is None else namespace
        setattr(namespace, self._PROG, self.prog)  # a subparser's, parsed later, is copied over it
        return super().parse_known_args(args, namespace)

    def parse_args(self, args=None, namespace=None):
        """As argparse's, with arguments no parser knows reported by the (sub)command they were given to."""
        namespace, extras = self.parse_known_args(args, namespace)
        prog = getattr(namespace, self._PROG, None)
        if hasattr(namespace, self._PROG):
            delattr(namespace, self._PROG)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}", prog)
        return namespace


def _network(args):
    from naas.api import network

    return network(args.network, input_size=args.input_size, batch=args.batch)


def _accelerator(args):
    acc = load_accelerator(args.accelerator)
    if args.energy:
        try:
            table = get_energy_table(args.energy)
        except KeyError as exc:
            raise CliError(f"--energy: {exc.args[0]}") from None
        acc = replace(acc, energy=table)
    return acc


def _fmt(v: float) -> str:
    return f"{v:.4g}" if abs(v) < 1e5 else f"{v:.3e}"


def _format_cost(cost, unit: str, described: str, clock_hz: float, bound_of) -> str:
    """Per-layer table and totals of a network cost (3-level or hierarchy), for a person."""
    rows = [("#", "layer", "shape", "MMACs", "cycles", "util", f"energy[{unit}]", "EDP", "bound")]
    for i, lc in enumerate(cost.layers):
        rows.append((str(i), lc.layer.name, lc.layer.describe(), f"{lc.macs / 1e6:.2f}", _fmt(lc.cycles),
                     f"{100 * lc['utilization']:.1f}%", _fmt(lc.energy), _fmt(lc.edp), bound_of(lc)))
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) if c < 3 else cell.rjust(w) for c, (cell, w) in
                       enumerate(zip(r, widths))) for r in rows]
    t = cost.totals()
    breakdown = ", ".join(f"{k} {100 * v / t['energy']:.1f}%" for k, v in cost.energy_breakdown().items())
    lines += [
        "",
        f"accelerator  {described}",
        f"mapping      {cost.mapping_source}",
        f"network      {cost.network}: {t['layers']} layers, {t['unique_shapes']} distinct shapes, "
        f"{t['macs'] / 1e9:.3f} GMACs",
        f"energy       {t['energy']:.4e} {unit}  ({breakdown})",
        f"latency      {t['cycles']:.4e} cycles = {1e3 * t['latency_s']:.3f} ms at "
        f"{clock_hz / 1e6:g} MHz; utilization {100 * t['utilization']:.1f}%",
        f"EDP          {t['edp']:.4e} {unit}*cycles  (network EDP = total energy x total cycles)",
    ]
    if t["uncosted"]:
        ops = ", ".join(f"{op} x{v['count']} ({v['elements'] / 1e6:.3g} M elements)" for op, v in t["uncosted"].items())
        lines.append(textwrap.fill(ops, 110, initial_indent="not costed   ", subsequent_indent=" " * 13))
    return "\n".join(lines)


def format_table(cost: NetworkCost) -> str:
    """Per-layer table and totals on the 3-level template, for a person."""
    def bound(lc) -> str:
        return max(("compute", lc["compute_cycles"]), ("L2/NoC", lc["l2_cycles"]),
                   ("DRAM", lc["dram_cycles"]), key=lambda t: t[1])[0]
    acc = cost.accelerator
    return _format_cost(cost, acc.energy.unit, acc.describe(), acc.clock_hz, bound)


def format_nest_table(cost) -> str:
    """Per-layer table and totals of a network on a general hierarchy, for a person."""
    hier = cost.hierarchy

    def bound(lc) -> str:
        slow = max(range(hier.num_levels), key=lambda k: lc.level(k, "cycles"))
        return hier.levels[slow].name if lc.level(slow, "cycles") > lc["compute_cycles"] else "compute"
    return _format_cost(cost, hier.energy_table.unit, hier.describe(), hier.clock_hz, bound)


def cmd_evaluate(args) -> int:
    try:
        return _evaluate(args)
    except NetworkEvaluationError as exc:
        if exc.partial.layers:  # print what was computed before reporting what was not
            nest = getattr(exc.partial, "hierarchy", None) is not None
            print((format_nest_table if nest else format_table)(exc.partial))
            print(f"({len(exc.errors)} layer shape(s) could not be mapped: totals exclude them)")
        for message in exc.errors:
            print(f"naas: error: {message}", file=sys.stderr)
        return 2


def _print_cost(args, cost, accelerator_doc: dict, table, names) -> int:
    """naas evaluate's output: JSON (totals, accelerator, layers) or the table (and loop nests), and --csv."""
    if args.format == "json":
        doc = {"totals": cost.totals(), "accelerator": accelerator_doc,
               "layers": [lc.to_dict() for lc in cost.layers]}
        print(json.dumps(doc, indent=1))
    else:
        print(table(cost))
        if args.show_mappings:
            _print_mappings(cost, names)
    _write_csv(args, cost)
    return 0


def _print_mappings(cost, names) -> None:
    """Each distinct layer shape's loop nest (``names``: the parallel dims or the level names)."""
    seen = set()
    for lc in cost.layers:
        if lc.layer.shape_key not in seen:
            seen.add(lc.layer.shape_key)
            print(f"\n{lc.layer.name}: {lc.layer.describe()}\n{lc.mapping.loop_nest(names, lc.layer.dim_names)}")


def _write_csv(args, cost) -> None:
    if args.csv:
        path = Path(args.csv)
        frame = cost.to_frame()
        try:
            with open(path, "w", newline="") as f:
                frame.to_csv(f, index=False)
        except OSError as exc:
            raise CliError(f"--csv: cannot write {str(path)!r}: {exc.strerror or exc}") from None
        print(f"wrote {path}", file=sys.stderr)


def _evaluate(args) -> int:
    from naas.api import evaluate
    from naas.designs import design_to_dict

    result = evaluate(_network(args), args.accelerator, mapping=args.mapping, budget=args.budget, seed=args.seed,
                      method=args.method, objective=args.objective, exact_factors=args.exact_factors,
                      energy=args.energy)
    cost = result.cost
    hier = getattr(cost, "hierarchy", None)
    if hier is not None:
        return _print_cost(args, cost, design_to_dict(hier), format_nest_table, hier.level_names)
    return _print_cost(args, cost, cost.accelerator.to_dict(), format_table, cost.accelerator.parallel_dims)


def _config_and_folder(args, cls):
    """(config built from the options given, new run folder), or (None, the folder to resume)."""
    if args.resume:
        return None, args.resume
    if not args.out:
        raise CliError("--out: a run folder is required (or --resume RUN)")
    return build_config(cls, given_options(cls, args)), args.out


def cmd_search(args) -> int:
    from naas.hardware_search import HardwareSearchConfig, run_hardware_search

    config, folder = _config_and_folder(args, HardwareSearchConfig)
    from naas.executor import make_executor
    with make_executor(args.workers, args.scheduler) as executor, progress_bars(args.quiet) as progress:
        best = run_hardware_search(config, folder, resume=bool(args.resume), progress=progress,
                                   executor=executor, budget=args.budget if args.resume else None)
    from naas.designs import load_design
    base = best["baseline_fitness"]
    acc = load_design(Path(folder) / "best.yaml")
    print(f"best design (#{best['id']}, generation {best['generation']}): {acc.describe()}")
    print(f"geomean network EDP {best['fitness']:.4e}" +
          (f" = {best['fitness'] / base:.3f}x the baseline's {base:.4e}" if base else ""))
    from naas.report import final_costs_of
    from naas.run_store import RunStore
    store = RunStore(folder, create=False)
    try:
        fin = final_costs_of(store)
    finally:
        store.close()
    if fin:
        f_best, f_base = fin["best"]["fitness"], fin["baseline"]["fitness"]
        print(f"re-costed with {fin['budget']} mapping evaluations per layer shape: {f_best:.4e} = "
              f"{f_best / f_base:.3f}x the baseline's {f_base:.4e}")
    print(f"wrote {Path(folder) / 'best.yaml'} (naas evaluate -a {Path(folder) / 'best.yaml'} accepts it)")
    return 0


def cmd_cosearch(args) -> int:
    from naas.joint_search import CosearchConfig, run_cosearch
    from naas.executor import make_executor

    config, folder = _config_and_folder(args, CosearchConfig)
    with make_executor(args.workers, args.scheduler) as executor, progress_bars(args.quiet) as progress:
        best = run_cosearch(config, folder, resume=bool(args.resume), data_dir=args.ofa_data,
                            budget=args.budget if args.resume else None, executor=executor, progress=progress)
    from naas.designs import load_design
    ref, sub = best["reference"], best["subnet"]
    acc = load_design(Path(folder) / "best.yaml")
    print(f"best design (#{best['id']}, generation {best['generation']}): {acc.describe()}")
    print(f"best subnet: {sub['macs'] / 1e9:.3f} GMACs, predicted top-1 {sub['accuracy'] * 100:.2f}% "
          f"(bound {best['bound'] * 100:.2f}%; reference {ref['accuracy'] * 100:.2f}%), "
          f"resolution {sub['config']['resolution']}")
    print(f"EDP {best['fitness']:.4e} = {best['baseline_fitness'] / best['fitness']:.3f}x lower than the "
          f"reference on {acc.name.split('-cosearch')[0]} ({best['baseline_fitness']:.4e})")
    fin = best.get("final")
    if fin:
        f_best, f_ref = fin["best"]["edp"], fin["reference"][fin["reference_name"]]["edp"]
        print(f"re-costed with {fin['budget']} mapping evaluations per layer shape: {f_best:.4e} = "
              f"{f_ref / f_best:.3f}x lower than the reference's {f_ref:.4e}")
    print("accuracy: predicted top-1 on OFA's holdout (10k ImageNet-train images), not ImageNet val")
    print(f"wrote {Path(folder) / 'best.yaml'} and {Path(folder) / 'best_subnet.json'}")
    return 0


def cmd_tradeoff(args) -> int:
    from naas.api import tradeoff
    from naas.executor import make_executor
    from naas.tradeoff_search import TradeoffConfig, parse_references

    config, folder = _config_and_folder(args, TradeoffConfig)
    which = parse_references(args.references)
    with make_executor(args.workers, args.scheduler) as executor, progress_bars(args.quiet) as progress:
        frame = tradeoff(config, out=folder, resume=bool(args.resume), data_dir=args.ofa_data, references=which,
                         executor=executor, progress=progress, budget=args.budget if args.resume else None)
    _print_tradeoff(frame)
    print(f"wrote {', '.join(str(Path(folder) / f) for f in ('curve.csv', 'comparison.csv', 'tradeoff.md', 'tradeoff.png'))}")
    return 0


def _print_tradeoff(frame) -> None:
    from naas.tradeoff_report import comparison

    table = comparison(frame)
    cols = ["target", "co-design EDP"] + [c for c in table.columns if c.endswith("/ co-design")]
    import pandas as pd

    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table[cols].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print("accuracy: predicted top-1 on OFA's holdout (10k ImageNet-train images), not ImageNet val; "
          "ratios > 1: the reference's EDP is higher than co-design's")


def cmd_sweep(args) -> int:
    from naas.config_checks import check_networks
    from naas.executor import make_executor
    from naas.sweep_run import run_sweep
    from naas.sweep_spec import load_sweep

    if args.resume:
        spec, folder = None, args.resume
    else:
        if not args.out:
            raise CliError("--out: a run folder is required (or --resume RUN)")
        if not args.grid:
            raise CliError("--grid: a sweep file is required (see docs/sweeps.md)")
        networks = None
        if args.networks is not None:
            networks = names(args.networks)
            check_networks(networks)
        spec = load_sweep(args.grid, networks=networks, samples=args.samples)
        changes = {}
        if args.seed is not None:
            changes["seed"] = args.seed
        if args.mapping is not None:
            changes["mapping"] = args.mapping
        if args.inner_budget is not None:
            if args.inner_budget < 1:
                raise CliError(f"--inner-budget: {args.inner_budget} (allowed: >= 1)")
            changes["inner_budget"] = args.inner_budget
        spec = replace(spec, **changes)
        folder = args.out
    with make_executor(args.workers, args.scheduler) as executor, progress_bars(args.quiet) as progress:
        done = run_sweep(spec, folder, resume=bool(args.resume), executor=executor, progress=progress)
    best, base = done["best"], done["baseline_fitness"]
    print(f"{done['designs']} designs ({done['evaluated']} evaluated now, the rest from the store)")
    if best is None:
        print("no design could map every layer")
        return 0
    print(f"lowest EDP: design #{best['id']} ({best['accelerator']['name']}), geomean network EDP "
          f"{best['fitness']:.4e}" + (f" = {best['fitness'] / base:.3f}x the base's {base:.4e}" if base else ""))
    print(f"wrote {Path(folder) / 'best.yaml'}; 'naas report {folder}' writes the Pareto front and plots")
    return 0


def _levels(text: str | None) -> dict[str, str]:
    """--levels 'shared_glb=l2,pe_spad=l1' -> {target: naas level}."""
    out = {}
    for part in (text or "").split(","):
        if part.strip():
            if "=" not in part:
                raise CliError(f"--levels: {part.strip()!r} is not TARGET=LEVEL (e.g. shared_glb=l2)")
            target, level = (x.strip() for x in part.split("=", 1))
            out[target] = level
    return out


def _timeloop_evaluate_arch(args) -> int:
    """naas timeloop evaluate --arch: the architecture's own levels, mapping targets by their names."""
    from cost_model.timeloop_evaluate import evaluate_timeloop_files

    if not args.mapping:
        raise CliError("--arch: give the mapping file too (PROBLEM MAPPING); a search on a Timeloop "
                       "architecture is not offered yet")
    if args.levels:
        raise CliError("--levels: not with --arch (mapping targets are the architecture's level names)")
    result, notes = evaluate_timeloop_files(args.arch, args.problem, args.mapping, args.ert)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if args.format == "json":
        print(json.dumps(result, indent=1))
        return 0
    print(f"{result['layer']}: {result['macs']} MACs; cycles {result['cycles']:.6g}; energy "
          f"{result['energy_pJ']:.6g} pJ; EDP {result['edp']:.4e}; utilization {100 * result['utilization']:.1f}%")
    for level, spaces in result["levels"].items():
        cells = "; ".join(f"{ds} " + ", ".join(f"{k} {v}" for k, v in c.items()) for ds, c in spaces.items())
        print(f"  {level}: {cells}")
    return 0


def cmd_timeloop_evaluate(args) -> int:
    from cost_model.evaluate import evaluate_layer

    if args.arch:
        return _timeloop_evaluate_arch(args)
    if args.ert or args.format != "table":
        raise CliError("--ert and --format json go with --arch ARCH.yaml")
    from mapping.timeloop_mapping import load_timeloop_mapping
    from nn_space.layers import Network
    from nn_space.timeloop_problem import load_timeloop_problem

    acc = _accelerator(args)
    layer = load_timeloop_problem(args.problem)
    if args.mapping:
        mapping, notes = load_timeloop_mapping(args.mapping, layer, _levels(args.levels))
        cost = evaluate_layer(layer, acc, mapping)
        for note in notes:
            print(f"note: {note}", file=sys.stderr)
        source = f"Timeloop mapping {args.mapping}"
    else:
        cost = search_network(Network(layer.name, (layer,)), acc,
                              SearchSettings(budget=args.budget, seed=args.seed)).layers[0]
        mapping, source = cost.mapping, f"searched ({args.budget} evaluations, seed {args.seed})"
    print(f"{layer.name}: {layer.describe()} on {acc.describe()}")
    print(f"mapping: {source}\n{mapping.loop_nest(acc.parallel_dims, layer.dim_names)}")
    counts = cost.counts()
    print("accesses (words):")
    for level, tensors in counts.items():
        cells = ", ".join(f"{t} " + "/".join(f"{k} {v}" for k, v in c.items() if v) for t, c in tensors.items())
        print(f"  {level:5s} {cells}")
    unit = acc.energy.unit
    breakdown = ", ".join(f"{k} {v:.4g}" for k, v in cost.energy_breakdown().items())
    print(f"energy {cost.energy:.4e} {unit} ({breakdown}); cycles {cost.cycles:.4e}; EDP {cost.edp:.4e}; "
          f"utilization {100 * cost.utilization:.1f}%")
    return 0


def _distinct_layers(cost):
    """(file stem, layer cost) of each distinct layer shape of a network cost, first occurrence first."""
    seen = set()
    for i, lc in enumerate(cost.layers):
        if lc.layer.shape_key not in seen:
            seen.add(lc.layer.shape_key)
            yield f"{i:02d}_{lc.layer.name or 'layer'}".replace("/", "_").replace(".", "_"), lc


def _timeloop_export_hierarchy(args, out: Path) -> int:
    """naas timeloop export on a hierarchy: arch + ERT + problem + mapping per distinct layer shape, with
    exact-factor mappings (Timeloop takes no padding)."""
    from cost_model.hierarchy_yaml import load_hierarchy
    from cost_model.nest_network import evaluate_nest_network
    from cost_model.timeloop_arch import export_timeloop
    from mapping.nest_search import nest_search_mapper

    hier = load_hierarchy(args.accelerator)
    if args.mapping == "default":
        raise CliError("--mapping default: the default mappings pad; a Timeloop export of a hierarchy searches "
                       "exact-factor mappings (--mapping search)")
    cost = evaluate_nest_network(_network(args), hier, nest_search_mapper(args.budget, args.seed, exact=True),
                                 mapping_source="searched, exact factors")
    written, notes = 0, set()
    for stem, lc in _distinct_layers(cost):
        try:
            docs = export_timeloop(lc.layer, hier, lc.mapping, zero_hop_energy=True)
        except ValueError as exc:
            print(f"naas: skipped {stem}: {exc}", file=sys.stderr)
            continue
        docs.write(out / stem)
        notes.update(docs.notes)
        written += 1
    for note in sorted(notes):
        print(f"note: {note}", file=sys.stderr)
    print(f"wrote {written} arch/ert/problem/mapping sets (one folder per distinct layer shape) to {out}; "
          f"run each with: timeloop-model arch.yaml problem.yaml mapping.yaml ert.yaml")
    return 0


def cmd_timeloop_export(args) -> int:
    import yaml

    from cost_model.hierarchy_yaml import is_hierarchy_file

    if is_hierarchy_file(args.accelerator):
        return _timeloop_export_hierarchy(args, Path(args.out))

    from mapping.timeloop_mapping import mapping_to_timeloop
    from nn_space.timeloop_problem import timeloop_problem

    acc = _accelerator(args)
    net = _network(args)
    out = Path(args.out)
    if args.mapping == "default":
        cost = evaluate_network(net, acc, default_mapping, "default")
    else:
        cost = search_network(net, acc, SearchSettings(budget=args.budget, seed=args.seed))
    targets = {"dram": args.dram_target, "l2": args.l2_target, "l1": args.l1_target}
    out.mkdir(parents=True, exist_ok=True)
    written = 0
    for stem, lc in _distinct_layers(cost):
        try:
            problem = timeloop_problem(lc.layer)
        except LayerSpecError as exc:
            print(f"naas: skipped {stem}: {exc}", file=sys.stderr)
            continue
        (out / f"{stem}.problem.yaml").write_text(yaml.safe_dump(problem, sort_keys=False))
        doc = mapping_to_timeloop(lc.mapping, lc.layer, [a.dims for a in acc.array], targets)
        (out / f"{stem}.map.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
        written += 1
    print(f"wrote {written} problem/mapping pairs (one per distinct layer shape) to {out}")
    return 0


def cmd_report(args) -> int:
    from naas.report import ReportError, summary, write_report

    try:
        files = write_report(args.run)
        print(summary(args.run))
    except ReportError as exc:
        raise CliError(str(exc)) from None
    for f in files:
        print(f"wrote {f}")
    return 0


def cmd_list(args) -> int:
    print("accelerators (--accelerator NAME, or a YAML file):")
    for name in builtin_accelerators():
        print(f"  {load_accelerator(name).describe()}")
    from cost_model.hierarchy_yaml import HIERARCHY_DIR, load_hierarchy

    print("storage hierarchies (naas evaluate --accelerator NAME, or a YAML file with a 'levels' list):")
    for path in sorted(HIERARCHY_DIR.glob("*.yaml")):
        print(f"  {load_hierarchy(path).describe()}")
    print("networks (--network NAME):")
    for name in NETWORKS:
        net = get_network(name)
        print(f"  {name:14s} {len(net.layers):3d} layers, {net.macs / 1e9:7.3f} GMACs at {net.describe_input()}")
    print("energy tables (--energy NAME):")
    for t in ENERGY_TABLES.values():
        print(f"  {t.name:22s} [{t.unit}] {t.source}")
    return 0


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    """Where a run is written and evaluated: the options every search kind shares."""
    parser.add_argument("--workers", type=int, default=1, help="local processes evaluating designs in parallel")
    parser.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                        help="evaluate designs on this dask.distributed cluster instead of locally")
    parser.add_argument("--out", default=None, metavar="RUN", help="new run folder")
    parser.add_argument("--resume", default=None, metavar="RUN",
                        help="continue the run in this folder (its stored config; --budget extends it)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def build_parser() -> argparse.ArgumentParser:
    from naas.joint_search import CosearchConfig
    from naas.hardware_search import HardwareSearchConfig
    from naas.tradeoff_search import TradeoffConfig

    p = OneLineParser(prog="naas", description=__doc__)
    p.add_argument("-v", "--verbose", action="store_true", help="also log what the searches do (stderr)")
    sub = p.add_subparsers(dest="command", required=True)
    ev = sub.add_parser("evaluate", help="cost a network on an accelerator, layer by layer")
    ev.add_argument("--accelerator", "-a", default="eyeriss",
                    help="built-in name (see 'naas list') or path to an accelerator YAML file")
    ev.add_argument("--network", "-n", default="resnet50",
                    help="built-in network (see 'naas list') or an ONNX model file (.onnx; needs 'onnx')")
    ev.add_argument("--input-size", type=int, default=None, help="input height = width, or the tokens of a token model (default: the network's)")
    ev.add_argument("--batch", type=int, default=1, help="batch size N (default 1)")
    ev.add_argument("--energy", default=None, help="energy table, overriding the accelerator file's")
    ev.add_argument("--mapping", choices=["search", "default"], default="search",
                    help="'search' (default): per-layer mapping search; 'default': the dataflow's fixed "
                         "heuristic mapping")
    ev.add_argument("--budget", type=int, default=SearchSettings.budget,
                    help=f"evaluations per distinct layer shape ({SearchSettings.budget})")
    ev.add_argument("--seed", type=int, default=SearchSettings.seed, help="search seed (same seed, same result)")
    ev.add_argument("--method", choices=METHODS, default=SearchSettings.method,
                    help=f"mapping search method ({SearchSettings.method})")
    ev.add_argument("--objective", choices=OBJECTIVES, default=SearchSettings.objective,
                    help=f"what each layer's search minimizes ({SearchSettings.objective})")
    ev.add_argument("--format", choices=["table", "json"], default="table")
    ev.add_argument("--csv", default=None, metavar="PATH", help="also write the per-layer results as CSV")
    ev.add_argument("--show-mappings", action="store_true", help="print each distinct layer's loop nest")
    ev.add_argument("--exact-factors", action="store_true",
                    help="hierarchies: search only exact-divisor factors (no padding; what Timeloop and "
                         "ZigZag take)")
    ev.set_defaults(func=cmd_evaluate)
    se = sub.add_parser("search", help="NAAS hardware search under a baseline's resources (resumable)")
    add_config_options(se, HardwareSearchConfig)
    _add_run_options(se)
    se.set_defaults(func=cmd_search)
    co = sub.add_parser("cosearch", help="joint OFA subnet + accelerator + mapping search (resumable)")
    add_config_options(co, CosearchConfig)
    co.add_argument("--ofa-data", default=None, metavar="DIR",
                    help="folder with OFA's predictor files (default: $NAAS_OFA_DATA)")
    _add_run_options(co)
    co.set_defaults(func=cmd_cosearch)
    tr = sub.add_parser("tradeoff", help="accuracy-EDP trade-off curve: co-design per accuracy target, with "
                                         "reference curves (resumable)")
    add_config_options(tr, TradeoffConfig, skip=("min_accuracy",))
    tr.add_argument("--references", default="all", metavar="LIST",
                    help="reference curves: fixed (published networks on the baseline), hardware (hardware-only "
                         "search per network), network (network-only search per target); comma-separated, 'all' "
                         "(default) or 'none'")
    tr.add_argument("--ofa-data", default=None, metavar="DIR",
                    help="folder with OFA's predictor files (default: $NAAS_OFA_DATA)")
    _add_run_options(tr)
    tr.set_defaults(func=cmd_tradeoff)
    sw = sub.add_parser("sweep", help="grid or random sweep of accelerator parameters (resumable)")
    sw.add_argument("--grid", default=None, metavar="SWEEP.yaml",
                    help="sweep file: base accelerator, parameters by dotted path, method (docs/sweeps.md)")
    sw.add_argument("--networks", default=None, help="comma-separated built-in networks (default: the file's)")
    sw.add_argument("--samples", type=int, default=None, help="random sweep of N distinct combinations")
    sw.add_argument("--seed", type=int, default=None, help="random sampling and mapping-search seed")
    sw.add_argument("--mapping", choices=["search", "default"], default=None,
                    help="per-layer mapping search (the file's default: search) or the dataflow's default")
    sw.add_argument("--inner-budget", type=int, default=None, help="mapping-search evaluations per layer shape")
    _add_run_options(sw)
    sw.set_defaults(func=cmd_sweep)
    tl = sub.add_parser("timeloop", help="Timeloop problem and mapping files: evaluate them here, or export")
    tls = tl.add_subparsers(dest="timeloop_command", required=True)
    te = tls.add_parser("evaluate", help="cost a Timeloop problem (and mapping) on a naas accelerator")
    te.add_argument("problem", help="Timeloop problem file (v0.3/v0.4 YAML)")
    te.add_argument("mapping", nargs="?", default=None,
                    help="Timeloop mapping file (default: search a mapping here)")
    te.add_argument("--arch", default=None, metavar="ARCH.yaml",
                    help="a Timeloop v0.3 architecture: cost on its own levels (targets by its names)")
    te.add_argument("--ert", default=None, metavar="ERT.yaml",
                    help="with --arch: its energy reference table (else an ERT key in the files, else naas's "
                         "energy table)")
    te.add_argument("--format", choices=["table", "json"], default="table",
                    help="with --arch: json gives cycles, energy_pJ, edp and levels -> data space -> counts")
    te.add_argument("--accelerator", "-a", default="eyeriss", help="without --arch: the naas accelerator")
    te.add_argument("--energy", default=None, help="energy table, overriding the accelerator file's")
    te.add_argument("--levels", default=None, metavar="TARGET=LEVEL,...",
                    help="without --arch: naas level (dram, l2, l1) of each Timeloop target whose name is not "
                         "one of Timeloop's usual ones (DRAM, GlobalBuffer, shared_glb, RegisterFile, ...)")
    te.add_argument("--budget", type=int, default=2000)
    te.add_argument("--seed", type=int, default=0)
    te.set_defaults(func=cmd_timeloop_evaluate)
    tx = tls.add_parser("export", help="write a network's layers and mappings as Timeloop files (with a "
                                       "hierarchy: also its architecture and ERT, for timeloop-model v3.0.3)")
    tx.add_argument("--accelerator", "-a", default="eyeriss")
    tx.add_argument("--energy", default=None)
    tx.add_argument("--network", "-n", default="resnet50")
    tx.add_argument("--input-size", type=int, default=None)
    tx.add_argument("--batch", type=int, default=1)
    tx.add_argument("--mapping", choices=["search", "default"], default="search")
    tx.add_argument("--budget", type=int, default=2000)
    tx.add_argument("--seed", type=int, default=0)
    tx.add_argument("--dram-target", default="DRAM", help="Timeloop name of naas's DRAM level")
    tx.add_argument("--l2-target", default="GlobalBuffer", help="Timeloop name of naas's L2")
    tx.add_argument("--l1-target", default="RegisterFile", help="Timeloop name of naas's per-PE L1")
    tx.add_argument("--out", required=True, metavar="DIR")
    tx.set_defaults(func=cmd_timeloop_export)
    rp = sub.add_parser("report", help="tables and plots of a search run")
    rp.add_argument("run", metavar="RUN", help="run folder")
    rp.set_defaults(func=cmd_report)
    ls = sub.add_parser("list", help="built-in accelerators, networks and energy tables")
    ls.set_defaults(func=cmd_list)
    return p


class _StderrHandler(logging.StreamHandler):
    """A log handler writing to whatever ``sys.stderr`` is when a record is emitted (not the stream of the
    moment ``main`` first ran: a caller may redirect or close that one)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def _logging(verbose: bool) -> None:
    """Library messages (``logging``) and warnings on stderr: warnings always, progress notes with -v."""
    logging.captureWarnings(True)
    root = logging.getLogger()
    if not any(getattr(h, "_naas", False) for h in root.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("naas: %(levelname)s: %(message)s"))
        handler._naas = True
        root.addHandler(handler)
    for name in ("naas", "py.warnings"):
        logging.getLogger(name).setLevel(logging.INFO if verbose else logging.WARNING)


def _interrupted(args) -> str:
    """What Ctrl-C leaves: for a run folder with a run store in it, the command that continues it."""
    folder = (getattr(args, "resume", None) or getattr(args, "out", None)) if args is not None else None
    if getattr(args, "command", None) in RUN_COMMANDS and folder:
        import shlex

        from naas.run_store import RunStore

        if (Path(folder) / RunStore.FILE).is_file():
            return f"interrupted: 'naas {args.command} --resume {shlex.quote(str(folder))}' continues"
    return "interrupted"


def main(argv: list[str] | None = None) -> int:
    """Run one ``naas`` command; bad input (``INPUT_ERRORS``) is one line on stderr with exit code 2, Ctrl-C
    one line with exit code 130 (what was committed is kept)."""
    args = None
    try:
        args = build_parser().parse_args(argv)
        _logging(args.verbose)
        reproducible()  # pins the kernels too when numpy is not loaded yet (cost_model.blas_kernels)
        return args.func(args)
    except (CliError, *INPUT_ERRORS) as exc:
        print(f"naas: error: {cli_message(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"naas: {_interrupted(args)}", file=sys.stderr)
        return INTERRUPTED
    except BrokenPipeError:  # output piped into a reader that stopped (e.g. head)
        import os
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:  # a path the system refuses (a name too long, a read-only folder, a full disk)
        where = f"{exc.filename!r}: " if exc.filename else ""
        print(f"naas: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
