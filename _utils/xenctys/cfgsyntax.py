"""Read a DomU config file's text as data: xl.cfg(5) syntax or the literal subset of xm's Python.

Nothing in a config file is ever executed.  Two grammars are tried, in this order:

1. **xl** (``xl.cfg(5)`` "SYNTAX", libxlu's grammar): ``KEY = VALUE`` or ``KEY += VALUE``, pairs
   separated by newlines or ``;``; a value is a string in ``'...'`` or ``"..."``, a number
   (decimal, ``0`` octal, ``0x`` hex) or a list ``[ ... ]`` of values (nested, over several lines,
   trailing comma allowed); ``#`` starts a comment.  A hand lexer reads it: this is the common
   case and the fast one.
2. **xm** (legacy configs are Python that ``xm create`` ran): the file is *parsed* with
   :func:`ast.parse`, which builds a syntax tree and runs nothing.  Top-level assignments whose
   value is a literal (string, number, list, tuple, ``True``/``False``/``None``), a name assigned a
   literal earlier in the file, ``+`` of strings/lists/numbers, ``-``/``*`` of numbers, or ``%``
   formatting of such operands are evaluated by the small interpreter below.  Everything else
   (``import``, ``def``, ``class``, blocks, calls, attribute access, unknown names ...) is skipped
   with a warning ``PATH:LINE: skipped: REASON``, and a name such a statement could (re)bind is
   forgotten, so no stale value survives it.

A file neither grammar accepts raises :class:`~xenctys.errors.ConfigError` naming the line where the
parser that got further stopped.  ctys ``#@#KEY = "value"`` lines and ``#@#MAGICID-*`` markers are
comments to both grammars; :func:`scan_ctys_lines` reads them line by line, like ctys' own grep.
"""

import ast
import contextvars
import operator
import os
import re
import stat
import string
import warnings
from dataclasses import dataclass, field
from typing import Dict, List, Tuple

from xenctys.errors import ConfigError

SYNTAX_XL = "xl"
SYNTAX_XM = "xm"

# Markers ctys' enumfilter.awk looks for (spec §4.2); other MAGICID-<OS> markers are PM business.
MAGIC_MARKERS = ("MAGICID-XEN", "MAGICID-IGNORE", "MAGICID-NOENUM")

DEFAULT_MAX_BYTES = 1 << 20  # a DomU config is a few KiB; anything near 1 MiB is not one

# Bounds that keep a hostile file from costing memory or time; real configs are far below them.
MAX_LIST_DEPTH = 32  # nesting of [...] (and of expressions in xm files)
MAX_VALUE_SIZE = 64 * 1024  # characters + list items of one evaluated xm value
MAX_INT_BITS = 64  # xm numbers beyond this are not configuration values
MAX_FORMAT_WIDTH = 1000  # width / precision of one %-conversion in an xm format string
MAX_WARNINGS = 100  # per file: the rest are counted in one last warning
# Python's syntax tree costs ~300 bytes of memory per byte of dense source (a 1 MiB list literal:
# 330 MB, 3.5 s); real xm configs are a few KiB, so a larger file that is not xl is refused.
MAX_XM_CHARS = 256 * 1024
# Characters + list items all evaluated values of one xm file may add up to: each statement is
# bounded by MAX_VALUE_SIZE, but thousands of 'y = big + x' lines would cost minutes.
MAX_FILE_WORK = 16 * MAX_VALUE_SIZE


@dataclass
class CtysLine:
    """One ``#@#KEY = "value"`` line: the key without ``#@#``, the value unquoted, its line."""

    key: str
    value: str
    line: int


