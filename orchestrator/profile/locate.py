"""Where a problem in a profile is, and how to say it.

`Locator` finds the line and column of a key path in raw TOML text: tomlkit
keeps no positions for keys, so it is a small scanner over the text that records
where each table header, key and array element starts. It is lenient: the text
has already been parsed by tomlkit, and anything it cannot follow is skipped.

`error_key_path` and `error_message` turn a pydantic error into the key path in
the TOML data and a short message.
"""

from __future__ import annotations

import bisect
import re
import types
from collections.abc import Sequence
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel

from orchestrator.profile.schema import NAME_PATTERN, RETENTION_FORMS, RETENTION_PATTERN, Profile

KeyPath = tuple[str | int, ...]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_SCALAR = re.compile(r"[^,\]}\n#]*")
_PATTERN_MESSAGES = {
    NAME_PATTERN: "a name may hold only letters, digits, '.', '_' and '-' "
    "(starting with a letter or digit, at most 64 characters)",
    RETENTION_PATTERN: f"retention is {RETENTION_FORMS}",
}


def pattern_message(pattern: str) -> str:
    """What a value of a schema pattern may hold, in words (the pattern if unknown)."""
    return _PATTERN_MESSAGES.get(pattern, f"it must match {pattern}")


_ESCAPES = {
    "b": "\b",
    "t": "\t",
    "n": "\n",
    "f": "\f",
    "r": "\r",
    "e": "\x1b",
    '"': '"',
    "\\": "\\",
}


def format_key_path(path: Sequence[str | int]) -> str:
    """`services.nextcloud.hooks[0].type`; keys that are not bare are quoted."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
            continue
        text = part if _BARE_KEY.fullmatch(part) else '"' + part.replace('"', '\\"') + '"'
        out += f".{text}" if out else text
    return out


class Locator:
    """Positions of the key paths defined in one TOML document."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._pos = 0
        self._line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self._offsets: dict[KeyPath, int] = {}
        self._scan()

    def find(self, path: Sequence[str | int]) -> tuple[int, int] | None:
        """(line, column), both 1-based, where exactly this key path is defined."""
        offset = self._offsets.get(tuple(path))
        return None if offset is None else self._line_col(offset)

    def locate(self, path: Sequence[str | int]) -> tuple[int, int] | None:
        """Like `find`, falling back to the deepest prefix that is defined here."""
        key = tuple(path)
        for size in range(len(key), 0, -1):
            found = self.find(key[:size])
            if found is not None:
                return found
        return None

    def _line_col(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self._line_starts, offset)
        return line, offset - self._line_starts[line - 1] + 1

    def _peek(self, size: int = 1) -> str:
        return self._text[self._pos : self._pos + size]

    def _skip_space(self, newlines: bool) -> None:
        text = self._text
        while self._pos < len(text):
            char = text[self._pos]
            if char in " \t\r" or (newlines and char == "\n"):
                self._pos += 1
            elif char == "#":
                end = text.find("\n", self._pos)
                self._pos = len(text) if end < 0 else end
            else:
                return

    def _skip_line(self) -> None:
        end = self._text.find("\n", self._pos)
        self._pos = len(self._text) if end < 0 else end + 1

    def _scan(self) -> None:
        table: KeyPath = ()
        array_index: dict[KeyPath, int] = {}
        while True:
            self._skip_space(newlines=True)
            start = self._pos
            if start >= len(self._text):
                return
            if self._peek(2) == "[[":
                self._pos += 2
                table = self._header(self._key(), array_index, start, is_array=True)
            elif self._peek() == "[":
                self._pos += 1
                table = self._header(self._key(), array_index, start, is_array=False)
            else:
                keys = self._key()
                if keys:
                    path = self._record(table, keys)
                    self._skip_space(newlines=False)
                    if self._peek() == "=":
                        self._pos += 1
                        self._value(path)
            self._skip_line()

    def _header(
        self,
        keys: list[tuple[str, int]],
        array_index: dict[KeyPath, int],
        start: int,
        is_array: bool,
    ) -> KeyPath:
        path: KeyPath = ()
        for position, (name, _) in enumerate(keys):
            path += (name,)
            if is_array and position == len(keys) - 1:
                index = array_index.get(path, -1) + 1
                array_index[path] = index
                self._offsets.setdefault(path, start)
                path += (index,)
            elif path in array_index:
                # A header under an array of tables belongs to its latest element.
                path += (array_index[path],)
            self._offsets.setdefault(path, start)
        return path

    def _record(self, table: KeyPath, keys: list[tuple[str, int]]) -> KeyPath:
        path = table
        for name, offset in keys:
            path += (name,)
            self._offsets.setdefault(path, offset)
        return path

    def _key(self) -> list[tuple[str, int]]:
        parts: list[tuple[str, int]] = []
        while True:
            self._skip_space(newlines=False)
            offset = self._pos
            char = self._peek()
            if char == '"':
                name = self._basic_string()
            elif char == "'":
                name = self._literal_string()
            else:
                match = _BARE_KEY.match(self._text, self._pos)
                if match is None:
                    return parts
                name = match.group()
                self._pos = match.end()
            parts.append((name, offset))
            self._skip_space(newlines=False)
            if self._peek() != ".":
                return parts
            self._pos += 1

    def _value(self, path: KeyPath) -> None:
        self._skip_space(newlines=False)
        char = self._peek()
        if self._peek(3) in ('"""', "'''"):
            self._multiline_string(self._peek(3))
        elif char == '"':
            self._basic_string()
        elif char == "'":
            self._literal_string()
        elif char == "[":
            self._array(path)
        elif char == "{":
            self._inline_table(path)
        else:
            match = _SCALAR.match(self._text, self._pos)
            self._pos = match.end() if match else self._pos

    def _array(self, path: KeyPath) -> None:
        self._pos += 1
        index = 0
        while self._pos < len(self._text):
            self._skip_space(newlines=True)
            before = self._pos
            if self._peek() == "]":
                self._pos += 1
                return
            if self._peek() == ",":
                self._pos += 1
                continue
            self._offsets.setdefault(path + (index,), self._pos)
            self._value(path + (index,))
            index += 1
            self._skip_space(newlines=True)
            if self._peek() == "," or self._pos == before:
                self._pos += 1

    def _inline_table(self, path: KeyPath) -> None:
        self._pos += 1
        while self._pos < len(self._text):
            self._skip_space(newlines=True)
            before = self._pos
            if self._peek() == "}":
                self._pos += 1
                return
            if self._peek() == ",":
                self._pos += 1
                continue
            keys = self._key()
            if keys:
                sub = self._record(path, keys)
                self._skip_space(newlines=False)
                if self._peek() == "=":
                    self._pos += 1
                    self._value(sub)
            if self._pos == before:
                self._pos += 1

    def _basic_string(self) -> str:
        text = self._text
        self._pos += 1
        out: list[str] = []
        while self._pos < len(text):
            char = text[self._pos]
            if char == '"':
                self._pos += 1
                break
            if char == "\n":
                break
            if char == "\\":
                code = text[self._pos + 1 : self._pos + 2]
                if code in ("u", "U"):
                    width = 4 if code == "u" else 8
                    digits = text[self._pos + 2 : self._pos + 2 + width]
                    try:
                        out.append(chr(int(digits, 16)))
                    except ValueError:
                        pass
                    self._pos += 2 + width
                else:
                    out.append(_ESCAPES.get(code, code))
                    self._pos += 2
                continue
            out.append(char)
            self._pos += 1
        return "".join(out)

    def _literal_string(self) -> str:
        text = self._text
        start = self._pos + 1
        end = start
        while end < len(text) and text[end] not in "'\n":
            end += 1
        self._pos = end + 1 if end < len(text) and text[end] == "'" else end
        return text[start:end]

    def _multiline_string(self, delimiter: str) -> None:
        text = self._text
        self._pos += 3
        while self._pos < len(text):
            if delimiter == '"""' and text[self._pos] == "\\":
                self._pos += 2
                continue
            if text.startswith(delimiter, self._pos):
                self._pos += 3
                # Up to two quotes right before the closing delimiter belong to the string.
                for _ in range(2):
                    if self._peek() == delimiter[0]:
                        self._pos += 1
                return
            self._pos += 1


