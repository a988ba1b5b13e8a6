"""`make demo` prints each protocol's wall and CPU time and the total."""

from __future__ import annotations

from pathlib import Path

import biocl_cli.demo as demo


def test_demo_prints_wall_and_cpu_time_per_protocol(monkeypatch, tmp_path, capsys):
    def fake_run(protocol, out):
        sum(i * i for i in range(200_000))  # some CPU time to measure
        return Path(out), {"primary_endpoint": {"metric": "top10", "value": 0.5, "passed": True}}

    monkeypatch.setattr(demo, "run_protocol", fake_run)
    monkeypatch.setattr(demo, "load_protocol", lambda path: path)
    assert demo.main(["--out", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    for name in demo.QUICK_PROTOCOLS:
        assert any(line.startswith(f"{name}: ") and "s wall" in line and "s CPU" in line for line in lines)
    assert any(line.strip().startswith("total") and "min)" in line for line in lines)


def test_cpu_seconds_grows_with_work():
    before = demo.cpu_seconds()
    sum(i * i for i in range(300_000))
    assert demo.cpu_seconds() > before
