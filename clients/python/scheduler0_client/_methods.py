"""Turning the shared definitions into methods of both clients.

Each is a descriptor on the shared `Api` class: `Endpoint` (send the call a builder makes),
`Pages` (walk a list builder's pages) and `Procedure` (run a flow of several calls). Read
on a Client, it is a blocking method; on an AsyncClient, a coroutine method (or an async
iterator): the overloads of `__get__` tell type checkers which, so the one table in `_api`
is typed for both flavours.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, TypeVar, overload

from scheduler0_client._flows import Flow, exchange, walk
from scheduler0_client._request import Call
from scheduler0_client._session import Session
from scheduler0_client.types import Page

if TYPE_CHECKING:
    from scheduler0_client._api import Api
    from scheduler0_client.aio import AsyncClient
    from scheduler0_client.sync import Client

P = ParamSpec("P")
T = TypeVar("T")


class _Method(Generic[P, T]):
    """What the three descriptors share: the definition they wrap, and its name and doc."""

    def __init__(self, definition: Callable[..., Any], *, takes_session: bool = False) -> None:
        self.definition = definition
        self.__doc__ = definition.__doc__
        self.__name__ = definition.__name__
        signature = inspect.signature(definition)
        parameters = list(signature.parameters.values())
        # What a caller sees: not the session the client passes, and the result, not the
        # Call or Flow that makes it.
        self.__signature__ = signature.replace(
            parameters=parameters[1:] if takes_session else parameters,
            return_annotation=_unwrapped(signature.return_annotation))

    def __set_name__(self, owner: type, name: str) -> None:
        self.__name__ = name

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.__name__}>"

    def _bind(self, method: Callable[..., Any]) -> Callable[..., Any]:
        """`method` named and documented as the definition, with its signature for help()
        and inspect.signature."""
        functools.update_wrapper(method, self.definition)
        method.__name__ = method.__qualname__ = self.__name__
        method.__signature__ = self.__signature__  # type: ignore[attr-defined]
        return method


def _unwrapped(annotation: Any) -> Any:
    """`Page[Job]` from the annotation text `Call[Page[Job]]` (or `Flow[...]`)."""
    text = str(annotation)
    for wrapper in ("Call[", "Flow["):
        if text.startswith(wrapper) and text.endswith("]"):
            return text[len(wrapper):-1]
    return annotation


class Endpoint(_Method[P, T]):
    """A method that sends the call `build` makes: `client.get_job(7)`."""

    def __init__(self, build: Callable[P, Call[T]]) -> None:
        super().__init__(build)
        self.build = build

    @overload
    def __get__(self, client: None, owner: type) -> Endpoint[P, T]: ...

    @overload
    def __get__(self, client: Client, owner: type) -> Callable[P, T]: ...

    @overload
    def __get__(self, client: AsyncClient, owner: type) -> Callable[P, Awaitable[T]]: ...

    def __get__(self, client: Api | None, owner: type) -> Any:
        if client is None:
            return self
        build, session = self.build, client.session

        def method(*args: Any, **kwargs: Any) -> Any:
            return client._run(exchange(session, build(*args, **kwargs)))

        return self._bind(method)


class Pages(_Method[P, T]):
    """A method that yields every row of the list `build` reads: `client.iter_jobs()`."""

    def __init__(self, build: Callable[P, Call[Page[T]]]) -> None:
        super().__init__(build)
        self.build = build

    @overload
    def __get__(self, client: None, owner: type) -> Pages[P, T]: ...

    @overload
    def __get__(self, client: Client, owner: type) -> Callable[P, Iterator[T]]: ...

    @overload
    def __get__(self, client: AsyncClient, owner: type) -> Callable[P, AsyncIterator[T]]: ...

    def __get__(self, client: Api | None, owner: type) -> Any:
        if client is None:
            return self
        build, session = self.build, client.session

        def method(*args: Any, **kwargs: Any) -> Any:
            return client._iterate(walk(session, build, args, kwargs))

        return self._bind(method)


class Procedure(_Method[P, T]):
    """A method that runs a flow of several calls: `client.bulk_create(jobs)`."""

    def __init__(self, flow: Callable[Concatenate[Session, P], Flow[T]]) -> None:
        super().__init__(flow, takes_session=True)
        self.flow = flow

    @overload
    def __get__(self, client: None, owner: type) -> Procedure[P, T]: ...

    @overload
    def __get__(self, client: Client, owner: type) -> Callable[P, T]: ...

    @overload
    def __get__(self, client: AsyncClient, owner: type) -> Callable[P, Awaitable[T]]: ...

    def __get__(self, client: Api | None, owner: type) -> Any:
        if client is None:
            return self
        flow, session = self.flow, client.session

        def method(*args: Any, **kwargs: Any) -> Any:
            return client._run(flow(session, *args, **kwargs))

        return self._bind(method)
