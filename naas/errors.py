"""The exceptions naas raises for bad input: each message starts with the argument (or file) it is about.

``"budget: 0 (allowed: >= 1)"`` from the library reads ``"--budget: 0 (allowed: >= 1)"`` on the command line
(``cli_message``): the library names its own arguments, the CLI its options.

Where a Python API call gets bad input it raises one exception type per family, with the same message the
CLI prints (minus its ``naas: error: `` prefix). The families, all ``ValueError``, are named here:

=========================  ====================================================================
``NaasError``              naas's own arguments, configs (``ConfigError``), run folders
                           (``RunFolderError``, ``RunStoreError``), executors (``ExecutorError``)
``AcceleratorSpecError``   a 3-level accelerator (file, name or field)
``HierarchySpecError``     a storage hierarchy file
``LayerSpecError``         a layer or network (``TimeloopFormatError``: a Timeloop problem file)
``MappingSpecError``       a mapping (also a network with layers that cannot be mapped)
``UnitError``              a size, bandwidth or energy with its unit
``PredictorError``         OFA's accuracy predictor files
``SweepSpecError``         a sweep file
``TimeloopFileError``      a Timeloop architecture / ERT / mapping file
=========================  ====================================================================

``INPUT_ERRORS`` is the tuple of them: what ``naas.cli.main`` reports on one line with exit code 2. The model's
own types live with the model (``cost_model``, ``mapping``, ``nn_space``) and are imported from there on first
use, so importing ``naas.errors`` stays cheap and free of import cycles.
"""
from __future__ import annotations

import importlib
from typing import Any


class NaasError(ValueError):
    """Bad input: ``argument`` is what the message is about (a config field, a function argument), if any."""

    def __init__(self, message: str, argument: str | None = None):
        super().__init__(message)
        self.argument = argument


class ConfigError(NaasError):
    """A search configuration field with a value it cannot take."""


class RunFolderError(NaasError):
    """A run folder that cannot be used as asked (exists already, holds no run, or another kind of run)."""


class RunStoreError(RunFolderError):
    """A run folder's ``run.sqlite`` that is not a naas run store (empty, damaged, another database)."""


def config_error(exc: ValueError) -> ConfigError:
    """A ``ValueError("field: ...")`` raised while checking a config, as a ``ConfigError`` naming the field."""
    message = str(exc)
    field, sep, _ = message.partition(":")
    return ConfigError(message, field if sep and field.isidentifier() else None)


def cli_message(exc: Exception) -> str:
    """The message with its leading argument name written as the command-line option (``inner_budget`` ->
    ``--inner-budget``)."""
    message = str(exc)
    argument = getattr(exc, "argument", None)
    if argument and message.startswith(f"{argument}:"):
        return f"--{argument.replace('_', '-')}" + message[len(argument):]
    return message


#: name -> module of the families defined with the model (imported on first use: see ``__getattr__``)
_ELSEWHERE = {
    "AcceleratorSpecError": "cost_model.accelerator",
    "HierarchySpecError": "cost_model.hierarchy",
    "UnitError": "cost_model.units",
    "TimeloopFileError": "cost_model.timeloop_evaluate",
    "MappingSpecError": "mapping.spec",
    "LayerSpecError": "nn_space.layers",
    "TimeloopFormatError": "nn_space.timeloop_problem",
    "PredictorError": "nn_space.accuracy",
    "SweepSpecError": "naas.sweep_spec",
    "ExecutorError": "naas.executor",
    "NoRunError": "naas.run_store",
    "ReportError": "naas.report",
}
#: the families and their named members, in the order ``INPUT_ERRORS`` lists them
FAMILIES = ("NaasError", "ConfigError", "RunFolderError", "RunStoreError", "ExecutorError", "AcceleratorSpecError",
            "HierarchySpecError", "LayerSpecError", "TimeloopFormatError", "MappingSpecError", "UnitError",
            "PredictorError", "SweepSpecError", "TimeloopFileError", "NoRunError", "ReportError")

_LAZY = (*_ELSEWHERE, "INPUT_ERRORS")
__all__ = ["NaasError", "ConfigError", "RunFolderError", "RunStoreError", "cli_message", "config_error", *_LAZY]


def __getattr__(name: str) -> Any:
    """The families defined elsewhere, and ``INPUT_ERRORS``, imported when first asked for."""
    if name in _ELSEWHERE:
        value = getattr(importlib.import_module(_ELSEWHERE[name]), name)
    elif name == "INPUT_ERRORS":
        value = tuple(globals()[n] if n in globals() else __getattr__(n) for n in FAMILIES)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
