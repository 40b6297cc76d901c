"""The GANalyze release's weights as published: plain ``pickle.dump`` of a dict of tensors loads into MemNet and
AestheticsNet without re-saving, and a pickle that would run code is refused before anything runs."""

from __future__ import annotations

import io
import os
import pickle
import warnings
from collections import OrderedDict
from pathlib import Path

import pytest
import torch

from caffenet_reference import random_state
from test_aesthetics import PUBLISHED_SHAPES as AESTHETICS_SHAPES
from test_memnet import published_state_dict

from assessors import create_assessor
from assessors.weights import read_state_dict
from ganalyze.errors import WeightsError

torch.set_num_threads(1)


def dump_like_the_release(state: dict[str, torch.Tensor], path: Path, protocol: int = pickle.DEFAULT_PROTOCOL) -> Path:
    """Write ``state`` as the release did: the pickle module, no torch.save."""
    with path.open("wb") as handle:
        pickle.dump(state, handle, protocol=protocol)
    return path


@pytest.mark.parametrize("name, make_state", [
    ("memnet", published_state_dict),
    ("aestheticsnet", lambda: random_state(AESTHETICS_SHAPES, seed=1)),
])
def test_release_pickles_load_into_the_assessors(tmp_path, name, make_state):
    state = make_state()
    path = dump_like_the_release(OrderedDict(state), tmp_path / f"{name}_state_dict.p")
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns about the pickle protocol before refusing
        torch.load(path, weights_only=True)  # the file really is a plain pickle: torch's safe loader alone refuses it
    model = create_assessor(name, weights=str(path))
    path.unlink()  # 230-285 MB
    loaded = model.net.state_dict()
    assert set(loaded) == set(state) and all(torch.equal(loaded[k], v) for k, v in state.items())
    scores = model(torch.rand(2, 3, 64, 64))
    assert scores.shape == (2,) and torch.isfinite(scores).all()


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_every_pickle_protocol_reads_views_and_dtypes_exactly(tmp_path, protocol):
    base = torch.arange(12, dtype=torch.float64).view(3, 4)
    state = {"a.weight": base, "a.bias": base[1, 1:], "b.weight": torch.tensor([1, 2], dtype=torch.int64)}
    read = read_state_dict(dump_like_the_release(state, tmp_path / "w.p", protocol), "test", "a dict of tensors")
    assert all(torch.equal(read[k], v) and read[k].dtype == v.dtype for k, v in state.items())


class LatinStorage:
    """Pickles as a Python 2 pickle read with encoding='latin1' shows a storage: its bytes as latin1 text."""

    def __reduce__(self):
        buffer = io.BytesIO()
        torch.save(torch.arange(3.0)._typed_storage(), buffer, _use_new_zipfile_serialization=False)
        return torch.storage._load_from_bytes, (buffer.getvalue().decode("latin1"),)


def test_storage_bytes_read_as_latin1_text_still_load(tmp_path):
    state = {"w": (torch._utils._rebuild_tensor_v2, (LatinStorage(), 0, (3,), (1,), False, OrderedDict()))}

    class Tensor:
        def __reduce__(self):
            return state["w"]

    read = read_state_dict(dump_like_the_release({"w": Tensor()}, tmp_path / "py2.p", 2), "test", "tensors")
    assert torch.equal(read["w"], torch.arange(3.0))


class CreatesFile:
    """Unpickling this opens (creates) ``target``: a file written as an attacker would."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):
        return open, (str(self.target), "w")


class RunsShell:
    """Unpickling this runs a shell command that creates ``target``."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):
        return os.system, (f"touch {self.target}",)


class NestedShell:
    """A storage whose nested torch.save bytes would run a shell command when read without weights_only."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):
        buffer = io.BytesIO()
        torch.save(RunsShell(self.target), buffer, _use_new_zipfile_serialization=False)
        return torch.storage._load_from_bytes, (buffer.getvalue(),)


@pytest.mark.parametrize("payload, named", [(CreatesFile, "builtins.io.open|io.open|builtins.open"),
                                             (RunsShell, "posix.system|os.system"), (NestedShell, "weights_only")])
def test_a_pickle_that_would_run_code_is_refused_and_runs_nothing(tmp_path, payload, named):
    marker = tmp_path / "pwned"
    state = {"conv1.weight": torch.zeros(2), "conv1.bias": payload(marker)}
    path = dump_like_the_release(state, tmp_path / "memnet_state_dict.p")
    with pytest.raises(WeightsError, match="refused and nothing in it was run") as refused:
        create_assessor("memnet", weights=str(path))
    assert any(part in str(refused.value) for part in named.split("|")), str(refused.value)
    assert not marker.exists()