@dataclass
class ParsedConfig:
    """A config file read as data, before any meaning is given to the keys."""

    syntax: str  # SYNTAX_XL or SYNTAX_XM
    settings: Dict[str, object] = field(default_factory=dict)  # key -> value; the last assignment wins
    lines: Dict[str, int] = field(default_factory=dict)  # key -> line of the assignment that won
    ctys: List[CtysLine] = field(default_factory=list)  # every #@# key line, in file order
    markers: List[Tuple[str, int]] = field(default_factory=list)  # (MAGICID-..., line), in file order
    warnings: List[str] = field(default_factory=list)  # "PATH:LINE: skipped: REASON"
    # True when every key and value is a verbatim piece of the text (no escapes, no joining):
    # then a word absent from the text is absent from every key and value too.  How the text was
    # read, not what it says: not compared.
    literal: bool = field(default=False, compare=False)


def parse_text(text, path="<config>"):
    """Parse one config file's text (xl first, then the xm subset) into a :class:`ParsedConfig`.

    ``path`` only names the file in warnings and errors.  Raises ``ConfigError`` when the text is
    neither xl nor Python syntax.
    """
    ctys_lines, markers = scan_ctys_lines(text)
    try:
        parsed = _parse_xl(text)
    except _SyntaxProblem as xl_problem:
        if len(text) > MAX_XM_CHARS:
            raise ConfigError(path, xl_problem.line, f"not xl syntax ({xl_problem.reason}), and over "
                                                     f"{MAX_XM_CHARS} characters for xm (Python) syntax") from None
        try:
            parsed = _parse_xm(text, path)
        except _SyntaxProblem as xm_problem:
            # Report where the parser that understood more of the file gave up: a Python file
            # breaks the xl lexer early, an xl file with a typo passes Python's far less often.
            problem = xm_problem if xm_problem.line > xl_problem.line else xl_problem
            raise ConfigError(path, problem.line, f"neither xl nor xm syntax: {problem.reason}") from None
    parsed.ctys = ctys_lines
    parsed.markers = markers
    return parsed


# --- reading the file ----------------------------------------------------------------------------


def read_config_text(path, max_bytes=DEFAULT_MAX_BYTES, missing_ok=False):
    """The text of a config (or ctys side) file and its ``os.stat_result``, read defensively.

    Opened non-blocking and checked to be a regular file before reading, so a FIFO or device in a
    config folder cannot hang the reader.  Raises ``ConfigError`` (line 0 unless a NUL byte names
    one) for an unreadable file, a file larger than ``max_bytes``, or binary content.  Text is
    UTF-8, or Latin-1 when it is not valid UTF-8 (every byte string decodes as Latin-1).
    With ``missing_ok`` a file that does not exist gives ``None`` (side files are optional).
    """
    try:
        data, info = read_file_bytes(path, max_bytes)
    except (FileNotFoundError, NotADirectoryError):
        if missing_ok:
            return None
        raise ConfigError(path, 0, "not readable: no such file") from None
    except NotRegularFile:
        raise ConfigError(path, 0, "not a regular file") from None
    except OSError as err:
        raise ConfigError(path, 0, f"not readable: {err.strerror or err}") from None
    if data is None or len(data) > max_bytes:
        raise ConfigError(path, 0, f"larger than {max_bytes} bytes")
    return decode_config_bytes(data, path), info


class NotRegularFile(OSError):
    """:func:`read_file_bytes` opened a FIFO, device or folder (and read nothing)."""


