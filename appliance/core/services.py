"""Typed service keys and the registry components fill with what they provide.

A service is an object implementing one of the protocols of `appliance/ports/`. A component declares the keys
it provides, requires and (optionally) uses; the composition root orders components so that every provider is
built before its consumers, and refuses a required key that nobody provides.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, eq=False)
class ServiceKey(Generic[T]):
    """The name of a service and, through its type parameter, the protocol it implements.

    `many`: several components may provide it and consumers take the list (e.g. the power-fail path's
    flushables); otherwise exactly one provider.
    """

    name: str
    doc: str = ""
    many: bool = False

    def __repr__(self) -> str:
        return f"<service {self.name}>"


class ServiceConflict(Exception):
    """Two components provide the same single service."""


class Services:
    """What has been provided so far, by whom."""

    def __init__(self) -> None:
        self._values: dict[ServiceKey[Any], list[Any]] = {}
        self.providers: dict[str, list[str]] = {}  # service name -> component names, for errors and status

    def provide(self, key: ServiceKey[T], value: T, provider: str) -> None:
        values = self._values.setdefault(key, [])
        if values and not key.many:
            raise ServiceConflict(
                f"service {key.name!r} is provided by {self.providers[key.name][0]} and again by {provider}"
            )
        values.append(value)
        self.providers.setdefault(key.name, []).append(provider)

    def withdraw(self, key: ServiceKey[T], value: T) -> None:
        """Take back one provided value (a test wrapping a provider's object, say). KeyError if not provided."""
        values = self._values.get(key, [])
        for index, candidate in enumerate(values):
            if candidate is value:
                del values[index]
                del self.providers[key.name][index]
                return
        raise KeyError(key.name)

    def get(self, key: ServiceKey[T]) -> T | None:
        values = self._values.get(key)
        return values[0] if values else None

    def all(self, key: ServiceKey[T]) -> list[T]:
        return list(self._values.get(key, ()))
