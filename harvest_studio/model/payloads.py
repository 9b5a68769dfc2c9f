"""The payload converter: Python values that JSON cannot hold (dataclasses, enums, pydantic
models, datetimes, UUIDs, decimals, sets) to their JSON form and back, guided by type hints.

JSON stays the wire and history form. A value is encoded when it is written (arguments,
results, signal payloads, update and query arguments); it is decoded where the receiving
code declares a type: an activity's or workflow's parameters, an activity's or child's
return annotation (as the awaiting workflow sees it), a handler's parameters, and a run's
result on a handle started from a definition.

>>> import dataclasses, enum
>>> class Size(enum.Enum):
...     S = "s"
...     L = "l"
>>> @dataclasses.dataclass
... class Shirt:
...     size: Size
...     colour: str = "blue"
>>> converter = DefaultPayloadConverter()
>>> converter.to_json(Shirt(Size.L))
{'size': <Size.L: 'l'>, 'colour': 'blue'}
>>> converter.from_json("l", Size)
<Size.L: 'l'>
>>> converter.from_json(["2026-12-02"], list[dt.date])
[datetime.date(2026, 12, 2)]
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import functools
import inspect
import types
import typing
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import PurePath
from typing import Any

from .errors import PayloadError


class PayloadConverter:
    """Turns values into JSON-ready ones and back. Subclass :class:`DefaultPayloadConverter`
    to add types (call ``super()`` for the rest) and install it with
    :func:`set_payload_converter` in every process that starts, runs or reads the runs."""

    def to_json(self, value: Any) -> Any:
        """A JSON-ready stand-in for ``value`` (called only for values JSON cannot hold;
        containers in the result are converted further). Raise ``TypeError`` if unknown."""
        raise TypeError(f"{type(value).__name__} is not JSON-serialisable")

    def from_json(self, value: Any, hint: Any) -> Any:
        """``value`` (decoded JSON) as the type ``hint`` asks for."""
        return value


class DefaultPayloadConverter(PayloadConverter):
    """Dataclasses (as objects of their fields), enums (their value), pydantic models
    (``model_dump(mode="json")`` / ``model_validate``), ``datetime``/``date``/``time``
    (ISO 8601), ``UUID``, ``Decimal`` and paths (strings), sets (lists); and back, where a
    type hint asks for them — also inside ``list[...]``, ``dict[str, ...]``, ``tuple[...]``,
    ``X | None`` and the fields of dataclasses."""

    def to_json(self, value: Any) -> Any:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        if isinstance(value, enum.Enum):
            return value.value
        dump = getattr(value, "model_dump", None)
        if callable(dump) and not isinstance(value, type):  # a pydantic model
            return dump(mode="json")
        if isinstance(value, dt.datetime | dt.date | dt.time):
            return value.isoformat()
        if isinstance(value, uuid.UUID | Decimal | PurePath):
            return str(value)
        if isinstance(value, set | frozenset):
            items = list(value)
            try:
                return sorted(items)  # a set's order is not stable across processes
            except TypeError:
                return items
        return super().to_json(value)

    def from_json(self, value: Any, hint: Any) -> Any:
        if hint is None or hint is Any or hint is inspect.Parameter.empty:
            return value
        origin = typing.get_origin(hint)
        if origin is typing.Union or origin is types.UnionType:
            return self._from_union(value, typing.get_args(hint))
        if origin is typing.Annotated:
            return self.from_json(value, typing.get_args(hint)[0])
        if origin is not None:
            return self._from_generic(value, origin, typing.get_args(hint))
        if not isinstance(hint, type) or value is None:
            return value
        if dataclasses.is_dataclass(hint) and isinstance(value, dict):
            fields = _field_hints(hint)
            known = {k: self.from_json(v, fields.get(k)) for k, v in value.items() if k in fields}
            return hint(**known)
        if issubclass(hint, enum.Enum):
            return hint(value)
        validate = getattr(hint, "model_validate", None)
        if callable(validate):
            return validate(value)
        for kind, parse in _PARSERS:
            if issubclass(hint, kind) and isinstance(value, str):
                return parse(value)
        if issubclass(hint, set | frozenset) and isinstance(value, list):
            return hint(value)
        return value

    def _from_union(self, value: Any, options: tuple[Any, ...]) -> Any:
        if value is None:
            return None
        for option in options:
            if option is type(None):
                continue
            try:
                return self.from_json(value, option)
            except (TypeError, ValueError):
                continue
        return value

    def _from_generic(self, value: Any, origin: Any, args: tuple[Any, ...]) -> Any:
        if isinstance(value, list) and origin in (list, set, frozenset, tuple, *_ABC_SEQUENCES):
            if origin is tuple and args and args[-1] is not Ellipsis:
                items = [self.from_json(v, h) for v, h in zip(value, args, strict=False)]
                return tuple(items)
            item = args[0] if args else None
            items = [self.from_json(v, item) for v in value]
            return origin(items) if origin in (set, frozenset, tuple) else items
        if isinstance(value, dict) and args and origin in (dict, *_ABC_MAPPINGS):
            return {k: self.from_json(v, args[-1]) for k, v in value.items()}
        return value


_ABC_SEQUENCES = (typing.get_origin(typing.Sequence), typing.get_origin(typing.Iterable))
_ABC_MAPPINGS = (typing.get_origin(typing.Mapping),)
_PARSERS: tuple[tuple[type, Callable[[str], Any]], ...] = (
    (dt.datetime, dt.datetime.fromisoformat),
    (dt.date, dt.date.fromisoformat),
    (dt.time, dt.time.fromisoformat),
    (uuid.UUID, uuid.UUID),
    (Decimal, Decimal),
    (PurePath, PurePath),
)


@functools.lru_cache(maxsize=1024)
def _field_hints(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls)
    except Exception:  # a hint that cannot be resolved here: take the field as it is
        return {f.name: None for f in dataclasses.fields(cls)}


_converter: PayloadConverter = DefaultPayloadConverter()


def set_payload_converter(converter: PayloadConverter) -> None:
    """Use ``converter`` for every payload this process writes and reads."""
    global _converter
    if not isinstance(converter, PayloadConverter):
        raise TypeError("set_payload_converter needs a PayloadConverter")
    _converter = converter


def payload_converter() -> PayloadConverter:
    """The converter in use."""
    return _converter


def encode_default(value: Any) -> Any:
    """``json.dumps``' ``default`` hook: the converter's JSON form of ``value``."""
    return _converter.to_json(value)


_HINTS: dict[tuple[object, bool], tuple[list[Any], Any]] = {}


def _hints(fn: Callable[..., Any]) -> tuple[list[Any], Any]:
    """The parameter hints (positional, in order) and the return hint of ``fn``; all None
    where they cannot be resolved (a forward reference to a local class, say). Kept per
    code object: handlers are closures made anew for every run, and must not be kept."""
    code = getattr(getattr(fn, "__func__", fn), "__code__", None)
    key = None if code is None else (code, hasattr(fn, "__func__"))  # bound: no ``self``
    found = _HINTS.get(key) if key is not None else None
    if found is None:
        found = _resolve_hints(fn)
        if key is not None:
            if len(_HINTS) > 4096:
                _HINTS.clear()
            _HINTS[key] = found
    return found


def _resolve_hints(fn: Callable[..., Any]) -> tuple[list[Any], Any]:
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return [], None
    try:
        resolved = typing.get_type_hints(fn, include_extras=True)
    except Exception:
        resolved = {}
    params = [
        resolved.get(p.name)
        for p in signature.parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
    ]
    return params, resolved.get("return")


def decode_args(fn: Callable[..., Any], args: list[Any], *, skip: int = 0) -> list[Any]:
    """``args`` converted to the types ``fn``'s parameters declare (after the first
    ``skip`` of them, e.g. the context); :class:`PayloadError` if one does not fit."""
    params, _ = _hints(fn)
    params = params[skip:]
    if not any(h is not None for h in params):
        return args
    decoded = []
    for index, value in enumerate(args):
        hint = params[index] if index < len(params) else (params[-1] if params else None)
        decoded.append(decode(value, hint, what=f"argument {index + 1}"))
    return decoded


def decode_result(fn: Callable[..., Any], value: Any) -> Any:
    """``value`` converted to ``fn``'s declared return type."""
    return decode(value, _hints(fn)[1], what="result")


def return_hint(fn: Callable[..., Any]) -> Any:
    """``fn``'s return annotation, resolved (None if it has none or cannot be resolved)."""
    return _hints(fn)[1]


def decode(value: Any, hint: Any, *, what: str = "payload") -> Any:
    """``value`` as ``hint`` asks; :class:`PayloadError` if it does not fit."""
    if hint is None:
        return value
    try:
        return _converter.from_json(value, hint)
    except PayloadError:
        raise
    except Exception as exc:
        raise PayloadError(
            f"{what} does not fit {getattr(hint, '__name__', hint)}: {type(exc).__name__}: {exc}"
        ) from None