def read_file_bytes(path, max_bytes=DEFAULT_MAX_BYTES):
    """``(data, os.stat_result)`` of a file, read defensively; shared by discovery and the reader.

    Opened non-blocking (a FIFO put in place of a file cannot hang the caller) and checked to be a
    regular file (:class:`NotRegularFile` otherwise).  ``data`` is None when ``fstat`` says the file
    is larger than ``max_bytes`` (nothing is read), else up to ``max_bytes + 1`` bytes: one byte
    more tells a file that grew after its stat.  ``OSError`` for what the file system refuses.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotRegularFile(0, "not a regular file")
        if info.st_size > max_bytes:
            return None, info
        return _read_at_most(fd, max_bytes + 1), info
    finally:
        os.close(fd)


def _read_at_most(fd, limit):
    chunks = []
    while limit > 0:
        chunk = os.read(fd, limit)
        if not chunk:
            break
        chunks.append(chunk)
        limit -= len(chunk)
    return b"".join(chunks)


def decode_config_bytes(data, path):
    """``data`` as text; ``ConfigError`` naming the line of the first NUL byte of a binary file."""
    nul = data.find(b"\x00")
    if nul >= 0:
        raise ConfigError(path, data.count(b"\n", 0, nul) + 1, "binary file (NUL byte): not a config file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


# --- ctys #@# lines ------------------------------------------------------------------------------

_LINE_WITH_CTYS_MARK = re.compile(r"^[^\n]*#@#[^\n]*", re.MULTILINE)
# ctys' getConfValueOf: "^ *#@#KEY *= *"*VALUE" after turning ' into " and dropping tabs.
_CTYS_KEY_LINE = re.compile(r"[ \t]*#@#([A-Za-z_][A-Za-z0-9_]*)[ \t]*=(.*)")
# enumfilter.awk matches the markers anywhere in a line, commented out or not.
_MAGIC_MARKER = re.compile("#@#(" + "|".join(MAGIC_MARKERS) + ")")


def scan_ctys_lines(text):
    """``(ctys key lines, magic markers)`` of any text: a config, a ``.ctys`` side file, vm.conf.

    Line based, as ctys reads them, so it works for shell side files too and never needs the
    file to parse.  Keys are case-sensitive; a quoted value ends at its closing quote, an unquoted
    one at a ``#`` comment.
    """
    if "#@#" not in text:  # the common case: one substring search and done
        return [], []
    ctys_lines, markers = [], []
    line, counted_up_to = 1, 0
    for match in _LINE_WITH_CTYS_MARK.finditer(text):
        line += text.count("\n", counted_up_to, match.start())
        counted_up_to = match.start()
        content = match.group()
        markers.extend((marker, line) for marker in _MAGIC_MARKER.findall(content))
        key_line = _CTYS_KEY_LINE.match(content)
        if key_line:
            ctys_lines.append(CtysLine(key_line.group(1), _ctys_value(key_line.group(2)), line))
    return ctys_lines, markers


def _ctys_value(rest):
    rest = rest.strip()
    if rest[:1] in ("'", '"'):
        closing = rest.find(rest[0], 1)
        return rest[1:closing] if closing > 0 else rest[1:]
    return rest.split("#", 1)[0].strip()


# --- xl grammar ----------------------------------------------------------------------------------


class _SyntaxProblem(Exception):
    """Where and why one grammar gave up on the file (internal; becomes a ConfigError)."""

    def __init__(self, line, reason):
        super().__init__(reason)
        self.line = line
        self.reason = reason


# One alternative per token; re.findall does the scanning in C, the first character tells the kind.
_XL_TOKEN = re.compile(
    r"""
      [ \t\r\f\v]+ | \#[^\n]*                 # blanks and comments: dropped
    | \n | \+= | [=;,\[\]]                   # newline and operators
    | [A-Za-z_][A-Za-z0-9_.]*                # a key
    | [0-9][0-9a-fA-FxX]*                    # a number
    | "(?:[^"\\\n]|\\[^\n])*" | '[^'\n]*'     # a string (xl strings never span lines)
    | .                                      # anything else: not xl
    """,
    re.VERBOSE | re.DOTALL,
)
_XL_KIND_OF_FIRST_CHAR = {
    **{char: "ident" for char in string.ascii_letters + "_"},
    **{char: "number" for char in string.digits},
    **{char: None for char in " \t\r\f\v#"},  # None: not a token
    "'": "string", '"': "string", "\n": "nl", "+": "+=",
    **{char: char for char in "=;,[]"},
}

_XL_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_XL_ESCAPE = re.compile(r"\\(x[0-9A-Fa-f]{1,2}|[0-7]{1,3}|.)", re.DOTALL)


def _xl_unescape(match):
    escaped = match.group(1)
    if escaped[0] == "x" and len(escaped) > 1:
        return chr(int(escaped[1:], 16))
    if escaped[0] in "01234567":
        return chr(int(escaped, 8))
    return _XL_ESCAPES.get(escaped, escaped)  # \" \' \\ and unknown escapes keep the character


def _xl_string(token):
    body = token[1:-1]
    return _XL_ESCAPE.sub(_xl_unescape, body) if "\\" in body else body


def parse_number(text):
    """``text`` read as libxl reads numbers (``strtol(..., 0)``): ``0x`` hex, ``0`` octal, else
    decimal; ``text`` itself when it is no such number (e.g. "1e5", which xl would refuse)."""
    digits = text.lstrip("+-")
    sign = -1 if text.startswith("-") else 1
    try:
        if digits[:2] in ("0x", "0X"):
            return sign * int(digits[2:], 16)
        if digits[:1] == "0" and len(digits) > 1:
            return sign * int(digits[1:], 8)
        return sign * int(digits, 10)
    except ValueError:
        return text


# The fast path: a file made only of lines "KEY = 'string'", "KEY = number", "KEY = ['s', ...]"
# (strings without backslashes), blank lines and comments -- nearly every real config -- is read
# by one regex pass; anything else (";", "+=", escapes, lists over several lines or holding numbers,
# syntax errors ...) goes through the full lexer and parser below, which give the same result for
# these simple lines.  One match per line: every alternative stops at the line's "\n" (or the end).
_XL_BLANK = r"[ \t\r\f\v]*"
_XL_SIMPLE_STRING = r"'[^'\\\n]*'|\"[^\"\\\n]*\""
_XL_SIMPLE_LINE = (
    _XL_BLANK + r"(?:([A-Za-z_][A-Za-z0-9_.]*)" + _XL_BLANK + "=" + _XL_BLANK
    + r"(" + _XL_SIMPLE_STRING + r"|[0-9][0-9a-fA-FxX]*"
    + r"|\[" + _XL_BLANK + r"(?:(?:" + _XL_SIMPLE_STRING + r")" + _XL_BLANK + r"," + _XL_BLANK + r")*"
    + r"(?:" + _XL_SIMPLE_STRING + r")?" + _XL_BLANK + r"\])" + _XL_BLANK + r")?(?:\#[^\n]*)?"
)
_XL_SIMPLE_LINES = re.compile(_XL_SIMPLE_LINE + r"(?:\n|\Z)")
_XL_SIMPLE_ITEM = re.compile(r"'([^'\n]*)'|\"([^\"\n]*)\"")


def _parse_xl_simple(text):
    """The :class:`ParsedConfig` of a text made only of simple lines; None when it is not one."""
    parsed = ParsedConfig(SYNTAX_XL)
    settings, lines = parsed.settings, parsed.lines
    pos, end, line = 0, len(text), 0
    match = _XL_SIMPLE_LINES.match
    while pos < end:  # one match per line: a match cannot cross a newline
        found = match(text, pos)
        if found is None:
            return None
        line += 1
        pos = found.end()
        key, token = found.groups()
        if key is None:
            continue
        first = token[0]
        if first == "'" or first == '"':  # pylint: disable=consider-using-in
            value = token[1:-1]
        elif first == "[":
            value = [single or double for single, double in _XL_SIMPLE_ITEM.findall(token)]
        else:
            value = parse_number(token)
        settings[key] = value
        lines[key] = line
    parsed.literal = True
    return parsed


def _parse_xl(text):
    """The settings of an xl file; ``_SyntaxProblem`` where the text stops being xl."""
    parsed = _parse_xl_simple(text)
    if parsed is not None:
        return parsed
    return _parse_xl_full(text)


def _parse_xl_full(text):
    """:func:`_parse_xl` through the full lexer and parser (any xl file)."""
    tokens = _xl_tokens(text)
    parsed = ParsedConfig(SYNTAX_XL)
    pos = 0
    while tokens[pos][0] != "end":
        kind, key, line = tokens[pos]
        if kind in ("nl", ";"):
            pos += 1
            continue
        _require(tokens[pos], ("ident",), "a key")
        assignment = _require(tokens[pos + 1], ("=", "+="), "'=' or '+='")
        value, pos = _xl_value(tokens, pos + 2)
        if tokens[pos][0] != "end":  # the last setting needs no newline after it
            _require(tokens[pos], ("nl", ";"), "end of line or ';'")
            pos += 1
        if assignment == "+=" and key in parsed.settings:
            value = _xl_appended(key, parsed.settings[key], value, line)
        parsed.settings[key] = value
        parsed.lines[key] = line
    return parsed


def _xl_tokens(text):
    """``(kind, text, line)`` tuples; ``kind`` is ident/number/string/an operator/nl/end.

    Blanks and comments are dropped, and so are newlines inside ``[...]``: a list may span lines.
    """
    tokens, line, depth = [], 1, 0
    for token in _XL_TOKEN.findall(text):
        kind = _XL_KIND_OF_FIRST_CHAR.get(token[0], "bad")
        if kind is None:
            continue
        if kind == "nl":
            if depth == 0:
                tokens.append(("nl", token, line))
            line += 1
            continue
        if kind == "[":
            depth += 1
            if depth > MAX_LIST_DEPTH:
                raise _SyntaxProblem(line, "lists nested too deeply")
        elif kind == "]":
            depth = max(depth - 1, 0)
        elif len(token) == 1 and kind in ("string", "+="):  # a lone quote or "+"
            kind = "bad"
        if kind == "bad":
            what = "unterminated string" if token in "'\"" else f"unexpected character {token!r}"
            raise _SyntaxProblem(line, f"{what} (xl)")
        tokens.append((kind, token, line))
    # An unexpected end of file is reported on the last line that had something on it.
    tokens.append(("end", "", tokens[-1][2] if tokens else 1))
    return tokens


def _xl_value(tokens, pos):
    """``(value, position after it)`` for the value starting at ``tokens[pos]``."""
    kind, text, _ = tokens[pos]
    if kind == "string":
        return _xl_string(text), pos + 1
    if kind == "number":
        return parse_number(text), pos + 1
    _require(tokens[pos], ("[",), "a value")
    items, pos = [], pos + 1
    while tokens[pos][0] != "]":
        item, pos = _xl_value(tokens, pos)
        items.append(item)
        if _require(tokens[pos], (",", "]"), "',' or ']'") == ",":
            pos += 1
    return items, pos + 1


def _require(token, kinds, wanted):
    """The text of ``token`` when its kind is one of ``kinds``; ``_SyntaxProblem`` otherwise."""
    kind, text, line = token
    if kind not in kinds:
        found = _TOKEN_NAMES.get(kind, repr(text))
        raise _SyntaxProblem(line, f"expected {wanted}, found {found}")
    return text


_TOKEN_NAMES = {"ident": "a key", "nl": "end of line", "end": "end of file", "string": "a string",
                "number": "a number"}


def _xl_appended(key, previous, value, line):
    """xl's ``KEY += VALUE``: a list grows by the new items, a string by the new text."""
    if isinstance(previous, list) and isinstance(value, list):
        previous.extend(value)  # in place (nothing else holds it): 100,000 "+=" lines stay linear
        return previous
    if isinstance(previous, str) and isinstance(value, str):
        return previous + value
    raise _SyntaxProblem(line, f"'{key} +=' mixes a list and a single value")


