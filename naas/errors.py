"""The exceptions naas raises for bad input: each message starts with the argument (or file) it is about.

``"budget: 0 (allowed: >= 1)"`` from the library reads ``"--budget: 0 (allowed: >= 1)"`` on the command line
(``cli_message``): the library names its own arguments, the CLI its options.
"""
from __future__ import annotations


class NaasError(ValueError):
    """Bad input: ``argument`` is what the message is about (a config field, a function argument), if any."""

    def __init__(self, message: str, argument: str | None = None):
        super().__init__(message)
        self.argument = argument


class ConfigError(NaasError):
    """A search configuration field with a value it cannot take."""


class RunFolderError(NaasError):
    """A run folder that cannot be used as asked (exists already, holds no run, or another kind of run)."""


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
