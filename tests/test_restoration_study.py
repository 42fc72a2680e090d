"""experiments/restoration_study.py's ``flat`` and ``hours``: the long run's held-out curves over its last hours, its training hours."""

import importlib.util

import pytest
from conftest import ROOT

pytest.importorskip("tensorboard")
spec = importlib.util.spec_from_file_location("restoration_study", ROOT / "experiments" / "restoration_study.py")
study = importlib.util.module_from_spec(spec)
spec.loader.exec_module(study)


def test_the_trend_is_the_least_squares_slope_and_the_noise_one_validations_scatter():
    wiggle = [0.01 * (-1) ** i for i in range(20)]
    points = [(i / 2, 22.0 + 0.05 * i / 2 + w) for i, w in enumerate(wiggle)]  # +0.05 dB an hour
    slope, stderr, noise = study.trend(points)
    assert slope == pytest.approx(0.05, abs=2e-3)
    assert 0 < stderr < 0.01
    assert noise == pytest.approx(0.02 / 2 ** 0.5, rel=0.05)  # consecutive differences ±0.02 about the trend, over √2


def write_validations(folder, start_wall: float, steps: list[int], psnr: list[float], ssim: list[float]) -> None:
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(folder), filename_suffix=f".{start_wall:.0f}")
    for i, (step, p, s) in enumerate(zip(steps, psnr, ssim)):
        wall = start_wall + 1800 * i  # a validation every half hour
        for tag, value in (("val/pipeline_psnr", p), ("val/pipeline_ssim", s), ("val/pipeline_saturation", 0.2),
                           ("val/gt_saturation", 0.25)):
            writer.add_scalar(tag, value, step, walltime=wall)
    writer.close()


def test_flat_reads_the_last_hours_across_folders_and_names_each_curves_trend(tmp_path, capsys):
    early, late = tmp_path / "early", tmp_path / "late"
    # 4 h rising fast, then (after a pause between sessions) 6 h at a level with a little scatter
    write_validations(early, 1e6, list(range(0, 900, 100)), [21.0 + 0.2 * i for i in range(9)], [0.80] * 9)
    level = [22.6 + 0.01 * (-1) ** i for i in range(13)]
    write_validations(late, 2e6, list(range(900, 2200, 100)), level, [0.81 + 0.001 * i for i in range(13)])
    study.flat(5.0, (early, late))
    out = capsys.readouterr().out
    assert "the last 5 of 10.00 training hours (from hour 5.00)" in out
    psnr, ssim, saturation = (line for line in out.splitlines()[1:])
    assert psnr.startswith("pipeline_psnr: 11 validations, steps 1100-2100") and ": flat;" in psnr
    assert "best 22.6100 in the window, 22.6100 before it" in psnr
    assert ": rising;" in ssim
    assert saturation.startswith("saturation/GT:") and ": flat;" in saturation
    study.flat(20.0, (early, late))  # a window longer than the run: every validation, none before
    psnr = capsys.readouterr().out.splitlines()[1]
    assert psnr.startswith("pipeline_psnr: 22 validations") and ": rising;" in psnr and psnr.endswith("none before it")


def test_hours_sums_the_event_spans_of_the_folders_named(tmp_path, capsys, monkeypatch):
    early, late = tmp_path / "early", tmp_path / "late"
    write_validations(early, 1e6, [0, 100, 200], [21.0] * 3, [0.8] * 3)  # 1 h
    write_validations(late, 2e6, [300, 400, 500, 600], [21.0] * 4, [0.8] * 4)  # 1.5 h, a day later
    monkeypatch.setattr("sys.argv", ["restoration_study.py", "hours", "--runs", f"{early},{late}"])
    study.main()
    assert capsys.readouterr().out.splitlines()[-1] == "2.50 h in all"