# --- xm: the literal subset of Python ------------------------------------------------------------


class _Skip(Exception):
    """One xm statement is not a literal assignment; the message says what it is instead."""


_STATEMENT_KINDS = {
    ast.If: "if block", ast.For: "for loop", ast.While: "while loop", ast.With: "with block",
    ast.Try: "try block", ast.AsyncFor: "for loop", ast.AsyncWith: "with block",
    ast.Import: "import", ast.ImportFrom: "import", ast.FunctionDef: "function definition",
    ast.AsyncFunctionDef: "function definition", ast.ClassDef: "class definition",
    ast.Delete: "del statement", ast.Global: "global statement", ast.Nonlocal: "nonlocal statement",
    ast.Raise: "raise statement", ast.Assert: "assert statement", ast.Return: "return statement",
    ast.AnnAssign: "annotated assignment",
}
if hasattr(ast, "TryStar"):  # Python 3.11+
    _STATEMENT_KINDS[ast.TryStar] = "try block"
if hasattr(ast, "Match"):  # Python 3.10+
    _STATEMENT_KINDS[ast.Match] = "match block"


def _parse_xm(text, path):
    """The literal assignments of a Python config; every other statement becomes a warning."""
    try:
        with warnings.catch_warnings():  # e.g. "invalid escape sequence": not ours to print
            warnings.simplefilter("ignore")
            tree = ast.parse(text, filename=path)  # parses only; ast.parse never runs code
    except SyntaxError as err:
        raise _SyntaxProblem(err.lineno or 0, f"{err.msg} (Python)") from None
    except (ValueError, RecursionError, MemoryError) as err:  # pathological nesting and the like
        raise _SyntaxProblem(0, f"{type(err).__name__} while parsing as Python") from None
    parsed = ParsedConfig(SYNTAX_XM)
    literals = {}  # name -> value as evaluated (tuples kept, so "%" sees them as Python would)
    unreported = 0
    work = [MAX_FILE_WORK]
    work_token = _WORK.set(work)  # what _bounded spends, for this file (and this thread) only
    try:
        for index, statement in enumerate(tree.body):
            if work[0] < 0:  # budget spent: nothing after this is evaluated, and nothing stale kept
                rest = tree.body[index:]
                for skipped in rest:
                    _forget(_names_bound_by(skipped), literals, parsed)
                parsed.warnings.append(f"{path}:{statement.lineno}: skipped: this and {len(rest) - 1} more "
                                       f"statements (evaluation budget of {MAX_FILE_WORK} spent)")
                break
            try:
                _run_literal_statement(statement, literals, parsed)
            except _Skip as skip:
                if len(parsed.warnings) < MAX_WARNINGS:
                    parsed.warnings.append(f"{path}:{statement.lineno}: skipped: {skip}")
                else:
                    unreported += 1
                _forget(_names_bound_by(statement), literals, parsed)
    finally:
        _WORK.reset(work_token)
    if unreported:
        parsed.warnings.append(f"{path}:{statement.lineno}: skipped: {unreported} more statements")
    return parsed


