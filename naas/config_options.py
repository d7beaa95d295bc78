"""Config dataclass fields that carry their command-line help, and the options built from them.

A search's config dataclass is the one place its defaults live: ``option`` declares a field with its help
text, ``add_config_options`` turns the fields into ``argparse`` options whose default is "not given"
(``None``), and ``build_config(cls, given_options(cls, args))`` builds the config from what was given, the
dataclass filling in the rest.
The help shows each default as the dataclass holds it.
"""
from __future__ import annotations

import argparse
import dataclasses
from typing import Any, Callable

from .errors import ConfigError, config_error


#: the option groups of ``naas <command> --help``
GROUPS = {"search": "search settings",
          "ablation": "ablations (the baselines the method is compared with; docs/search.md, 'Ablations')"}


def option(default: Any, help: str, *, type: Callable[[str], Any] | None = None,
           choices: tuple | None = None, metavar: str | None = None, cli: bool = True,
           group: str = "search") -> Any:
    """A config field with its default and its command-line help (``cli=False``: not an option; ``group``:
    where ``--help`` lists it, one of ``GROUPS``)."""
    return dataclasses.field(default=default, metadata={"help": help, "type": type, "choices": choices,
                                                        "metavar": metavar, "cli": cli, "group": group})


def names(text: str) -> tuple[str, ...]:
    """'a, b,c' -> ('a', 'b', 'c')."""
    return tuple(n.strip() for n in text.split(",") if n.strip())


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return "none" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def cli_fields(cls) -> list[dataclasses.Field]:
    """The fields of ``cls`` that are command-line options."""
    return [f for f in dataclasses.fields(cls) if f.metadata.get("cli", False)]


def add_config_options(parser: argparse.ArgumentParser, cls, skip: tuple[str, ...] = ()) -> None:
    """One option per field of ``cls`` (``--inner-budget`` for ``inner_budget``), default "not given"."""
    groups = {key: parser.add_argument_group(title) for key, title in GROUPS.items()}
    for f in cli_fields(cls):
        if f.name in skip:
            continue
        flag, meta = "--" + f.name.replace("_", "-"), f.metadata
        group = groups[meta["group"]]
        allowed = f"; one of {', '.join(map(str, meta['choices']))}" if meta["choices"] else ""
        help = f"{meta['help']} (default: {_show(f.default)}{allowed})"
        if isinstance(f.default, bool):
            group.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=None, help=help)
            continue
        kind = meta["type"] or (names if isinstance(f.default, tuple) else type(f.default))
        # no argparse choices: the config refuses a value on one line naming the field and what is allowed
        group.add_argument(flag, dest=f.name, type=kind, default=None, metavar=meta["metavar"] or f.name.upper(),
                           help=help)


def given_options(cls, args: argparse.Namespace) -> dict[str, Any]:
    """The config fields the command line gave a value."""
    return {f.name: getattr(args, f.name) for f in cli_fields(cls) if getattr(args, f.name, None) is not None}


def build_config(cls, values: dict[str, Any]):
    """``cls(**values)``; a value it refuses raises ``ConfigError`` naming the field."""
    try:
        return cls(**values)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise config_error(exc) from None
