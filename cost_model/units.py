"""Parsing of sizes, bandwidths and clocks written with units in accelerator files."""
from __future__ import annotations

import math
import re

_SIZE_UNITS = {"b": 1, "byte": 1, "bytes": 1, "kb": 1024, "kib": 1024, "mb": 1024 ** 2,
               "mib": 1024 ** 2, "gb": 1024 ** 3, "gib": 1024 ** 3}
_CLOCK_UNITS = {"hz": 1.0, "khz": 1e3, "mhz": 1e6, "ghz": 1e9}
_NUMBER = r"([0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?)"
#: Largest memory size read (1 EiB): beyond it word counts stop being exact 64-bit integers.
MAX_BYTES = float(2 ** 60)


class UnitError(ValueError):
    """A value whose unit or number cannot be read; the message says what is expected."""


def finite_number(value) -> float | None:
    """``value`` as a float if it is a finite int or float (not a bool), else None (nan, inf, huge ints too)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        x = float(value)
    except OverflowError:
        return None
    return x if math.isfinite(x) else None


def _number(value, allowed: str) -> float:
    x = finite_number(value)
    if x is None:
        raise UnitError(f"{value!r} (allowed: {allowed})")
    return x


def parse_size(value, word_bits: int) -> float:
    """Bytes from ``520``, ``'520 B'``, ``'108 KiB'``, ``'2 MB'`` or ``'260 words'`` (KB = KiB = 1024 B)."""
    if isinstance(value, bool):
        raise UnitError(f"{value!r} is not a size")
    if isinstance(value, (int, float)):
        n = _number(value, "a finite number of bytes, or e.g. '520 B', '108 KiB', '260 words'")
        return _max_bytes(n, value)
    m = re.fullmatch(rf"\s*{_NUMBER}\s*([A-Za-z]+)\s*", str(value))
    if m:
        number, unit = float(m.group(1)), m.group(2).lower()
        if unit in _SIZE_UNITS:
            return _max_bytes(number * _SIZE_UNITS[unit], value)
        if unit in ("word", "words"):
            return _max_bytes(number * word_bits / 8, value)
    raise UnitError(f"{value!r} is not a size (write e.g. 520, '520 B', '108 KiB', '2 MB' or '260 words')")


def _max_bytes(n: float, value) -> float:
    if not n <= MAX_BYTES:
        raise UnitError(f"{value!r} is too large a size (allowed: at most 2^60 B = 1 EiB)")
    return n


def parse_bandwidth(value, word_bits: int) -> float:
    """Words per cycle from ``4``, ``'4 words/cycle'``, ``'8 B/cycle'`` or ``'unlimited'``."""
    if isinstance(value, bool):
        raise UnitError(f"{value!r} is not a bandwidth")
    if isinstance(value, float) and math.isinf(value) and value > 0:
        return math.inf  # YAML's .inf: unlimited
    if isinstance(value, (int, float)):
        return _number(value, "a finite number of words/cycle, e.g. 4 or '8 B/cycle', or 'unlimited'")
    text = str(value).strip().lower()
    if text in ("unlimited", "inf", "infinite"):
        return math.inf
    m = re.fullmatch(rf"{_NUMBER}\s*(words?|b|bytes?)\s*/\s*cycle", text)
    if m:
        number = float(m.group(1))
        return number if m.group(2).startswith("w") else number * 8 / word_bits
    raise UnitError(f"{value!r} is not a bandwidth (write e.g. 4, '4 words/cycle', '8 B/cycle' or 'unlimited')")


def parse_clock(value) -> float:
    """Hertz from ``200e6``, ``'200 MHz'`` or ``'1 GHz'``."""
    if isinstance(value, bool):
        raise UnitError(f"{value!r} is not a clock")
    if isinstance(value, (int, float)):
        return _number(value, "a finite frequency > 0, e.g. '200 MHz' or '1 GHz'")
    m = re.fullmatch(rf"\s*{_NUMBER}\s*([A-Za-z]+)\s*", str(value))
    if m and m.group(2).lower() in _CLOCK_UNITS:
        hz = float(m.group(1)) * _CLOCK_UNITS[m.group(2).lower()]
        if not math.isfinite(hz):
            raise UnitError(f"{value!r} (allowed: a finite frequency > 0, e.g. '200 MHz' or '1 GHz')")
        return hz
    raise UnitError(f"{value!r} is not a clock (write e.g. '200 MHz' or '1 GHz')")


def format_bytes(n: float) -> str:
    for unit, size in (("MiB", 1024 ** 2), ("KiB", 1024)):
        if n >= size:
            return f"{n / size:.4g} {unit}"
    return f"{n:.4g} B"