def _forget(names, literals, parsed):
    """Drop values a skipped statement may have replaced (``names`` None: every value)."""
    for name in list(literals) if names is None else names:
        literals.pop(name, None)
        parsed.settings.pop(name, None)
        parsed.lines.pop(name, None)


def _run_literal_statement(statement, literals, parsed):
    """Apply one statement that is a literal (augmented) assignment; ``_Skip`` for anything else."""
    if isinstance(statement, ast.Assign):
        names = [_assigned_name(target) for target in statement.targets]
        value = _assigned_value(names, lambda: _literal(statement.value, literals, 0))
    elif isinstance(statement, ast.AugAssign):
        names = [_assigned_name(statement.target)]
        value = _assigned_value(names, lambda: _binary_operation(
            statement.op, _known(names[0], literals), statement.value, literals, 0))
    elif isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
        return  # a bare string (docstring-like comment) does nothing
    elif isinstance(statement, ast.Pass):
        return
    else:
        raise _Skip(_describe_statement(statement))
    for name in names:
        _bounded(value)  # "y = f" copies f below: charged to the file's budget like building it
        literals[name] = value
        parsed.settings[name] = _plain(value)
        parsed.lines[name] = statement.lineno


def _assigned_value(names, evaluate):
    """``evaluate()``, with the assigned names put in front of the reason when it is skipped."""
    try:
        return evaluate()
    except _Skip as skip:
        raise _Skip(f"assignment to {', '.join(map(repr, names))}: {skip}") from None


