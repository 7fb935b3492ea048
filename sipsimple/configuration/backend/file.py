"""A configuration backend that stores the tree in a human-readable text file, written atomically.

Format (UTF-8): one entry per line, two spaces of indentation per level; a section is ``name:`` followed
by its entries, a value is ``name = <JSON>`` where the JSON is a string, a list of strings or ``null``.
Names made only of letters, digits and ``_ @ . + -`` are written bare, any other name as a JSON string.
Lines starting with ``#`` and blank lines are ignored::

    # sipsimple configuration (format 1)
    Accounts:
      alice@example.com:
        enabled = "true"
        sip:
          outbound_proxy = "proxy.example.com:5061;transport=tls"

Saving writes a temporary file beside the target (mode 0600), flushes and fsyncs it, renames it over the
target and fsyncs the directory: a crash at any moment leaves either the old or the new file. A file
that cannot be parsed is moved aside to ``<name>.corrupt-<timestamp>`` (never deleted) and loading fails
with a ConfigurationBackendError that names where it went.
"""

from __future__ import annotations

import datetime
import json
import os
import re
from typing import Any

from zope.interface import implementer

from sipsimple.configuration.backend import ConfigurationBackendError, IConfigurationBackend, check_tree
from sipsimple.util._files import atomic_write

__all__ = ["FileBackend", "dumps", "loads"]

HEADER = "# sipsimple configuration (format 1)"
_BARE_NAME = re.compile(r"[A-Za-z0-9_@.+\-]+")
_INDENT = "  "


class ConfigurationSyntaxError(ValueError):
    def __init__(self, line_number: int, message: str) -> None:
        super().__init__(f"line {line_number}: {message}")
        self.line_number = line_number


def _name(name: str) -> str:
    return name if _BARE_NAME.fullmatch(name) else json.dumps(name, ensure_ascii=False)


def dumps(data: dict[str, Any]) -> str:
    """The text form of a configuration tree."""
    check_tree(data)
    lines = [HEADER]
    _emit(lines, data, 0)
    return "\n".join(lines) + "\n"


def _emit(lines: list[str], node: dict[str, Any], depth: int) -> None:
    """Append ``node``'s lines at ``depth`` (a module function: a recursive closure would be a
    reference cycle left for the garbage collector after every save)."""
    indent = _INDENT * depth
    for name, value in node.items():
        if isinstance(value, dict):
            lines.append(f"{indent}{_name(name)}:")
            _emit(lines, value, depth + 1)
        else:
            lines.append(f"{indent}{_name(name)} = {json.dumps(value, ensure_ascii=False)}")


def _split_name(text: str, line_number: int) -> tuple[str, str]:
    """Split a line (without indentation) into its name and the rest."""
    if text.startswith('"'):
        try:
            name, end = json.JSONDecoder().raw_decode(text)
        except json.JSONDecodeError as e:
            raise ConfigurationSyntaxError(line_number, f"bad quoted name: {e.msg}") from None
        if not isinstance(name, str):
            raise ConfigurationSyntaxError(line_number, "a quoted name must be a string")
        return name, text[end:]
    match = _BARE_NAME.match(text)
    if match is None:
        raise ConfigurationSyntaxError(line_number, f"expected a name, found {text[:20]!r}")
    return match.group(), text[match.end() :]


def loads(text: str) -> dict[str, Any]:
    """Parse the text form; raises ValueError (ConfigurationSyntaxError) with the line number."""
    root: dict[str, Any] = {}
    stack: list[dict[str, Any]] = [root]  # stack[d] is the open section at depth d
    # Split on LF only: str.splitlines() would also split on U+0085 and U+2028, which JSON keeps raw.
    for line_number, line in enumerate(text.split("\n"), 1):
        line = line.removesuffix("\r")
        stripped = line.lstrip(" ")
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("\t"):
            raise ConfigurationSyntaxError(line_number, "tabs are not allowed for indentation")
        spaces = len(line) - len(stripped)
        if spaces % len(_INDENT):
            raise ConfigurationSyntaxError(
                line_number, f"indentation of {spaces} spaces is not a multiple of 2"
            )
        depth = spaces // len(_INDENT)
        if depth >= len(stack):
            raise ConfigurationSyntaxError(line_number, "indented deeper than its section")
        del stack[depth + 1 :]
        section = stack[depth]
        name, rest = _split_name(stripped, line_number)
        if name in section:
            raise ConfigurationSyntaxError(line_number, f"{name!r} appears twice in its section")
        rest = rest.strip(" ")
        if rest == ":":
            child: dict[str, Any] = {}
            section[name] = child
            stack.append(child)
        elif rest.startswith("="):
            try:
                value = json.loads(rest[1:])
            except json.JSONDecodeError as e:
                raise ConfigurationSyntaxError(line_number, f"bad value for {name!r}: {e.msg}") from None
            if not (
                value is None
                or isinstance(value, str)
                or (isinstance(value, list) and all(isinstance(item, str) for item in value))
            ):
                raise ConfigurationSyntaxError(
                    line_number, f"value of {name!r} must be a string, a list of strings or null"
                )
            section[name] = value
        else:
            raise ConfigurationSyntaxError(line_number, f"expected ':' or '= value' after {name!r}")
    return root


@implementer(IConfigurationBackend)
class FileBackend:
    """Stores the configuration in ``filename`` (created on the first save, mode 0600)."""

    def __init__(self, filename: str | os.PathLike[str], encoding: str = "utf-8") -> None:
        self.filename = os.fspath(filename)
        self.encoding = encoding

    def load(self) -> dict[str, Any]:
        try:
            with open(self.filename, "rb") as f:
                raw = f.read()
        except FileNotFoundError:
            return {}
        except OSError as e:
            raise ConfigurationBackendError(f"cannot read {self.filename}: {e.strerror or e}") from e
        try:
            return loads(raw.decode(self.encoding))
        except (UnicodeDecodeError, ValueError) as e:
            aside = self._move_aside()
            raise ConfigurationBackendError(
                f"{self.filename} is not a valid configuration file ({e}); it was moved to {aside}"
            ) from e

    def save(self, data: dict[str, Any]) -> None:
        text = dumps(data).encode(self.encoding)
        try:
            atomic_write(self.filename, text, mode=0o600)
        except OSError as e:
            raise ConfigurationBackendError(f"cannot write {self.filename}: {e.strerror or e}") from e

    def _move_aside(self) -> str:
        stamp = datetime.datetime.now().strftime("%Y%m%dT%H%M%S.%f")
        aside = f"{self.filename}.corrupt-{stamp}"
        try:
            os.replace(self.filename, aside)
        except OSError as e:
            return f"nowhere: it could not be moved ({e.strerror or e}) and is left in place"
        return aside

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.filename!r})"
