"""``kind enhance --ratio 1,3,auto`` (a sweep: one output per ratio, named by it), ``--json``'s
record of each output's ratio, and ``--pipeline lol``. Random weights, tiny images."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kind.api import KinD
from kind.cli import main
from kind.enhance import plan_jobs, ratio_job, ratio_tag

H, W = 24, 32


def _photo(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(10, 70, (H, W, 3), dtype=np.uint8)


def _save(path: Path, pixels: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return path


def _enhance(*args: str) -> int:
    return main(["enhance", *args, "--quiet"])


def test_ratio_tags():
    assert [ratio_tag(r) for r in (2.5, 5.0, 1, "auto", 0.125)] == ["2.5", "5", "1", "auto", "0.125"]


def test_a_sweep_writes_one_output_per_ratio_each_as_a_single_run(tmp_path, weights_dir):
    image = _save(tmp_path / "in" / "x.png", _photo())
    weights = ["--weights", str(weights_dir), "--device", "cpu"]
    assert _enhance(str(image), "-o", str(tmp_path / "sweep"), "--ratio", "1,3,auto", "--save-maps",
                    "--json", str(tmp_path / "sweep.json"), *weights) == 0
    names = sorted(path.name for path in (tmp_path / "sweep").iterdir())
    assert names == sorted(f"x_r{tag}{suffix}.png" for tag in ("1", "3", "auto")
                           for suffix in ("", "_R", "_L", "_R_restored", "_L_adjusted"))
    for ratio, tag in (("1", "1"), ("3", "3"), ("auto", "auto")):
        single = tmp_path / f"single-{tag}"
        assert _enhance(str(image), "-o", str(single), "--ratio", ratio, *weights) == 0
        assert (tmp_path / "sweep" / f"x_r{tag}.png").read_bytes() == (single / "x.png").read_bytes()
    record = json.loads((tmp_path / "sweep.json").read_text())
    files = {Path(item["output"]).name: item for item in record["files"]}
    assert set(files) == {"x_r1.png", "x_r3.png", "x_rauto.png"}
    assert files["x_r3.png"]["ratio"] == 3.0 and files["x_r3.png"]["requested"] == 3.0
    auto = KinD.from_pretrained(weights_dir, device="cpu").enhance_samples(_photo(), "auto").ratio
    assert files["x_rauto.png"]["ratio"] == auto and files["x_rauto.png"]["requested"] == "auto"
    assert files["x_r1.png"]["input"] == str(image)


def test_json_records_the_ratio_of_a_single_run(tmp_path, weights_dir):
    images = [_save(tmp_path / "in" / f"{i}.png", _photo(i)) for i in range(2)]
    assert _enhance(str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--ratio", "auto", "--json",
                    str(tmp_path / "s.json"), "--weights", str(weights_dir), "--device", "cpu") == 0
    files = json.loads((tmp_path / "s.json").read_text())["files"]
    model = KinD.from_pretrained(weights_dir, device="cpu")
    expected = {str(path): model.enhance_samples(_photo(i), "auto").ratio for i, path in enumerate(images)}
    assert {item["input"]: item["ratio"] for item in files} == expected
    assert len(set(expected.values())) == 2  # each image its own


def test_a_sweep_is_checked_whole_before_any_write(tmp_path):
    """The renamed outputs are checked like any other: one would overwrite an input."""
    _save(tmp_path / "in" / "x.png", _photo())
    _save(tmp_path / "in" / "x_r2.png", _photo(1))
    with pytest.raises(ValueError, match="overwrite the input"):
        plan_jobs([str(tmp_path / "in" / "x.png"), str(tmp_path / "in" / "x_r2.png")], tmp_path / "in", ratios=[2.0])
    job = plan_jobs([str(tmp_path / "in" / "x.png")], tmp_path / "out", compare=True).jobs[0]
    assert ratio_job(job, 0.5).compare.name == "x_r0.5_compare.png"
    with pytest.raises(ValueError, match="ratio"):
        ratio_job(job, "bright")


def test_bad_sweep_values_are_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["enhance", str(tmp_path), "-o", str(tmp_path / "out"), "--ratio", "1,x"])
    assert exit_info.value.code == 2 and "argument --ratio" in capsys.readouterr().err


def test_the_lol_pipeline_option(tmp_path, weights_dir):
    image = _save(tmp_path / "in" / "x.png", _photo())
    assert _enhance(str(image), "-o", str(tmp_path / "out"), "--ratio", "2", "--pipeline", "lol",
                    "--weights", str(weights_dir), "--device", "cpu") == 0
    model = KinD.from_pretrained(weights_dir, device="cpu")
    with Image.open(tmp_path / "out" / "x.png") as written:
        np.testing.assert_array_equal(np.asarray(written), model(_photo(), 2.0, pipeline="lol"))


@pytest.mark.parametrize("tile", [None, 32])
def test_a_sweep_decomposes_and_restores_each_image_once_with_the_bytes_of_single_runs(tmp_path, weights_dir, tile):
    """Three ratios cost the networks' calls of one run at 'auto' (the decomposition and restoration
    of each tile once), and write the bytes of three single runs: outputs, maps and panels."""
    from kind.enhance import enhance_jobs
    from kind.inference.runner import load_runner

    for i in range(2):
        _save(tmp_path / "in" / f"{i}.png", np.random.default_rng(i).integers(10, 70, (64, 96, 3), dtype=np.uint8))
    runner = load_runner(weights_dir, device="cpu")
    calls = {"decompose": 0, "restore_reflectance": 0}
    for name in calls:
        def counted(*args, _original=getattr(runner, name), _name=name, **kwargs):
            calls[_name] += 1
            return _original(*args, **kwargs)

        setattr(runner, name, counted)
    ratios = [1.0, 3.0, "auto"]
    plan = plan_jobs([str(tmp_path / "in")], tmp_path / "sweep", save_maps=True, compare=True, ratios=ratios)
    summary = enhance_jobs(plan, KinD(runner, tile=tile), progress=False)
    assert summary.done == 6 and not summary.failed
    swept = dict(calls)
    for ratio in reversed(ratios):
        calls.update(decompose=0, restore_reflectance=0)
        single = plan_jobs([str(tmp_path / "in")], tmp_path / f"single-{ratio}", save_maps=True, compare=True)
        assert enhance_jobs(single, KinD(runner, tile=tile), ratio, progress=False).done == 2
        for path in sorted((tmp_path / f"single-{ratio}").iterdir()):
            stem, _, rest = path.stem.partition("_")
            name = f"{stem}_r{ratio_tag(ratio)}{'_' + rest if rest else ''}.png"
            assert (tmp_path / "sweep" / name).read_bytes() == path.read_bytes(), name
        if ratio == "auto":
            assert swept == calls  # the sweep: the calls of one run at 'auto'
    assert calls["decompose"] == calls["restore_reflectance"] == 2 * (1 if tile is None else 15)


@pytest.mark.parametrize("given,tags", [("3,3.0", ["3"]), ("auto,AUTO", ["auto"]), ("1,Auto,1.0,auto", ["1", "auto"])])
def test_a_sweep_writes_each_ratio_once(tmp_path, weights_dir, given, tags, capsys):
    image = _save(tmp_path / "in" / "x.png", _photo())
    assert _enhance(str(image), "-o", str(tmp_path / "out"), "--ratio", given, "--json", str(tmp_path / "s.json"),
                    "--weights", str(weights_dir), "--device", "cpu") == 0
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == sorted(f"x_r{tag}.png" for tag in tags)
    record = json.loads((tmp_path / "s.json").read_text())
    assert record["done"] == len(tags) and len(record["files"]) == len(tags)
    assert "is given 2 times: its outputs are written once" in capsys.readouterr().out


@pytest.mark.parametrize("text", ["AUTO", "Auto", " auto "])
def test_auto_is_accepted_in_any_case(tmp_path, weights_dir, text):
    image = _save(tmp_path / "in" / "x.png", _photo())
    assert _enhance(str(image), "-o", str(tmp_path / "out"), "--ratio", text, "--json", str(tmp_path / "s.json"),
                    "--weights", str(weights_dir), "--device", "cpu") == 0
    assert json.loads((tmp_path / "s.json").read_text())["files"][0]["requested"] == "auto"


def test_the_shared_ratio_rule():
    from kind.constants import parse_ratio

    assert [parse_ratio(v) for v in ("AUTO", "auto", " Auto", "2.5", 3, 0)] == ["auto", "auto", "auto", 2.5, 3.0, 0.0]
    for bad in ("bright", "-1", "nan", True, None, "1e309"):
        with pytest.raises(ValueError, match="expected a number"):
            parse_ratio(bad)


def test_clash_notices_name_the_files_a_sweep_writes(tmp_path):
    _save(tmp_path / "a" / "ok.jpg", _photo())
    _save(tmp_path / "b" / "ok.png", _photo(1))
    plan = plan_jobs([str(tmp_path / "a" / "ok.jpg"), str(tmp_path / "b" / "ok.png")], tmp_path / "out",
                     ratios=[1.0, 3.0])
    notice = next(n for n in plan.notices if "keep their suffix" in n)
    assert "ok.jpg_r1.png, ok.jpg_r3.png" in notice and "→ ok.jpg.png" not in notice
    assert {job.output.name for job in plan.jobs} == {"ok.jpg_r1.png", "ok.jpg_r3.png", "ok.png_r1.png", "ok.png_r3.png"}


def test_a_sweep_spares_the_files_it_would_replace_beside_its_inputs(tmp_path):
    own = tmp_path / "own"
    _save(own / "a.jpg", _photo())
    (own / "a_r3.png").write_bytes(b"someone else's")
    plan = plan_jobs([str(own / "a.jpg")], own, ratios=[1.0, 3.0])
    assert {job.output.name for job in plan.jobs} == {"a.jpg_r1.png", "a.jpg_r3.png"}
    assert any("a_r3.png exists beside the inputs and is kept" in n and "a.jpg_r1.png, a.jpg_r3.png" in n
               for n in plan.notices)


def test_an_output_name_too_long_for_the_file_system_fails_with_the_reason(tmp_path, weights_dir):
    """A 252-byte input name fits; its sweep names (``_r2.5``) would not: those jobs fail, saying so."""
    from kind.enhance import enhance_jobs

    name = "n" * 248 + ".png"
    _save(tmp_path / "in" / name, _photo())
    plan = plan_jobs([str(tmp_path / "in")], tmp_path / "out", ratios=[2.5])
    summary = enhance_jobs(plan, KinD.from_pretrained(weights_dir, device="cpu"), progress=False)
    assert summary.done == 0 and "would be 257 bytes, over the file system's 255" in summary.failed[0][1]
    plan = plan_jobs([str(tmp_path / "in")], tmp_path / "single")
    assert enhance_jobs(plan, KinD.from_pretrained(weights_dir, device="cpu"), progress=False).done == 1


def test_a_sweep_of_tiled_and_untiled_photos_reads_and_decomposes_each_once(tmp_path, weights_dir, monkeypatch):
    """Auto tiling, one photo tiled and one not, in one batch: each file is decoded once, the DecomNet
    never gets the same input twice, and a sweep costs the decompositions of one run at 'auto' (with
    'auto' in it) or at a number (without: no thumbnail decomposed for an 'auto' not asked for)."""
    import hashlib

    import kind.enhance as enhance_module
    from kind.enhance import enhance_jobs
    from kind.inference.runner import load_runner

    rng = np.random.default_rng(0)
    _save(tmp_path / "in" / "small.png", rng.integers(10, 70, (24, 32, 3), dtype=np.uint8))
    _save(tmp_path / "in" / "wide.png", rng.integers(10, 70, (40, 640, 3), dtype=np.uint8))
    reads, decomposed = [], []
    read_image = enhance_module.read_image
    monkeypatch.setattr(enhance_module, "read_image", lambda path, *args: reads.append(path.name) or read_image(path, *args))
    runner = load_runner(weights_dir, device="cpu")
    decompose = runner.decompose

    def counted(x):
        decomposed.append((tuple(x.shape), hashlib.sha256(x.numpy().tobytes()).hexdigest()))
        return decompose(x)

    runner.decompose = counted
    model = KinD(runner, auto_tile_pixels=24 * 32)  # small.png is not tiled, wide.png is

    def run(ratios: list) -> int:
        reads.clear()
        decomposed.clear()
        plan = plan_jobs([str(tmp_path / "in")], tmp_path / ",".join(map(str, ratios)), ratios=ratios)
        assert enhance_jobs(plan, model, progress=False).done == 2 * len(ratios)
        assert sorted(reads) == ["small.png", "wide.png"]
        assert len(decomposed) == len(set(decomposed))
        return len(decomposed)

    assert run([1.0, 3.0, "auto"]) == run(["auto"]) == 1 + 2  # small.png; wide.png's thumbnail and tile
    assert run([1.0, 3.0]) == run([3.0]) == 1 + 1