def _known(name, literals):
    if name in literals:
        return literals[name]
    raise _Skip(f"{name!r} is not a literal assigned earlier")


def _assigned_name(target):
    if isinstance(target, ast.Name):
        return target.id
    raise _Skip(f"assignment to {_describe(target)}")


def _describe_statement(statement):
    if isinstance(statement, ast.Expr):
        return _describe(statement.value)
    kind = _STATEMENT_KINDS.get(type(statement), f"{type(statement).__name__} statement")
    name = getattr(statement, "name", None)
    return f"{kind} {name!r}" if name else kind


def _describe(node):
    """A short description of a non-literal expression for the warning."""
    if isinstance(node, ast.Call):
        return f"call of {_snippet(node.func)}"
    if isinstance(node, ast.Attribute):
        return f"attribute access {_snippet(node)}"
    if isinstance(node, ast.Subscript):
        return f"subscript {_snippet(node)}"
    if isinstance(node, ast.Lambda):
        return "lambda"
    kind = type(node).__name__
    return f"{kind} expression"


def _snippet(node, limit=40):
    try:
        text = ast.unparse(node)  # rebuilds source text from the tree; runs nothing
    except (ValueError, RecursionError):
        return type(node).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _names_bound_by(statement):
    """The module-level names a skipped statement (re)binds or deletes, as far as its text shows.

    Assignment targets, ``def``/``class``/``import`` names, and names declared ``global`` anywhere
    inside.  Function and class bodies are not otherwise looked into: their names are local.  A
    ``from m import *`` may bind any name: None ("all of them") then.  What a call does when run
    (``exec``, ``globals()``) no text shows; a file with such calls carries their warnings.
    """
    names = set()
    pending = [statement]
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            names.update(name for inner in ast.walk(node) if isinstance(inner, ast.Global) for name in inner.names)
            pending.extend(_evaluated_at_definition(node))
            continue
        if isinstance(node, ast.ImportFrom) and any(alias.name == "*" for alias in node.names):
            return None
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        pending.extend(ast.iter_child_nodes(node))
    return names


