"""Read state dicts saved with plain ``pickle.dump`` (the GANalyze release's ``*_state_dict.p``) without running code.

Pickling a tensor records two calls: ``torch.storage._load_from_bytes(bytes)``, whose bytes are a small
``torch.save`` file of the storage, and ``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)``.
The reference reads such files with ``pickle.load``, which would call anything a file names. Here the unpickler
admits only those two calls (and ``collections.OrderedDict``, and ``_codecs.encode(text, 'latin1')``, which
pickle protocols 0-2 use for bytes), reads the nested storage bytes with
``torch.load(weights_only=True)``, checks every argument, and refuses any other name before calling anything.
"""

from __future__ import annotations

import io
import pickle
from collections import OrderedDict
from typing import IO, Any, Callable

import torch

STORAGE_TYPES = (torch.UntypedStorage, torch.TypedStorage)


class RefusedPickle(pickle.UnpicklingError):
    """The pickle names something a dict of tensors does not need; nothing it names was called."""


def _load_storage(data: bytes | str) -> torch.TypedStorage | torch.UntypedStorage:
    """The storage in nested ``torch.save`` bytes, read with ``weights_only=True`` (latin1 text from Python 2 pickles)."""
    raw = data.encode("latin1") if isinstance(data, str) else data
    if not isinstance(raw, bytes):
        raise RefusedPickle(f"a storage must be rebuilt from bytes, got {type(data).__name__}")
    try:
        storage = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:  # weights_only refused a global, or the bytes are no torch.save file
        raise RefusedPickle(f"its nested storage bytes were refused by torch.load(weights_only=True) "
                            f"({str(err).splitlines()[0][:200]})") from err
    if not isinstance(storage, STORAGE_TYPES):
        raise RefusedPickle(f"nested storage bytes held a {type(storage).__name__}, not a tensor storage")
    return storage


def _checked_tensor_args(storage: Any, offset: Any, size: Any, stride: Any) -> None:
    """Refuse rebuild arguments that are not a storage, an int offset and int tuples of equal length."""
    def ints(value: Any) -> bool:
        return isinstance(value, tuple) and all(isinstance(v, int) for v in value)

    if not isinstance(storage, STORAGE_TYPES):
        raise RefusedPickle(f"a tensor must be rebuilt from a storage, got {type(storage).__name__}")
    if not (isinstance(offset, int) and ints(size) and ints(stride) and len(size) == len(stride)):
        raise RefusedPickle(f"bad tensor layout: offset {offset!r}, size {size!r}, stride {stride!r}")


def _rebuild_tensor_v2(storage: Any, offset: Any, size: Any, stride: Any, requires_grad: Any = False,
                       backward_hooks: Any = None, metadata: Any = None) -> torch.Tensor:
    """``torch._utils._rebuild_tensor_v2`` after checking its arguments; a tensor with hooks is refused."""
    _checked_tensor_args(storage, offset, size, stride)
    if backward_hooks:
        raise RefusedPickle("a tensor in the file carries backward hooks (code); a state dict has none")
    if metadata is not None and not isinstance(metadata, dict):
        raise RefusedPickle(f"tensor metadata must be a dict, got {type(metadata).__name__}")
    return torch._utils._rebuild_tensor_v2(storage, offset, size, stride, bool(requires_grad), OrderedDict(), metadata)


def _rebuild_tensor(storage: Any, offset: Any, size: Any, stride: Any) -> torch.Tensor:
    """The older (PyTorch 0.3) rebuild call, with the same checks."""
    return _rebuild_tensor_v2(storage, offset, size, stride)


def _latin1_bytes(text: Any, encoding: Any) -> bytes:
    """``_codecs.encode(text, 'latin1')``: how pickle protocols 0-2 write a ``bytes`` object; nothing else."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise RefusedPickle(f"_codecs.encode is admitted only to turn text into latin1 bytes, got {encoding!r}")
    return text.encode("latin1")


ALLOWED: dict[tuple[str, str], Callable[..., Any] | type] = {
    ("collections", "OrderedDict"): OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch.storage", "_load_from_bytes"): _load_storage,
    ("_codecs", "encode"): _latin1_bytes,
}


class StateDictUnpickler(pickle.Unpickler):
    """An unpickler whose only callables are those of ``ALLOWED``; persistent ids are refused as well."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return ALLOWED[(module, name)]
        except KeyError:
            raise RefusedPickle(f"it names {module}.{name}") from None

    def persistent_load(self, pid: Any) -> Any:
        raise RefusedPickle(f"it holds a persistent id {str(pid)[:80]!r} (a torch.save file, not a plain pickle)")


def load_plain_pickle(handle: IO[bytes]) -> Any:
    """The object in a plain pickle of tensors (latin1 for Python 2 text, as the reference reads it)."""
    return StateDictUnpickler(handle, encoding="latin1").load()
