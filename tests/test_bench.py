"""The benchmark harness runs on a tiny world and writes a well-formed report (no timing assertions)."""

from __future__ import annotations

import json
import math

import pytest
import torch

from assessors.caffenet import ten_crop
from ganalyze.bench import fast_settings, job_rows, main, variants_for
from ganalyze.reference_step import ten_crop_loop


def exit_code(argv: list[str]) -> int:
    """The exit status ganalyze-bench ends with for ``argv`` (a refused command raises SystemExit)."""
    try:
        return main(argv)
    except SystemExit as exit_:
        return exit_.code


def test_bench_on_the_tiny_world_writes_a_complete_report(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["--worlds", "tiny", "--devices", "cpu", "--batches", "8", "--steps", "1",
                 "--matmul-size", "128", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    rows = report["results"]
    assert [(r["step"], r["batch"]) for r in rows] == [("reference", 4), ("ours", 4), ("ours", 8)]
    for r in rows:
        assert r["world"] == "tiny" and r["device"] == "cpu" and len(r["step_seconds"]) == 1
        for key in ("samples_per_s", "flops_per_step", "flops_per_s", "matmul_flops_per_s", "utilisation",
                    "bytes_per_step", "memory_bytes_per_s", "roofline_seconds", "roofline_fraction"):
            assert math.isfinite(r[key]) and r[key] > 0, key
        assert r["peak_bytes"] >= 0 and r["speedup_vs_reference"] > 0
        kinds = r["roofline_kinds"]
        assert sum(k["flops"] for k in kinds.values()) == r["flops_per_step"] == kinds["matmul"]["flops"]
        assert sum(k["bound_seconds"] for k in kinds.values()) == pytest.approx(r["roofline_seconds"])
    assert rows[0]["speedup_vs_reference"] == 1.0
    assert report["threads"] == 1 and report["machine"] and report["memory_bytes_per_s"]["cpu"]["cpu"] > 0
    printed = capsys.readouterr().out
    assert "| tiny | cpu | reference | 4 |" in printed and printed.count("| tiny | cpu |") == 3 + len(kinds)
    assert "| tiny | cpu | matmul |" in printed and "% of roofline" in printed


def test_bench_rejects_unknown_worlds(tmp_path, capsys):
    assert exit_code(["--worlds", "nope", "--out", str(tmp_path / "b.json")]) == 2
    assert "nope" in capsys.readouterr().err


def test_reference_ten_crop_loop_holds_the_same_corners_as_the_batched_crop():
    images = torch.rand(2, 3, 9, 9)
    looped = ten_crop_loop(images.permute(0, 2, 3, 1), 5)  # (N, 10, 3, 5, 5), image-major
    batched = ten_crop(images, 5).view(10, 2, 3, 5, 5).transpose(0, 1)  # crop-major -> image-major
    # Corners and their mirrors agree (both orders are TL, TR, BL, BR); the reference's centre sits one
    # pixel further, at (9 - 5) // 2 + 1 = 3 instead of 2.
    for slot in (0, 1, 2, 3):
        torch.testing.assert_close(looped[:, slot], batched[:, slot])
        torch.testing.assert_close(looped[:, slot + 5], batched[:, slot + 5])
    torch.testing.assert_close(looped[:, 4], images[:, :, 3:8, 3:8])
    torch.testing.assert_close(looped[:, 9], images[:, :, 3:8, 3:8].flip(-1))


@pytest.mark.parametrize("bad", ["0", "x", "4,-8"])
def test_bench_rejects_bad_batches(tmp_path, capsys, bad):
    assert exit_code(["--worlds", "tiny", "--batches", bad, "--out", str(tmp_path / "b.json")]) == 2
    assert "--batches" in capsys.readouterr().err


def test_variants_time_the_reference_once_and_each_setting_at_each_of_our_batches():
    variants = variants_for([16], ablation=True, settings=[{"compile": True, "memory_budget": 1.0}])
    assert all(v not in variants[:i] for i, v in enumerate(variants)) and variants[0].step == "reference"
    unbudgeted = [(v.step, v.batch) for v in variants if v.fast.memory_budget == 1.0]
    assert unbudgeted == [("ours[compile=True,memory_budget=1.0]", 4), ("ours[compile=True,memory_budget=1.0]", 16)]
    assert [v.batch for v in variants if v.step == "ours"] == [4, 16]


def test_variant_settings_are_typed_like_the_fast_path():
    assert fast_settings("compile=true, memory_budget=0.3,alphas_per_latent=2") == {
        "compile": True, "memory_budget": 0.3, "alphas_per_latent": 2}


@pytest.mark.parametrize("bad", ["compile=yes", "speed=2", "memory_budget=0", "memory_budget=x", "", "compile"])
def test_bench_rejects_bad_variants(tmp_path, capsys, bad):
    assert exit_code(["--worlds", "tiny", "--variant", bad, "--out", str(tmp_path / "b.json")]) == 2
    assert "--variant" in capsys.readouterr().err


def test_bench_job_times_the_whole_tiny_job_both_ways_and_reports_shares(tmp_path, capsys):
    out = tmp_path / "job.json"
    assert main(["--job", "--jobs", "tiny", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    today, once = report["job_rows"]
    assert [(r["job"], r["evaluation"], r["runs"]) for r in (today, once)] == [("tiny", w, 1) for w in ("today", "once")]
    for row in (today, once):
        assert 0 < row["training_wall_s"] + row["evaluation_wall_s"] <= row["job_wall_s"] < row["process_wall_s"]
        assert 0 < row["evaluation_share_cpu"] < row["outside_training_share_cpu"] < 1
        assert row["evaluation_share_of_process_cpu"] < row["evaluation_share_cpu"]
    assert today["evaluation_speedup_wall"] == 1.0 and once["evaluation_speedup_wall"] > 0
    for row in (today, once):  # the networks' forward time inside the evaluation, and the rest
        parts = [row[f"evaluation_{p}_cpu_s"] for p in ("generator", "assessor", "rest")]
        assert min(parts[:2]) > 0 and sum(parts) == pytest.approx(row["evaluation_cpu_s"])
        assert row["evaluation_generator_cpu_s"] < row["evaluation_cpu_s"]
    assert report["cpu_capability"] and report["machine"]
    printed = capsys.readouterr().out
    assert "| tiny | today |" in printed and "| tiny | once |" in printed and "| generator s | assessor s |" in printed


def test_bench_job_rejects_unknown_jobs(tmp_path, capsys):
    assert exit_code(["--job", "--jobs", "nope", "--out", str(tmp_path / "b.json")]) == 2
    assert "nope" in capsys.readouterr().err


@pytest.mark.parametrize("bad", ["fast", "", "once,never"])
def test_bench_job_rejects_unknown_evaluation_ways(tmp_path, capsys, bad):
    assert exit_code(["--job", "--jobs", "tiny", "--evaluations", bad, "--out", str(tmp_path / "b.json")]) == 2
    assert "--evaluations" in capsys.readouterr().err


def test_bench_job_merges_reports_of_ways_run_apart(tmp_path, capsys):
    """--merge: the runs of two reports in one table, the second way compared with the first; bad files refused."""
    def report(way, evaluation, load):
        seconds = {phase: {"wall": value, "cpu": value}
                   for phase, value in (("training", 1.0), ("evaluation", evaluation), ("job", 10.0), ("process", 11.0))}
        return {"machine": "m", "cpu_capability": "AVX2", "torch": "t", "threads": 1, "repeats": 1,
                "load_average_start": [load, 0, 0], "load_average_end": [load, 0, 0],
                "measured": [{"job": "biggan", "evaluation": way, "seconds": seconds}]}
    paths = [tmp_path / "today.json", tmp_path / "once.json"]
    paths[0].write_text(json.dumps(report("today", 8.0, 2.0)))
    paths[1].write_text(json.dumps(report("once", 4.0, 5.0)))
    out = tmp_path / "merged.json"
    assert main(["--job", "--merge", *map(str, paths), "--out", str(out)]) == 0
    merged = json.loads(out.read_text())
    assert [r["evaluation"] for r in merged["job_rows"]] == ["today", "once"]
    assert merged["job_rows"][1]["evaluation_speedup_cpu"] == 2.0 and merged["load_average_start"][0] == 5.0
    assert merged["measured"][0]["load_average"] == [[2.0, 0, 0], [2.0, 0, 0]] and "| biggan | once |" in capsys.readouterr().out
    paths[1].write_text("{}")
    assert exit_code(["--job", "--merge", *map(str, paths), "--out", str(out)]) == 2
    assert "no measured runs" in capsys.readouterr().err


def test_job_rows_compare_every_way_with_the_first_measured():
    """Speed-ups over the first way given (here once), per job, medians of the repeats."""
    def run(way, evaluation, job=10.0):
        return {"job": "biggan", "evaluation": way, "seconds": {
            phase: {"wall": value, "cpu": value}
            for phase, value in (("training", 1.0), ("evaluation", evaluation), ("job", job), ("process", job + 1))}}
    rows = job_rows([run("once", 8.0), run("compiled", 4.0, job=6.0), run("once", 6.0), run("compiled", 2.0, job=6.0)])
    assert [(r["evaluation"], r["runs"]) for r in rows] == [("once", 2), ("compiled", 2)]
    assert rows[0]["evaluation_wall_s"] == 7.0 and rows[1]["evaluation_speedup_cpu"] == 7.0 / 3.0
    assert rows[0]["job_speedup_wall"] == 1.0 and rows[1]["job_speedup_wall"] == 10.0 / 6.0
