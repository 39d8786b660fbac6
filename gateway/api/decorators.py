"""Typed forms of strawberry's resolver decorators.

`strawberry.field(description=...)` is typed as returning Any, which `mypy --strict`
reports as an untyped decorator on every resolver; these wrappers keep the resolver's
own signature for the type checker and change nothing at run time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import strawberry

F = TypeVar("F", bound=Callable[..., Any])


def field(*, description: str | None = None) -> Callable[[F], F]:
    decorator: Callable[[F], F] = strawberry.field(description=description)
    return decorator


def mutation(*, description: str | None = None) -> Callable[[F], F]:
    decorator: Callable[[F], F] = strawberry.mutation(description=description)
    return decorator


def subscription(*, description: str | None = None) -> Callable[[F], F]:
    decorator: Callable[[F], F] = strawberry.subscription(description=description)
    return decorator
