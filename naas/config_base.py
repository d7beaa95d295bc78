"""What the search configs share: storing in a run folder, and the inner mapping searches they run."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from mapping.network_search import SearchSettings, final_portfolio
from mapping.search import STARTS

from .config_checks import check_choice, check_counts, check_elite_mutants, check_inner_start, check_outer
from .config_options import build_config, option
from .errors import ConfigError
from .hardware_space import WARM_STARTS


class StoredConfig:
    """A frozen config dataclass stored whole in its run folder and rebuilt from it (never from code defaults)."""

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict):
        """The config a run stored (``to_dict``): every field, none filled in from today's defaults; a missing,
        unknown or refused field raises ``ConfigError``."""
        names = [f.name for f in dataclasses.fields(cls)]
        missing = [n for n in names if n not in d]
        unknown = [k for k in d if k not in names]
        if missing or unknown:
            what = "; ".join(part for part in (missing and f"without {', '.join(missing)}",
                                               unknown and f"with unknown {', '.join(map(str, unknown))}") if part)
            raise ConfigError(f"config: stored {what} (a run stored by another naas version; rerun it)", "config")
        return build_config(cls, d)


class InnerSearches:
    """The per-layer mapping searches of a config with ``inner_budget``, ``seed``, ``inner_start``,
    ``inner_sigma0``, ``final_portfolio`` (and ``encoding``, else the importance encoding)."""

    def mapping_settings(self, budget: int | None = None) -> SearchSettings:
        """How the inner per-layer mapping searches run (``budget`` overrides the inner budget)."""
        return SearchSettings(budget=budget or self.inner_budget, seed=self.seed,
                              method=f"cma-{getattr(self, 'encoding', 'importance')}", x0=self.inner_start,
                              sigma0=self.inner_sigma0)

    def final_settings(self, budget: int) -> tuple[SearchSettings, ...]:
        """The mapping searches a final re-costing at ``budget`` takes, per layer shape, the best of."""
        own = self.mapping_settings(budget)
        return final_portfolio(own) if self.final_portfolio else (own,)


@dataclass(frozen=True)
class OuterSearchConfig(StoredConfig, InnerSearches):
    """The fields a hardware search and a co-search share: the outer CMA-ES over a baseline's resources,
    its warm start and elite mutants, the inner mapping searches and the final re-costing."""

    baseline: str = option("eyeriss", "accelerator whose #PEs and on-chip memory cap the search (built-in name "
                                      "or YAML file; a hierarchy such as eyeriss-hier too)")
    budget: int = option(60, "hardware designs to evaluate, warm starts included, rounded up to whole "
                             "generations (with --resume: extend the run to this many)")
    seed: int = option(0, "seed of every loop of the search (same seed, same result)")
    inner_budget: int = option(500, "mapping-search evaluations per distinct layer shape")
    popsize: int | None = option(None, "hardware CMA-ES population (none: cma's default for the genes)", type=int)
    sigma0: float = option(0.3, "initial CMA-ES step size of the hardware search, genes in [0, 1]")
    axis_dims: int = option(3, "loop dims one array axis may parallelize (1: the paper's space, an ablation)",
                            choices=(1, 2, 3), group="ablation")
    final_budget: int = option(2000, "re-cost the reference and the best design with this many mapping "
                                     "evaluations per layer shape at the end (0: don't)")
    warm_start: str = option("dataflows", "generation 0: 'dataflows' (the baseline and its resources as each "
                                          "built-in dataflow, CMA-ES from the best) or 'baseline' (it alone)",
                             choices=WARM_STARTS)
    elite_mutants: int = option(0, "designs per generation proposed as Gaussian mutants of the best design so "
                                   "far, injected into the CMA-ES population (0: none)")
    elite_sigma: float = option(0.05, "the elite mutants' standard deviation per gene, genes in [0, 1]")
    inner_start: str = option("best-default", "where each per-layer mapping search starts: 'default' (the "
                                              "dataflow's default mapping), 'best-default' (the best of every "
                                              "dataflow's default mapping) or 'random'", choices=STARTS)
    inner_sigma0: float = option(0.15, "initial CMA-ES step size of each mapping search, genes in [0, 1]")
    final_portfolio: bool = option(True, "re-cost at final_budget with, per layer shape, the best mapping of the "
                                         "search's own mapping search and those from 'default' and "
                                         "'best-default' at sigma0 0.25")

    def __post_init__(self):
        check_counts(self, budget=1, inner_budget=1, final_budget=0)
        check_outer(self.popsize, self.sigma0)
        check_choice(self, "axis_dims", (1, 2, 3))
        check_choice(self, "warm_start", WARM_STARTS)
        check_inner_start(self.inner_start, self.inner_sigma0)
        check_elite_mutants(self.elite_mutants, self.elite_sigma, self.popsize)
