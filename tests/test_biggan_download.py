"""BigGAN by name: with no generator.weights, the published config.json and pytorch_model.bin are fetched once into
the cache, from a loopback HTTP server that serves them in pytorch-pretrained-biggan's layout
(<base>/biggan-deep-128-config.json, <base>/biggan-deep-128-pytorch_model.bin). The served model is a miniature
128 px BigGAN: BigGAN builds from the config it downloads, so a tiny config.json gives a fast run under the real name."""

from __future__ import annotations

import io
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch
from pytorch_pretrained_biggan import BigGANConfig

import ganalyze.download
import ganalyze.cli.train as train_cli
from ganalyze.errors import WeightsError
from ganalyze.generators import create_generator
from ganalyze.generators.biggan import CONFIG_FILE, WEIGHTS_FILE, build_random_biggan

# A 128 px BigGAN-deep a few thousand parameters big: five upsampling blocks from 4x4, four channels per unit.
TINY_128 = {"output_dim": 128, "z_dim": 16, "class_embed_dim": 16, "channel_width": 4, "num_classes": 10,
            "layers": [[True, 16, 8], [True, 8, 4], [True, 4, 2], [True, 2, 1], [True, 1, 1]],
            "attention_layer_position": 2, "eps": 1e-4, "n_stats": 51}


class BigGANServer(ThreadingHTTPServer):
    """Serves ``files`` by path, records every request; paths in ``truncate`` send half their bytes, then close."""

    def __init__(self, files: dict[str, bytes]) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.files, self.requests, self.truncate = files, [], set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/biggan"


class Handler(BaseHTTPRequestHandler):
    server: BigGANServer

    def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
        self.server.requests.append(self.path)
        body = self.server.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2] if self.path in self.server.truncate else body)
        self.close_connection = True

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def tiny_files() -> dict[str, bytes]:
    """The two published files of 'biggan-deep-128', for the miniature network (its own random weights)."""
    model = build_random_biggan(BigGANConfig.from_dict(TINY_128), seed=0, power_iterations=5)
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return {"/biggan/biggan-deep-128-config.json": BigGANConfig.from_dict(TINY_128).to_json_string().encode(),
            "/biggan/biggan-deep-128-pytorch_model.bin": buffer.getvalue()}


@pytest.fixture
def server(tiny_files, tmp_path, monkeypatch):
    """A loopback server in a thread, the URL base pointed at it, downloads on, an empty cache in tmp_path."""
    httpd = BigGANServer(dict(tiny_files))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("GANALYZE_BIGGAN_URL", httpd.url)
    monkeypatch.setenv("GANALYZE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    for switch in ganalyze.download.OFFLINE_SWITCHES:
        monkeypatch.delenv(switch, raising=False)
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def cached(tmp_path: Path) -> Path:
    return tmp_path / "cache" / "biggan" / "biggan-deep-128"


def train(run_dir: Path, monkeypatch, capsys) -> tuple[int, str]:
    """ganalyze-train generator=biggan_deep_128 (no weights given), short and small, in-process."""
    monkeypatch.setattr(sys, "argv", ["ganalyze-train", "generator=biggan_deep_128", "assessor=brightness",
                                      "logger=none", "train.steps=2", "train.batch_size=2", "eval.enabled=false",
                                      f"run_dir={run_dir}"])
    try:
        train_cli.main()
        code = 0
    except SystemExit as exit_:
        code = exit_.code
    return code, capsys.readouterr().err


def test_train_by_name_downloads_caches_and_trains_then_reuses_the_cache(server, tmp_path, monkeypatch, capsys):
    code, err = train(tmp_path / "first", monkeypatch, capsys)
    assert code == 0, err[-2000:]
    assert sorted(server.requests) == sorted(server.files)  # each published file fetched once
    assert (cached(tmp_path) / WEIGHTS_FILE).read_bytes() == server.files["/biggan/biggan-deep-128-pytorch_model.bin"]
    assert (tmp_path / "first" / "transformer" / "model.pt").is_file()
    assert "downloading pytorch_model.bin" in err  # the progress bar

    code, err = train(tmp_path / "second", monkeypatch, capsys)
    assert code == 0, err[-2000:]
    assert len(server.requests) == 2  # the second run read the cache
    assert (tmp_path / "second" / "transformer" / "model.pt").is_file()


def test_an_interrupted_download_is_not_taken_for_a_complete_file(server, tmp_path):
    server.truncate.add("/biggan/biggan-deep-128-pytorch_model.bin")
    with pytest.raises(WeightsError, match=r"pytorch_model.bin could not be fetched.*Nothing incomplete was kept"):
        create_generator("biggan_deep_128")
    assert sorted(p.name for p in cached(tmp_path).iterdir()) == [CONFIG_FILE]  # no partial or temporary file
    server.truncate.clear()
    generator = create_generator("biggan_deep_128")  # the next try fetches what is missing, whole
    assert server.requests.count("/biggan/biggan-deep-128-pytorch_model.bin") == 2
    assert server.requests.count("/biggan/biggan-deep-128-config.json") == 1
    assert generator.resolution == 128 and generator(*generator.sample_latents(1, seed=0)).shape == (1, 3, 128, 128)


@pytest.mark.parametrize("switch", ganalyze.download.OFFLINE_SWITCHES)
def test_offline_switch_skips_the_attempt_and_says_where_to_put_the_files(server, tmp_path, monkeypatch, switch):
    monkeypatch.setenv(switch, "1")
    with pytest.raises(WeightsError) as refused:
        create_generator("biggan_deep_128")
    message = str(refused.value)
    assert "downloads are switched off" in message and server.requests == []
    assert f"{server.url}/biggan-deep-128-pytorch_model.bin" in message
    assert str(cached(tmp_path) / WEIGHTS_FILE) in message and "generator.weights=" in message


def test_offline_with_a_filled_cache_uses_it(server, tmp_path, monkeypatch):
    create_generator("biggan_deep_128")
    monkeypatch.setenv("GANALYZE_OFFLINE", "1")
    assert create_generator("biggan_deep_128").resolution == 128 and len(server.requests) == 2


def test_an_unreachable_or_silent_server_fails_fast_with_the_paragraph(server, monkeypatch):
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setenv("GANALYZE_BIGGAN_URL", f"http://127.0.0.1:{port}")
    with pytest.raises(WeightsError, match=r"could not be fetched \(ConnectionError.*download .* by hand"):
        create_generator("biggan_deep_128")

    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        monkeypatch.setenv("GANALYZE_BIGGAN_URL", f"http://127.0.0.1:{silent.getsockname()[1]}")
        monkeypatch.setattr(ganalyze.download, "READ_TIMEOUT_S", 0.5)
        start = time.perf_counter()
        with pytest.raises(WeightsError, match=r"no answer within 5 s to connect / 0.5 s to read"):
            create_generator("biggan_deep_128")
        assert time.perf_counter() - start < 5
