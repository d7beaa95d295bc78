"""Checks the search configs run on their fields; each raises ``ConfigError`` naming the field."""
from __future__ import annotations

from typing import Any

from .errors import ConfigError, config_error


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_counts(config: Any, **lowest: int) -> None:
    """Each named field an integer >= its lowest value."""
    for name, low in lowest.items():
        value = getattr(config, name)
        if not _is_int(value) or value < low:
            raise ConfigError(f"{name}: {value!r} (allowed: an integer >= {low})", name)


def check_choice(config: Any, name: str, allowed: tuple) -> None:
    value = getattr(config, name)
    if value not in allowed:
        raise ConfigError(f"{name}: {value!r} (allowed: {', '.join(map(str, allowed))})", name)


def check_outer(popsize: Any, sigma0: Any) -> None:
    """The hardware CMA-ES's population (None: cma's default) and step size."""
    if popsize is not None and (not _is_int(popsize) or popsize < 2):
        raise ConfigError(f"popsize: {popsize!r} (allowed: an integer >= 2, or none for cma's default)", "popsize")
    if isinstance(sigma0, bool) or not isinstance(sigma0, (int, float)) or not 0 < sigma0 <= 1:
        raise ConfigError(f"sigma0: {sigma0!r} (allowed: 0 < sigma0 <= 1, genes are in [0, 1])", "sigma0")


def check_networks(networks: tuple) -> None:
    """At least one network, each a built-in one."""
    from nn_space.zoo import NETWORKS, get_network

    if not networks:
        raise ConfigError(f"networks: {','.join(networks)!r} names no network (allowed: {', '.join(NETWORKS)})",
                          "networks")
    for n in networks:
        try:
            get_network(n)
        except KeyError:
            raise ConfigError(f"networks: {n!r} is not a built-in network (allowed: {', '.join(NETWORKS)})",
                              "networks") from None


def check_inner_start(start: Any, sigma0: Any) -> None:
    """Where the per-layer mapping searches start and their step size (``mapping.network_search.check_start``)."""
    from mapping.network_search import check_start

    try:
        check_start(start, sigma0, ("inner_start", "inner_sigma0"))
    except (TypeError, ValueError) as exc:
        raise config_error(exc) from None


def check_elite_mutants(count: int, sigma: float, popsize: int | None) -> None:
    """Refuses (``ConfigError`` naming the field) mutant settings a generation cannot hold."""
    if not isinstance(count, int) or count < 0:
        raise ConfigError(f"elite_mutants: {count!r} (allowed: an integer >= 0)", "elite_mutants")
    if popsize and count >= popsize:
        raise ConfigError(f"elite_mutants: {count} (allowed: below the population size, {popsize})",
                          "elite_mutants")
    if not (isinstance(sigma, (int, float)) and 0.0 < sigma <= 1.0):
        raise ConfigError(f"elite_sigma: {sigma!r} (allowed: 0 < sigma <= 1, genes are in [0, 1])", "elite_sigma")
