"""The one reader of every YAML file naas takes as input (accelerators, hierarchies, sweeps, Timeloop files).

``read_yaml_file(path, error, what)`` returns the document or raises ``error`` (the caller's own exception
type) with a one-line message that starts with the file's name:

- ``FILE: does not exist (expected the accelerator YAML file)``, ``FILE: is a directory, not a file (...)``,
  ``FILE: not a regular file``, ``FILE: cannot be read (Permission denied)``, ``FILE: N bytes (allowed: at
  most 64 MiB for a YAML input)``;
- ``FILE: not a text (UTF-8) file (byte 12 is not UTF-8; ...)`` for binary files (invalid UTF-8, NUL bytes or
  other characters YAML does not allow);
- ``FILE: not valid YAML at line L, column C: ...`` for syntax errors (and tags the safe loader refuses);
- ``FILE: line N: key 'dram.bandwidth' given twice (first at line M)``: a repeated key at any depth (plain
  PyYAML keeps the last one silently); ``<<`` merge keys are YAML's own override and are accepted;
- ``FILE: line N: nested deeper than 100 levels`` (checked while composing, before Python's recursion limit
  could be reached; aliases count at the depth they expand to), ``FILE: more than 1000000 values`` (aliases
  counted each time they are used) and ``FILE: line N: an alias refers to a collection that contains it``.

The loader is ``yaml.SafeLoader`` based (``StrictLoader``): plain data only. A caller that needs more tags
(Timeloop v0.4's ``!Component``) passes a subclass of ``StrictLoader``; nothing else is accepted.
"""
from __future__ import annotations

import re
import stat as _stat
from pathlib import Path
from typing import Any, Callable

import yaml
from yaml.reader import ReaderError

__all__ = ["read_yaml_file", "parse_yaml_text", "non_finite", "path_exists", "shown_key", "StrictLoader",
           "MAX_DEPTH", "MAX_VALUES", "MAX_FILE_BYTES"]

#: Deepest nesting of lists / mappings accepted (real input files nest fewer than 10 levels; the scalars
#: inside the innermost collection do not count).
MAX_DEPTH = 100
#: Most values (scalars, lists, mappings) a document may expand to through its aliases.
MAX_VALUES = 1_000_000
#: Largest input file read (naas's YAML inputs are a few KiB).
MAX_FILE_BYTES = 64 * 1024 ** 2

_MERGE_TAG = "tag:yaml.org,2002:merge"


class _TooDeep(Exception):
    def __init__(self, mark):
        super().__init__("too deep")
        self.mark = mark


class StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses nesting deeper than ``MAX_DEPTH`` while it composes the document."""

    def __init__(self, stream):
        super().__init__(stream)
        self._naas_depth = 0

    def compose_node(self, parent, index):  # recursive in PyYAML: guard it before Python's limit
        if not self.check_event(yaml.SequenceStartEvent, yaml.MappingStartEvent):
            return super().compose_node(parent, index)
        self._naas_depth += 1
        try:
            if self._naas_depth > MAX_DEPTH:
                raise _TooDeep(self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._naas_depth -= 1



# Floats with an exponent but no dot or no exponent sign ('1e-05', '1e11', '2.5e3') are strings to PyYAML's
# YAML 1.1 resolver but numbers in YAML 1.2 and JSON: read them as numbers, so designs written as JSON (json.dumps
# writes 1e-05) and ranges such as `to: 1e11` mean what they say.
StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."))

def _line(text: Any) -> str:
    return " ".join(str(text).split())


def _line_of(mark) -> str:
    return f"line {mark.line + 1}" if mark is not None else "somewhere"


def _key_text(node: yaml.Node) -> str | None:
    """A mapping key as a path segment, or None for keys that are not plain scalars."""
    if isinstance(node, yaml.ScalarNode):
        return str(node.value)
    return None


def _check_nodes(root: yaml.Node, loader: StrictLoader) -> str | None:
    """The first problem of the composed document: a repeated key, a too deep or too large expansion, a cycle.

    Iterative (no recursion), each node visited once: depth and size are memoized per node so that aliases
    (shared nodes) cost nothing more to check, however often they are used.
    """
    depth: dict[int, int] = {}
    size: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, str, bool]] = [(root, "", False)]
    while stack:
        node, path, done = stack.pop()
        nid = id(node)
        if done:
            on_path.discard(nid)
            kids = _children(node)
            own = 0 if isinstance(node, yaml.ScalarNode) else 1  # levels count lists and mappings
            depth[nid] = own + max((depth[id(k)] for k, _ in kids), default=0)
            size[nid] = 1 + sum(size[id(k)] for k, _ in kids)
            if depth[nid] > MAX_DEPTH:
                return f"{_line_of(node.start_mark)}: nested deeper than {MAX_DEPTH} levels (through aliases)"
            if size[nid] > MAX_VALUES:
                return (f"more than {MAX_VALUES} values (aliases counted each time they are used; allowed: at "
                        f"most {MAX_VALUES})")
            continue
        if nid in depth:
            continue
        if nid in on_path:
            return f"{_line_of(node.start_mark)}: an alias refers to a collection that contains it (recursive data)"
        on_path.add(nid)
        stack.append((node, path, True))
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, yaml.Node] = {}
            for key_node, _ in node.value:
                if key_node.tag == _MERGE_TAG:
                    continue
                try:
                    key = loader.construct_object(key_node, deep=True)
                    hash(key)
                except Exception:  # an unhashable or malformed key: the constructor reports it
                    continue
                ident = key  # keys the constructed dict would merge (1 and 1.0 too) are the same key
                if ident in seen:
                    text = _key_text(key_node)
                    name = f"{path}.{text}" if path and text is not None else (text if text is not None else repr(key))
                    return (f"{_line_of(key_node.start_mark)}: key {name!r} given twice (first at "
                            f"{_line_of(seen[ident].start_mark)}; each key may appear once)")
                seen[ident] = key_node
        for child, segment in reversed(_children(node)):
            if id(child) not in depth:
                stack.append((child, _join(path, segment), False))
    loader.constructed_objects = {}
    loader.recursive_objects = {}
    return None


def _join(path: str, segment: str) -> str:
    if not segment:
        return path
    if segment.startswith("["):
        return path + segment
    return f"{path}.{segment}" if path else segment


def _children(node: yaml.Node) -> list[tuple[yaml.Node, str]]:
    if isinstance(node, yaml.SequenceNode):
        return [(child, f"[{i}]") for i, child in enumerate(node.value)]
    if isinstance(node, yaml.MappingNode):
        out = []
        for key_node, value_node in node.value:
            out.append((key_node, ""))
            out.append((value_node, _key_text(key_node) or "?"))
        return out
    return []


def _yaml_error(exc: yaml.YAMLError) -> str:
    if isinstance(exc, ReaderError):
        char = exc.character
        code = f"#x{ord(char) if isinstance(char, str) else char:04x}"
        return (f"not a text (UTF-8) file (character {code} at position {exc.position} is not allowed in "
                f"YAML)")
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    cmark = getattr(exc, "context_mark", None)
    extra = ""
    if context and getattr(exc, "problem", None):
        extra = f" ({context}" + (f" from line {cmark.line + 1}" if cmark is not None and cmark is not mark
                                  else "") + ")"
    return f"not valid YAML{at}: {problem}{extra}"


def parse_yaml_text(text: str, loader: type[StrictLoader] = StrictLoader) -> Any:
    """The document of ``text``; raises ``ValueError`` with a one-line message (without a file name)."""
    if not (isinstance(loader, type) and issubclass(loader, StrictLoader)):
        raise TypeError(f"loader: {loader!r} (allowed: StrictLoader or a subclass of it)")
    if "\x00" in text:
        return _fail("not a text (UTF-8) file (it holds NUL bytes)")
    ld = None
    try:
        ld = loader(text)
        node = ld.get_single_node()
        if node is None:
            return None
        problem = _check_nodes(node, ld)
        if problem:
            return _fail(problem)
        return ld.construct_document(node)
    except _Problem:
        raise
    except _TooDeep as exc:
        return _fail(f"{_line_of(exc.mark)}: nested deeper than {MAX_DEPTH} levels")
    except RecursionError:
        return _fail(f"nested deeper than {MAX_DEPTH} levels")
    except yaml.YAMLError as exc:
        return _fail(_yaml_error(exc))
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. a timestamp 2024-13-01 (month 13)
        return _fail(f"not valid YAML: {type(exc).__name__}: {exc}")
    finally:
        if ld is not None:
            ld.dispose()


class _Problem(ValueError):
    pass


def _fail(message: str):
    raise _Problem(_line(message))


def _name(path: Path) -> str:
    text = str(path)
    return text if text.isprintable() else repr(text)


def shown_key(key: Any) -> str:
    """A key (or name) read from a file as an error message shows it: as written, or its repr if it is not
    printable text (a line break in it would break the one-line message)."""
    return key if isinstance(key, str) and key.isprintable() else repr(key)


def path_exists(path: str | Path) -> bool:
    """``Path(path).exists()``, but False for a path the system cannot look up at all (a name longer than the
    file system allows, a NUL byte): the reader then says why it cannot read it."""
    try:
        return Path(path).exists()
    except (OSError, ValueError):
        return False


def read_yaml_file(path: str | Path, error: Callable[[str], Exception] = ValueError, what: str = "YAML",
                   loader: type[StrictLoader] = StrictLoader) -> Any:
    """The document in ``path``, or ``error(message)`` raised with a one-line message naming the file (see the
    module docstring). ``what`` names the file's role in messages (``accelerator``, ``sweep``, ...)."""
    p = Path(path)
    name = _name(p)
    expected = f"expected the {what} YAML file"
    try:
        st = p.stat()
    except (FileNotFoundError, NotADirectoryError):
        raise error(f"{name}: does not exist ({expected})") from None
    except OSError as exc:
        raise error(_line(f"{name}: cannot be read ({exc.strerror or exc})")) from None
    except ValueError:  # os.stat refuses a NUL byte in a path
        raise error(f"{name}: not a valid file name (it holds a NUL byte; {expected})") from None
    if _stat.S_ISDIR(st.st_mode):
        raise error(f"{name}: is a directory, not a file ({expected})")
    if not _stat.S_ISREG(st.st_mode):
        raise error(f"{name}: not a regular file ({expected})")
    if st.st_size > MAX_FILE_BYTES:
        raise error(f"{name}: {st.st_size} bytes (allowed: at most {MAX_FILE_BYTES // 1024 ** 2} MiB for a "
                    f"YAML input; {expected})")
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise error(_line(f"{name}: cannot be read ({exc.strerror or exc})")) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error(f"{name}: not a text (UTF-8) file (byte {exc.start} is not UTF-8; {expected})") from None
    try:
        return parse_yaml_text(text, loader)
    except _Problem as exc:
        raise error(f"{name}: {exc}") from None


def non_finite(doc: Any) -> tuple[str, float] | None:
    """(dotted path, value) of the first ``.inf`` / ``.nan`` in a loaded document, or None (iterative)."""
    import math

    stack: list[tuple[Any, str]] = [(doc, "")]
    while stack:
        node, path = stack.pop()
        if isinstance(node, float) and not math.isfinite(node):
            return path or "the document", node
        if isinstance(node, dict):
            stack.extend((v, f"{path}.{k}" if path else str(k)) for k, v in reversed(list(node.items())))
        elif isinstance(node, list):
            stack.extend((v, f"{path}[{i}]") for i, v in reversed(list(enumerate(node))))
    return None