def _evaluated_at_definition(node):
    """The parts of a def/class that run where it is defined: decorators, defaults, bases."""
    if isinstance(node, ast.ClassDef):
        return node.decorator_list + node.bases + [keyword.value for keyword in node.keywords]
    defaults = node.args.defaults + [default for default in node.args.kw_defaults if default is not None]
    return node.decorator_list + defaults


def _literal(node, literals, depth):
    """The value of a literal expression; ``_Skip`` naming the first construct that is not one."""
    if depth > MAX_LIST_DEPTH:
        raise _Skip("expression nested too deeply")
    if isinstance(node, ast.Constant):
        return _constant(node.value)
    if isinstance(node, (ast.List, ast.Tuple)):
        items = [_literal(item, literals, depth + 1) for item in node.elts]
        value = tuple(items) if isinstance(node, ast.Tuple) else items
        return _bounded(value)
    if isinstance(node, ast.Name):
        return _known(node.id, literals)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        operand = _literal(node.operand, literals, depth + 1)
        if isinstance(operand, (int, float)):
            return -operand if isinstance(node.op, ast.USub) else operand
        raise _Skip(f"unary {'-' if isinstance(node.op, ast.USub) else '+'} of {type(operand).__name__}")
    if isinstance(node, ast.BinOp):
        left = _literal(node.left, literals, depth + 1)
        return _binary_operation(node.op, left, node.right, literals, depth)
    raise _Skip(_describe(node))


def _constant(value):
    if value is None or isinstance(value, (bool, str, float)):
        return _bounded(value)
    if isinstance(value, int):
        return _bounded_int(value)
    raise _Skip(f"{type(value).__name__} constant")