def error_key_path(loc: tuple[int | str, ...], data: Any, missing: bool) -> KeyPath:
    """Map a pydantic error location onto the TOML data, dropping union member tags
    (`'str'`, `'list[str]'`) and the `paths` a list-form config group is wrapped in."""
    path: KeyPath = ()
    current = data
    for position, part in enumerate(loc):
        in_dict = isinstance(current, dict) and part in current
        in_list = isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current)
        if in_dict or in_list:
            path += (part,)
            current = current[part]
        elif missing and position == len(loc) - 1 and isinstance(current, dict):
            path += (part,)
    return path


def error_message(path: KeyPath, errors: list[dict[str, Any]]) -> str:
    first = errors[0]
    kind = first["type"]
    if kind == "missing":
        return "missing required key"
    if kind == "extra_forbidden":
        known = _field_names_at(path[:-1])
        import difflib

        close = difflib.get_close_matches(str(path[-1]), known, n=1)
        return f"unknown key; did you mean {close[0]!r}?" if close else "unknown key"
    if kind == "string_pattern_mismatch":
        pattern = (first.get("ctx") or {}).get("pattern")
        if pattern in _PATTERN_MESSAGES:
            return _PATTERN_MESSAGES[pattern]
    if kind in ("model_type", "dict_type"):
        return "expected a table"
    messages: list[str] = []
    for error in errors:
        text = str(error["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
        if text not in messages:
            messages.append(text)
    lead = "Input should be a valid "
    if len(messages) > 1 and all(m.startswith(lead) for m in messages):
        text = lead + " or ".join(m.removeprefix(lead) for m in messages)
    else:
        text = "; ".join(messages)
    text = text[:1].lower() + text[1:]
    value = first.get("input")
    if kind != "value_error" and isinstance(value, (str, int, float, bool)):
        text += f", got {value!r}"
    return text


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
            continue
        if origin in (Union, types.UnionType):
            options = [a for a in get_args(annotation) if a is not type(None)]
            if len(options) == 1:
                annotation = options[0]
                continue
        return annotation


def _field_names_at(path: KeyPath) -> list[str]:
    """The keys the model accepts in the table at `path`, for "did you mean" hints."""
    annotation: Any = Profile
    for part in path:
        annotation = _unwrap(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = annotation.model_fields.get(part) if isinstance(part, str) else None
            annotation = field.annotation if field is not None else None
        elif get_origin(annotation) is dict and isinstance(part, str):
            annotation = get_args(annotation)[1]
        elif get_origin(annotation) is list and isinstance(part, int):
            annotation = get_args(annotation)[0]
        else:
            return []
    annotation = _unwrap(annotation)
    if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
        return []
    names = [name for name in annotation.model_fields if name != "source_files"]
    return [*names, "extends"] if annotation is Profile else names
