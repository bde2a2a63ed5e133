"""The GPU benchmark runs end to end on the CPU with --tiny (the real sizes need a GPU)."""

from __future__ import annotations

import json

from trainer_fixtures import one_thread

from edgeclip_train import gpu_bench


def test_tiny_bench_reports_throughput_split_and_memory(tmp_path, capsys):
    with one_thread():
        res = gpu_bench.main(["--tiny", "--steps", "2", "--grad-accum", "2", "--json", str(tmp_path / "b.json")])
    out = capsys.readouterr().out
    assert "samples/s" in out and "forward" in out and "peak memory n/a (cpu)" in out
    assert res["samples_per_s"] > 0 and res["steps_timed"] == 2 and res["peak_mem_gib"] is None
    assert res["data_ms"] >= 0 and res["forward_ms"] > 0 and res["backward_ms"] > 0 and res["optimizer_ms"] > 0
    assert json.loads((tmp_path / "b.json").read_text())["batch_size"] == 8