def _binary_operation(bin_op, left, right_node, literals, depth):
    """``left OP right`` for the operators a config plausibly uses, with literal operands only."""
    if isinstance(bin_op, ast.Mod) and isinstance(left, str):
        return _format(left, right_node, literals, depth)
    right = _literal(right_node, literals, depth + 1)
    numbers = isinstance(left, (int, float)) and isinstance(right, (int, float))
    if numbers and isinstance(bin_op, (ast.Add, ast.Sub, ast.Mult)):
        # Numbers only for "*": "x" * 10**9 would be a memory bomb, and no config repeats strings.
        result = _NUMBER_OPERATIONS[type(bin_op)](left, right)
        return _bounded_int(result) if isinstance(result, int) else result
    if isinstance(bin_op, ast.Add) and type(left) is type(right) and isinstance(left, (str, list, tuple)):
        return _bounded(left + right)
    symbol = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Mod: "%"}.get(type(bin_op))
    if symbol is None:
        raise _Skip(f"operator {type(bin_op).__name__}")
    raise _Skip(f"{type(left).__name__} {symbol} {type(right).__name__}")


_NUMBER_OPERATIONS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul}


# A %-conversion: optional (key), flags, width, .precision, length modifier, conversion type.
_CONVERSION = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d*))?[hlL]?(.?)")


def _format(template, right_node, literals, depth):
    """``template % args`` when every operand is a literal and no width can blow up the result."""
    for width, precision, _ in _CONVERSION.findall(template):
        for number in (width, precision):
            if number == "*" or (number and int(number) > MAX_FORMAT_WIDTH):
                raise _Skip(f"% format with width or precision {number!r}")
    if isinstance(right_node, ast.Tuple):
        # Bounded as a whole: each item alone is, but "%s%s..." % (big, big, ...) would repeat one.
        args = _bounded(tuple(_literal(item, literals, depth + 1) for item in right_node.elts))
    else:
        args = _literal(right_node, literals, depth + 1)
    # Operands are str/int/float/bool/None/list/tuple built here: their __str__/__format__ are
    # the builtins', so formatting them runs nothing from the file.
    try:
        return _bounded(template % args)
    except (TypeError, ValueError, OverflowError, KeyError) as err:
        raise _Skip(f"% format failed: {err}") from None


def _bounded_int(value):
    if value.bit_length() > MAX_INT_BITS:
        raise _Skip(f"number with more than {MAX_INT_BITS} bits")
    return value


_SURROGATE = re.compile("[\ud800-\udfff]")
_WORK = contextvars.ContextVar("xenctys_xm_work", default=None)  # [units left] of the file being read


def _bounded(value):
    """``value`` unchanged, or ``_Skip`` when it is too large or too deeply nested to be a setting."""
    budget = [MAX_VALUE_SIZE]

    def spend(item, depth):
        if depth > MAX_LIST_DEPTH:
            raise _Skip("value nested too deeply")
        if isinstance(item, str):
            budget[0] -= len(item)
            if not item.isascii() and _SURROGATE.search(item):
                # "\ud800" or "%c" % 0xd800: no UTF-8, so neither msgpack nor Salt could carry it.
                raise _Skip("string with a lone surrogate (not UTF-8)")
        elif isinstance(item, (list, tuple)):
            budget[0] -= len(item)
            for element in item:
                if budget[0] < 0:
                    break
                spend(element, depth + 1)
        if budget[0] < 0:
            raise _Skip(f"value larger than {MAX_VALUE_SIZE} characters")

    try:
        spend(value, 0)
    finally:
        work = _WORK.get()
        if work is not None:
            work[0] -= MAX_VALUE_SIZE - budget[0]
            if work[0] < 0:
                raise _Skip(f"evaluation budget of {MAX_FILE_WORK} spent")
    return value


def _plain(value):
    """Tuples as lists: settings must round-trip through msgpack/JSON unchanged."""
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value
