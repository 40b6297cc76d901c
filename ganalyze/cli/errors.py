"""Command-line error reporting: a user error is one paragraph on stderr and a non-zero exit, no traceback."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from ganalyze.errors import GanalyzeError

F = TypeVar("F", bound=Callable[..., Any])

EXIT_USER_ERROR = 2


def reports_errors(prog: str) -> Callable[[F], F]:
    """Decorator: turn a GanalyzeError raised by the command into ``prog: error: <paragraph>`` and exit 2."""

    def wrap(func: F) -> F:
        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> Any:
            try:
                return func(*args, **kwargs)
            except GanalyzeError as err:
                print(f"{prog}: error: {err}", file=sys.stderr)
                raise SystemExit(EXIT_USER_ERROR) from None

        return run  # type: ignore[return-value]

    return wrap
