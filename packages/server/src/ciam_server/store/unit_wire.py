"""How units of work and their outcomes cross between the server's process and the store's
SQLite process (:mod:`ciam_server.store.sqlite_process`).

A unit of :mod:`ciam_server.store.units` with its values bound goes by name, its values as a
MessagePack array typed by the unit's signature, and its value comes back as MessagePack typed
by the unit's return annotation: msgspec encodes and decodes a unit in a few microseconds where
pickle took tens (pickle looks up every class and function it meets by module and name, and
reduces every dataclass, enumeration and aware datetime through Python calls), and the event
loop pays that for every ``/otp/send`` and code check.

Anything else crosses pickled: a unit whose values MessagePack cannot carry (the ORM units
handed to :func:`~ciam_server.store.units.in_session`), other work (tests' probes), exceptions
and log records. Both ends are this program, on a socket pair nobody else holds.
"""

from __future__ import annotations

import inspect
import pickle
import typing
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, partial
from typing import Any

import msgspec
from sqlalchemy import Connection

from ciam_server.store import units

Work = Callable[[Connection], Any]

NAMED = 0
"""A unit of :mod:`~ciam_server.store.units` by name, or the MessagePack value it returned."""
PICKLED = 1
"""Pickled work, or the pickled value it returned."""
FAILED = 2
"""An outcome: the pickled exception the unit raised."""

_ENCODER = msgspec.msgpack.Encoder()
_NAMED_UNIT = msgspec.msgpack.Decoder(tuple[str, msgspec.Raw])
_ANSWER = msgspec.msgpack.Decoder(tuple[bytes, list[tuple[int, int, bytes]]])


class ValueNotSentError(Exception):
    """A unit's value or exception could not be encoded to be sent back."""


@dataclass(frozen=True, eq=False)
class _Signature:
    """A unit's values as one MessagePack array, and its result's type."""

    function: Callable[..., Any]
    values: type[msgspec.Struct]
    values_decoder: msgspec.msgpack.Decoder[Any]
    result_decoder: msgspec.msgpack.Decoder[Any]


@cache
def _signature(name: str) -> _Signature:
    """The signature of the unit ``name`` of :mod:`~ciam_server.store.units`, from its type
    annotations (its first parameter, the connection, left out)."""
    function = getattr(units, name, None)
    if not inspect.isfunction(function) or function.__module__ != units.__name__:
        raise LookupError(f"{name!r} is not a unit of work")
    hints = typing.get_type_hints(function)
    names = list(inspect.signature(function).parameters)[1:]
    values = msgspec.defstruct(
        f"{name}_values", [(value, hints[value]) for value in names], array_like=True
    )
    return _Signature(
        function,
        values,
        msgspec.msgpack.Decoder(values),
        msgspec.msgpack.Decoder(hints["return"]),
    )


# The server's side.


def encode_unit(work: Work) -> tuple[int, bytes, msgspec.msgpack.Decoder[Any] | None]:
    """``work``'s kind and bytes, and for a unit sent by name the decoder of its value."""
    function, values = (
        (work.func, work.keywords) if isinstance(work, partial) and not work.args else (work, {})
    )
    name = getattr(function, "__name__", "")
    if getattr(units, name, None) is function:
        signature = _signature(name)
        try:
            payload = _ENCODER.encode((name, signature.values(**values)))
        except TypeError:
            pass  # a value MessagePack cannot carry, or values the unit does not take
        else:
            return NAMED, payload, signature.result_decoder
    return PICKLED, pickle.dumps(work, protocol=pickle.HIGHEST_PROTOCOL), None


def decode_answer(payload: bytes) -> tuple[bytes, list[tuple[int, int, bytes]]]:
    """A batch's pickled log records (empty when there are none) and its outcomes."""
    return _ANSWER.decode(payload)


def decode_records(records: bytes) -> list[Any]:
    return [] if not records else pickle.loads(records)  # noqa: S301 - from our own process


def decode_outcome(kind: int, body: bytes, result: msgspec.msgpack.Decoder[Any] | None) -> Any:
    """The value a unit returned; raises what it raised."""
    if kind == NAMED and result is not None:
        return result.decode(body)
    outcome = pickle.loads(body)  # noqa: S301 - from our own process
    if kind == FAILED:
        raise outcome
    return outcome


# The SQLite process's side.


def decode_unit(kind: int, payload: bytes) -> tuple[Work, bool]:
    """The work in ``payload``, and whether it came by name (its value goes back so)."""
    if kind == NAMED:
        name, raw = _NAMED_UNIT.decode(payload)
        signature = _signature(name)
        values = msgspec.structs.asdict(signature.values_decoder.decode(raw))
        return partial(signature.function, **values), True
    work: Work = pickle.loads(payload)  # noqa: S301 - from our own process
    return work, False


def encode_outcome(*, named: bool, ok: bool, value: Any) -> tuple[int, bytes]:
    """A unit's value (``ok``) or exception, as its kind and bytes; raises
    :class:`ValueNotSentError` if it cannot be encoded."""
    try:
        if not ok:
            return FAILED, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        if named:
            return NAMED, _ENCODER.encode(value)
        return PICKLED, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as error:
        kind = "value" if ok else "exception"
        raise ValueNotSentError(
            f"the unit's {kind} ({type(value).__name__}) could not be sent back"
        ) from error


def encode_answer(records: bytes, outcomes: list[tuple[int, int, bytes]]) -> bytes:
    return _ENCODER.encode((records, outcomes))
