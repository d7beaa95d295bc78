"""What the search configs share: storing in a run folder, and the inner mapping searches they run."""
from __future__ import annotations

import dataclasses
from typing import Any

from mapping.network_search import SearchSettings, final_portfolio

from .config_options import build_config
from .errors import ConfigError


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
