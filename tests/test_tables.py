"""Tests of kind.evaluation.tables (``kind table``): the LOL table and the no-reference sets' tables."""

from __future__ import annotations

import json
import math

import pytest

from kind.cli import main
from kind.evaluation.tables import REPORTED, lol_rows, lol_table, noref_rows, noref_table, protocol_label


def _result(protocol: str, label: str, psnr_value: float, ratio: float | None = None, **extra) -> dict:
    return {
        "mode": "paired",
        "protocol": protocol,
        "gt_mean": False,
        "ratio_rule": f"rule of {protocol}",
        "ratio": ratio,
        "weights": f"/w/{label}",
        "weights_label": label,
        "data": "/data/lol/eval15",
        "device": "CPU, 2 threads (fp32)",
        "count": 15,
        "loe_variant": "npe",
        "niqe_channel": "gray",
        "niqe_params": "live",
        "mean": {"psnr": psnr_value, "ssim": 0.81234, "psnr_y": 22.0, "ssim_y": 0.83, "loe": 250.04,
                 "niqe": 4.56789, "saturation": 0.14712, "gt_saturation": 0.3209, "seconds": 0.0426},
        "per_image": {},
        **extra,
    }


def _photos(protocol: str, label: str, dataset: str, niqe: float, count: int, **extra) -> dict:
    return {**_result(protocol, label, 0.0, ratio=5.0 if protocol == "fixed" else None, **extra),
            "mode": "photos", "data": f"/x/{dataset}", "count": count, "mean": {"niqe": niqe, "loe": 123.45, "seconds": 0.5}}


def test_lol_rows_and_labels():
    results = [_result("fixed", "authors", 18.25, ratio=5.0), _result("official", "ours", 22.0, gt_mean=True,
               gt_mean_rule="rescaled"), _result("official", "ours", 20.5), _result("input", "—", 7.7)]
    table = lol_table(results, ["authors-fixed.json", "ours-gtmean.json", "ours-official.json", "input.json"])
    lines = table.splitlines()
    assert lines[0] == ("| weights | protocol | data | PSNR | SSIM | PSNR-Y | SSIM-Y | LOE (npe) | NIQE (gray, live) "
                        "| sat. | GT sat. | s/img | device | source |")
    body = [line for line in lines[2:] if line.startswith("|")]
    assert len(body) == len(REPORTED) + 4 == 5
    # the paper's row: only PSNR and SSIM are confirmed; every other cell stays empty
    assert body[0] == "| KinD (authors) | official (paper) | LOL eval15 | 20.87 | 0.8022 | — | — | — | — | — | — | — " \
                      "| — | reported: KinD paper (ACM MM 2019) |"
    # inputs first, then the weights in order of appearance, each in protocol order, GT mean after
    assert body[1].startswith("| — (low input) | input | eval15 | 7.700 |")
    assert body[2].startswith("| authors | fixed 5 | eval15 | 18.250 |")
    assert body[3].startswith("| ours | official | eval15 | 20.500 |")
    assert body[4] == ("| ours | official + GT mean | eval15 | 22.000 | 0.8123 | 22.000 | 0.8300 | 250.0 | 4.568 | "
                       "0.147 | 0.321 | 0.043 | CPU, 2 threads (fp32) | measured: ours-gtmean.json |")
    assert "- **official**: rule of official" in table and "- **fixed 5**: rule of fixed" in table
    assert "- **+ GT mean**: rescaled" in table and "**official + GT mean**" not in table
    assert "- LOE (npe): NPE loe.m" in table and "- NIQE (gray, live): MATLAB niqe_release on rgb2gray" in table


def test_mixed_settings_are_labelled_per_cell():
    results = [_result("official", "a", 20.0), _result("official", "b", 20.0, loe_variant="bimef", niqe_channel="y")]
    table = lol_table(results)
    assert "| LOE | NIQE |" in table
    assert "| 250.0 (npe) | 4.568 (gray, live) |" in table and "| 250.0 (bimef) | 4.568 (y, live) |" in table
    assert "- LOE (bimef): BIMEF loe100x100.m" in table and "- NIQE (y, live): BasicSR calculate_niqe" in table


def test_lol_rows_json_ready_and_validated():
    rows = lol_rows([_result("auto", "ours", 19.0), _photos("auto", "ours", "DICM", 3.0, 64)])
    assert [row["status"] for row in rows] == ["reported", "measured"]  # photo results are not LOL rows
    assert rows[0]["psnr"] == 20.87 and rows[0]["loe"] is None and rows[0]["niqe"] is None
    assert rows[-1]["psnr"] == 19.0 and rows[-1]["weights"] == "ours" and rows[-1]["niqe"] == 4.56789
    json.dumps(rows)
    with pytest.raises(ValueError, match="bad.json: not a kind eval result"):
        lol_rows([{"mean": {}}], ["bad.json"])
    with pytest.raises(ValueError, match="list.json: not a kind eval result"):
        lol_rows([[1, 2]], ["list.json"])
    assert math.isinf(lol_rows([_result("official", "x", float("inf"))])[-1]["psnr"])
    assert "| a\\|b | official |" in lol_table([_result("official", "a|b", 20.0)])


