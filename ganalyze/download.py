"""Fetch published files into the local cache: a short connect timeout, a progress bar, and atomic writes.

A file appears in the cache only complete: it is streamed into a temporary file beside its target
(``ganalyze.atomic``), its size is checked against the server's Content-Length, and only then is it renamed.
An interrupted or short transfer leaves nothing behind. ``GANALYZE_CACHE`` moves the cache (default
``$XDG_CACHE_HOME/ganalyze``, i.e. ``~/.cache/ganalyze``); ``GANALYZE_OFFLINE=1`` or ``HF_HUB_OFFLINE=1``
switch downloads off.
"""

from __future__ import annotations

import os
from pathlib import Path

import requests
from tqdm import tqdm

from ganalyze.atomic import atomic_open

CONNECT_TIMEOUT_S = 5.0  # an unreachable host fails fast instead of hanging
READ_TIMEOUT_S = 60.0  # a stalled transfer fails after this long without a byte
CHUNK_BYTES = 1 << 20
OFFLINE_SWITCHES = ("GANALYZE_OFFLINE", "HF_HUB_OFFLINE")


class DownloadFailed(Exception):
    """A file could not be fetched whole; the message says why (no partial file was kept)."""


def cache_dir() -> Path:
    """The folder downloads are cached in: ``$GANALYZE_CACHE``, else ``$XDG_CACHE_HOME/ganalyze`` (~/.cache/ganalyze)."""
    if os.environ.get("GANALYZE_CACHE"):
        return Path(os.environ["GANALYZE_CACHE"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "ganalyze"


def offline() -> bool:
    """Whether downloads are switched off (``GANALYZE_OFFLINE`` or ``HF_HUB_OFFLINE`` set to 1/true/yes/on)."""
    return any(os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on") for name in OFFLINE_SWITCHES)


def download(url: str, path: Path) -> Path:
    """Stream ``url`` into ``path`` atomically with a progress bar; DownloadFailed (nothing kept) on any failure."""
    try:
        response = requests.get(url, stream=True, timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S))
        response.raise_for_status()
    except requests.RequestException as err:
        raise DownloadFailed(describe(err)) from err
    with response:
        expected = int(response.headers["Content-Length"]) if "Content-Length" in response.headers else None
        with atomic_open(path, "wb") as handle, tqdm(total=expected, unit="B", unit_scale=True, unit_divisor=1024,
                                                      desc=f"downloading {path.name}") as bar:
            received = 0
            try:  # requests' errors are OSErrors: turned into DownloadFailed here, not into atomic_open's OutputError
                for chunk in response.iter_content(CHUNK_BYTES):
                    handle.write(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
            except requests.RequestException as err:
                raise DownloadFailed(describe(err)) from err
            if expected is not None and received != expected:
                raise DownloadFailed(f"the transfer ended after {received} of {expected} bytes")
    return path


def describe(err: requests.RequestException) -> str:
    """Why a request failed, in a few words (timeouts say which limit was hit)."""
    if isinstance(err, requests.Timeout):
        return (f"no answer within {CONNECT_TIMEOUT_S:g} s to connect / {READ_TIMEOUT_S:g} s to read "
                f"({type(err).__name__})")
    return f"{type(err).__name__}: {str(err)[:300]}"
