"""Strict decoders for the apps' contract tests: an app's declared models written down as data,
and a decoder that fails as the app's own JSON library would.

Each field says whether its key must be there and whether null is accepted, as the app's
language decides it:

- ``required``: the key must be present, not null, of the type (Kotlin/Moshi non-null without a
  default, serde's non-``Option`` field, Swift's ``decode``);
- ``optional``: absent and null are fine, any other value must be of the type (Kotlin nullable,
  ``Option``, ``decodeIfPresent``, and every field of a Go struct: ``encoding/json`` leaves a
  missing or null field alone but fails the whole call on a value of another type);
- ``defaulted``: absent is fine, null is not (Moshi's non-null property with a default value).

Keys a model does not declare are ignored, as every app read here ignores them.
"""

from dataclasses import dataclass
from datetime import datetime


class DecodeError(AssertionError):
    """What the app's decoder would have thrown, with the JSON path of the offending value."""


@dataclass(frozen=True)
class Kind:
    name: str
    accepts: object  # value -> bool

    def decode(self, value, path):
        if not self.accepts(value):
            raise DecodeError(f"{path}: expected {self.name}, got {value!r}"[:300])


def _is_int(value, low=-(2**63), high=2**63 - 1):
    return type(value) is int and low <= value <= high


def _is_moment(value):
    """RFC 3339 / ISO 8601 with a zone (Go's ``time.Time``, Swift's ISO 8601 strategies)."""
    if not isinstance(value, str) or "T" not in value:
        return False
    try:
        moment = datetime.fromisoformat(value)  # Python 3.11 reads "Z" too
    except ValueError:
        return False
    return moment.tzinfo is not None


INT = Kind("a 64-bit integer", _is_int)  # Kotlin Long, Swift Int, Go int/int64, Rust i64
INT32 = Kind("a 32-bit integer", lambda v: _is_int(v, -(2**31), 2**31 - 1))  # Kotlin Int
UINT = Kind("an unsigned integer", lambda v: _is_int(v, 0, 2**64 - 1))  # Rust u64
STR = Kind("a string", lambda v: isinstance(v, str))
BOOL = Kind("a boolean", lambda v: isinstance(v, bool))
DOUBLE = Kind("a number", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool))
MOMENT = Kind("a date and time with a zone", _is_moment)
ANY = Kind("any JSON value", lambda v: True)


@dataclass(frozen=True)
class ListOf:
    item: object

    def decode(self, value, path):
        if not isinstance(value, list):
            raise DecodeError(f"{path}: expected a list, got {value!r}"[:300])
        for index, element in enumerate(value):
            if element is None:
                raise DecodeError(f"{path}[{index}]: null in a list of non-null values")
            self.item.decode(element, f"{path}[{index}]")


@dataclass(frozen=True)
class MapOf:
    value: object

    def decode(self, value, path):
        if not isinstance(value, dict):
            raise DecodeError(f"{path}: expected an object, got {value!r}"[:300])
        for key, element in value.items():
            self.value.decode(element, f"{path}.{key}")


@dataclass(frozen=True)
class Field:
    kind: object
    present: bool  # the key must be there
    nullable: bool  # null is accepted


def required(kind):
    return Field(kind, present=True, nullable=False)


def optional(kind):
    return Field(kind, present=False, nullable=True)


def defaulted(kind):
    return Field(kind, present=False, nullable=False)


class Model:
    """An app's model: ``Model("RomMRom", id=required(INT), …)``."""

    def __init__(self, name, /, **fields):
        self.name, self.fields = name, fields

    def decode(self, value, path="$"):
        if not isinstance(value, dict):
            raise DecodeError(f"{path}: expected a {self.name} object, got {value!r}"[:300])
        for key, field in self.fields.items():
            where = f"{path}.{key}"
            if key not in value:
                if field.present:
                    raise DecodeError(f"{where}: required by {self.name}, missing")
                continue
            if value[key] is None:
                if not field.nullable:
                    raise DecodeError(f"{where}: {self.name} does not accept null")
                continue
            field.kind.decode(value[key], where)
        return value


def each(field, kind, *keys):
    """``{key: field(kind)}`` for several keys of one kind: ``**each(optional, INT, "igdb_id", …)``."""
    return {key: field(kind) for key in keys}


def go_struct(name, /, **kinds):
    """A Go struct decoded by ``encoding/json``: every field optional, a wrong type fails."""
    return Model(name, **{key: optional(kind) for key, kind in kinds.items()})


def decode(model, value):
    """``value`` decoded by ``model`` (a ``Model``, ``ListOf`` …); raises ``DecodeError``."""
    model.decode(value, "$")
    return value