def test_old_results_without_niqe_still_load():
    old = _result("official", "ours", 20.0)
    for key in ("mode", "gt_mean", "loe_variant", "niqe_channel", "niqe_params"):
        del old[key]
    del old["mean"]["niqe"]
    row = lol_rows([old])[-1]
    assert row["niqe"] is None and row["loe_variant"] == "npe" and row["protocol"] == "official"


def test_protocol_labels():
    assert protocol_label({"protocol": "fixed", "ratio": 2.5}) == "fixed 2.5"
    assert protocol_label({"protocol": "kindpp", "gt_mean": True}) == "kindpp + GT mean"


def test_noref_table():
    results = [
        _photos("fixed", "ours", "DICM", 3.5, 64), _photos("fixed", "ours", "LIME", 4.25, 9),
        _photos("auto", "ours", "LIME", 4.0, 9), _photos("input", "—", "VV", 2.75, 24),
        _photos("fixed", "ours", "Other", 5.0, 3), _result("official", "ours", 20.0),
    ]
    datasets, rows = noref_rows(results)
    assert datasets == ["LIME", "DICM", "VV", "Other"]  # the paper's order, then the rest
    assert [(r["weights"], r["protocol"]) for r in rows] == [("— (input)", "input"), ("ours", "fixed 5"), ("ours", "auto")]
    assert rows[1]["niqe"] == {"DICM": 3.5, "LIME": 4.25, "Other": 5.0} and rows[1]["count"]["DICM"] == 64
    table = noref_table(results)
    assert table.splitlines()[0] == "Mean NIQE (gray, live) (lower is better)"
    assert "| weights | protocol | LIME (9) | DICM (64) | VV (24) | Other (3) |" in table
    assert "| ours | fixed 5 | 4.250 | 3.500 | — | 5.000 |" in table and "| ours | auto | 4.000 | — | — | — |" in table
    assert "| — (input) | input | — | — | 2.750 | — |" in table.splitlines()[4]
    loe_table = noref_table(results, metric="loe")
    assert loe_table.startswith("Mean LOE (npe)") and "| ours | fixed 5 | 123.5 | 123.5 | — | 123.5 |" in loe_table


def test_cli_table_writes_files(tmp_path, capsys):
    runs = []
    results = [_result("official", "ours", 20.0), _result("input", "—", 7.77), _photos("auto", "ours", "LIME", 4.0, 9)]
    for index, result in enumerate(results):
        runs.append(tmp_path / f"{index}.json")
        runs[-1].write_text(json.dumps(result))
    md, js = tmp_path / "t.md", tmp_path / "t.json"
    assert main(["table", "--runs", *map(str, runs), "--out-md", str(md), "--out-json", str(js)]) == 0
    printed = capsys.readouterr().out
    assert md.read_text() == printed
    assert "### LOL" in printed and "### No-reference sets: NIQE" in printed and "### No-reference sets: LOE" in printed
    assert "| — (low input) | input |" in printed
    written = json.loads(js.read_text())
    assert len(written["lol"]) == len(REPORTED) + 2 and written["noref"]["datasets"] == ["LIME"]
    assert main(["table", "--runs", str(tmp_path / "missing.json")]) == 2


def test_results_sharing_a_label_are_all_kept_and_told_apart():
    runs = [_photos("fixed", "weights", "LIME", 4.0, 10), _photos("fixed", "weights", "LIME", 5.0, 10)]
    datasets, rows = noref_rows(runs, ["p1.json", "p2.json"])
    assert [(row["weights"], row["niqe"]["LIME"]) for row in rows] == [("weights (p1.json)", 4.0), ("weights (p2.json)", 5.0)]
    paired = [_result("official", "weights", 20.0), _result("official", "weights", 21.0)]
    measured = [row for row in lol_rows(paired, ["r.json", "r.json"]) if row["status"] == "measured"]
    assert [(row["weights"], row["psnr"]) for row in measured] == [("weights (r.json #1)", 20.0),
                                                                  ("weights (r.json #2)", 21.0)]


def test_a_pipeline_weights_folder_is_labelled_by_its_run():
    from kind.evaluation.evaluate import weights_label

    assert weights_label("/runs/P1/weights") == "P1/weights"
    assert weights_label("/w/v0.1") == "v0.1"


def test_table_takes_score_results_and_writes_latex(tmp_path, capsys):
    import numpy as np
    from PIL import Image

    for folder, value in (("lol/high", 120), ("other_method", 110)):
        (tmp_path / folder).mkdir(parents=True)
        for stem in ("1", "2"):
            Image.fromarray(np.full((16, 16, 3), value, np.uint8)).save(tmp_path / folder / f"{stem}.png")
    score = tmp_path / "score.json"
    assert main(["score", "--pred", str(tmp_path / "other_method"), "--gt", str(tmp_path / "lol" / "high"),
                 "--json", str(score), "--quiet"]) == 0
    ours = tmp_path / "ours.json"
    ours.write_text(json.dumps(_result("official", "ours", 21.0)))
    tex = tmp_path / "t.tex"
    assert main(["table", "--runs", str(ours), str(score), "--out-tex", str(tex)]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("| other_method |"))
    assert "| score | lol | 28.131 |" in row  # PSNR of 110 against 120: 20·log10(255 / 10)
    latex = tex.read_text()
    assert latex.count(r"\begin{tabular}") == 1 and r"other\_method & score & lol" in latex
    assert "\\toprule" in latex and "% ### LOL" in latex
