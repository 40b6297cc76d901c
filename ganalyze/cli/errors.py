"""The error boundary of every command: an expected failure is one paragraph on stderr and exit 2, no traceback.

Expected failures are the package's own errors (bad value, bad file, bad weights), the operating system's
(no space, read-only, permission, missing file: an OSError with an errno), and running out of memory (MemoryError,
torch's out-of-memory errors). Ctrl-C exits 130 with one line. Anything else is a bug: one paragraph saying so and
exit 1. ``--debug`` on the command line (or HYDRA_FULL_ERROR=1 / GANALYZE_DEBUG=1 in the environment) lets every
error through with its traceback.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from ganalyze.atomic import describe_os_error
from ganalyze.errors import GanalyzeError

F = TypeVar("F", bound=Callable[..., Any])

EXIT_USER_ERROR = 2
EXIT_BUG = 1
EXIT_INTERRUPTED = 130
DEBUG_FLAG = "--debug"
DEBUG_ENV = ("HYDRA_FULL_ERROR", "GANALYZE_DEBUG")
CPU_ALLOCATION_FAILURE = "can't allocate memory"  # torch's RuntimeError when the CPU allocator fails


def debug_requested() -> bool:
    """True when tracebacks were asked for (``--debug`` already seen, or HYDRA_FULL_ERROR / GANALYZE_DEBUG = 1)."""
    return any(os.environ.get(name) == "1" for name in DEBUG_ENV)


def take_debug_flag(args: list[str]) -> bool:
    """Remove ``--debug`` from ``args`` (in place); when it was there, switch tracebacks on for this process."""
    found = DEBUG_FLAG in args
    while DEBUG_FLAG in args:
        args.remove(DEBUG_FLAG)
    if found:
        for name in DEBUG_ENV:
            os.environ[name] = "1"
    return found


def is_out_of_memory(err: BaseException) -> bool:
    """Whether ``err`` says an allocation failed (Python's MemoryError, torch's CPU or CUDA out-of-memory error)."""
    import torch

    return isinstance(err, (MemoryError, torch.OutOfMemoryError)) or \
        (isinstance(err, RuntimeError) and CPU_ALLOCATION_FAILURE in str(err))


def describe_os_failure(err: OSError) -> str:
    """One paragraph on a failed file operation, naming the path and what to do."""
    return describe_os_error(err, err.filename or "a file") + "."


def describe(err: BaseException) -> tuple[str, int] | None:
    """(paragraph, exit code) for an expected failure, None for an unexpected one."""
    if isinstance(err, GanalyzeError):
        return str(err), EXIT_USER_ERROR
    if isinstance(err, OSError) and err.errno is not None:
        return describe_os_failure(err), EXIT_USER_ERROR
    if is_out_of_memory(err):
        first = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
        return (f"out of memory ({first}); lower the batch size or the number of samples, or use a machine with "
                "more memory.", EXIT_USER_ERROR)
    return None


def one_paragraph(text: str) -> str:
    """``text`` on one line: newlines and runs of spaces become single spaces."""
    return " ".join(str(text).split())


def reports_errors(prog: str) -> Callable[[F], F]:
    """Decorator: the command's expected failures become ``prog: error: <paragraph>`` and exit 2 (130 on Ctrl-C).

    ``--debug`` is taken out of sys.argv (and out of an ``argv`` list passed as the first argument) before the
    command parses its arguments.
    """

    def wrap(func: F) -> F:
        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> Any:
            take_debug_flag(sys.argv)
            if args and isinstance(args[0], list):
                take_debug_flag(args[0])
            try:
                return func(*args, **kwargs)
            except KeyboardInterrupt:
                if debug_requested():
                    raise
                print(f"{prog}: interrupted; files written so far are whole (each is replaced only when complete).",
                      file=sys.stderr)
                raise SystemExit(EXIT_INTERRUPTED) from None
            except Exception as err:  # noqa: BLE001 - the boundary: every error ends here
                if debug_requested():
                    raise
                known = describe(err)
                if known is not None:
                    print(f"{prog}: error: {one_paragraph(known[0])}", file=sys.stderr)
                    raise SystemExit(known[1]) from None
                print(f"{prog}: internal error: {type(err).__name__}: {one_paragraph(str(err))[:500]} (a bug in "
                      f"ganalyze, not in your input; rerun with {DEBUG_FLAG} for the traceback and report it).",
                      file=sys.stderr)
                raise SystemExit(EXIT_BUG) from None

        return run  # type: ignore[return-value]

    return wrap


def own_help(doc: str, config_name: str) -> str:
    """A command's --help: its docstring (what it does, example lines) and its own settings with their defaults
    and comments (its packaged config without the hydra block), not every config group of the package."""
    from importlib.resources import files

    text = files("ganalyze.conf").joinpath(f"{config_name}.yaml").read_text(encoding="utf-8")
    own = text.split("\nhydra:", 1)[0].rstrip()
    return (f"{doc.strip()}\n\nSettings (key=value on the command line), with their defaults "
            f"(conf/{config_name}.yaml):\n\n{own}\n\nHydra's own flags: --hydra-help; tracebacks: --debug.")


def hydra_command(prog: str, config_name: str, output_key: str) -> Callable[[Callable[[Any], Any]], Callable[..., Any]]:
    """``hydra.main`` on a packaged config, with the error boundary both inside (the task's errors, before Hydra's
    own handler prints a traceback) and outside (``--debug``, Ctrl-C while Hydra starts). ``output_key`` is the
    setting Hydra's run folder is made from: a value given on the command line is checked (not a file, writable)
    before Hydra creates that folder, which would otherwise fail with a traceback."""
    import hydra

    from ganalyze.typed_settings import output_folder

    def check_output(args: list[str]) -> None:
        for arg in args:
            key, sep, value = arg.partition("=")
            if sep and key.lstrip("+") == output_key:
                output_folder(output_key, value)

    def wrap(task: Callable[[Any], Any]) -> Callable[..., Any]:
        main = hydra.main(version_base="1.3", config_path="pkg://ganalyze.conf", config_name=config_name)
        inner = main(reports_errors(prog)(task))

        @functools.wraps(task)
        def run() -> Any:
            if {"-h", "--help"} & set(sys.argv[1:]):
                print(own_help(sys.modules[task.__module__].__doc__ or prog, config_name))
                return None
            check_output(sys.argv[1:])
            return inner()

        return reports_errors(prog)(run)

    return wrap
