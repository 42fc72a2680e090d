"""The results tables of ``kind table``, built from ``kind eval --json`` result files.

Two tables, in markdown and as JSON rows:

* **LOL** (paired results): weights, protocol, data, PSNR, SSIM, PSNR-Y, SSIM-Y, LOE, NIQE, colour
  saturation of the outputs and of the ground truths, seconds per image, device, source — with the KinD paper's reported numbers beside (only the confirmed
  ones: PSNR 20.87 and SSIM 0.8022 under its own protocol; its other cells stay empty);
* **no-reference sets** (photo results): mean NIQE, then mean LOE, per weights and protocol (rows)
  and data set (columns: LIME, DICM, VV, MEF, NPE, then any other).

Every table says how its LOE and NIQE were computed (variant, plane, parameters) and which rule
each protocol follows. Pure functions of the results (no files, no clock) but :func:`write_table`;
no torch, so ``kind table`` starts fast.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kind.constants import PROTOCOLS
from kind.evaluation.formatting import DIGITS, format_number
from kind.evaluation.latex import markdown_tables_to_latex
from kind.io.atomic import atomic_write_json, atomic_write_text

__all__ = [
    "REPORTED",
    "LoadedResults",
    "OtherResultError",
    "lol_rows",
    "lol_table",
    "distinct_labels",
    "from_score",
    "is_diagnose_result",
    "is_score_result",
    "load_results",
    "read_result",
    "noref_rows",
    "noref_table",
    "protocol_label",
    "write_table",
]

METRICS_NOTE = (
    "PSNR/SSIM: BasicSR (= MATLAB) definitions on uint8, no border crop, against the ground-truth file as read; "
    "*-Y on the BT.601 Y channel; LOE: low input vs output; sat.: mean HSV saturation (Pillow) of the outputs, "
    "GT sat. of the ground truths (washed-out colours: below it); s/img: median seconds per image, pipeline only"
)
LOE_NOTE = {"npe": "NPE loe.m (short side resized to 50 px)", "bimef": "BIMEF loe100x100.m (100×100 samples)"}
NIQE_NOTE = {"gray": "MATLAB niqe_release on rgb2gray", "y": "BasicSR calculate_niqe on the Y channel"}
NIQE_PARAMS_NOTE = {"live": "LIVE pristine parameters", "kindpp": "KinD++'s retrained parameters"}
NOREF_ORDER = ("LIME", "DICM", "VV", "MEF", "NPE")  # the KinD paper's no-reference sets, in its order

# The KinD paper's LOL numbers (spec section 8), as printed. Only PSNR and SSIM are confirmed; the
# other cells stay empty rather than guessed.
REPORTED: tuple[dict, ...] = (
    {"weights": "KinD (authors)", "protocol": "official (paper)", "data": "LOL eval15",
     "psnr": "20.87", "ssim": "0.8022", "source": "KinD paper (ACM MM 2019)"},
)
LOL_COLUMNS = ("weights", "protocol", "data", "PSNR", "SSIM", "PSNR-Y", "SSIM-Y", "LOE", "NIQE", "sat.", "GT sat.",
               "s/img", "device", "source")
LOL_KEYS = ("weights", "protocol", "data", "psnr", "ssim", "psnr_y", "ssim_y", "loe", "niqe", "saturation",
            "gt_saturation", "seconds", "device", "source")
REQUIRED_KEYS = ("protocol", "ratio_rule", "data", "mean")


def _markdown(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return lines


def protocol_label(result: dict, with_gt_mean: bool = True) -> str:
    """``fixed 5`` for the fixed protocol (its ratio shown), else the protocol's name; ``+ GT mean``
    when the outputs were rescaled to the ground truth's mean (and ``with_gt_mean``)."""
    label = result["protocol"]
    if label == "fixed" and result.get("ratio") is not None:
        label = f"fixed {result['ratio']:g}"
    return label + (" + GT mean" if with_gt_mean and result.get("gt_mean") else "")


def _ordered(named: Sequence[tuple[str, dict]]) -> list[tuple[str, dict]]:
    """The inputs first, then by weights (in order of first appearance), protocol, GT mean last."""
    weights = list(dict.fromkeys(_weights_label(r) for _, r in named))

    def key(item: tuple[str, dict]) -> tuple:
        result = item[1]
        protocol = result["protocol"]
        order = PROTOCOLS.index(protocol) if protocol in PROTOCOLS else len(PROTOCOLS)  # rows of one weight set
        return (protocol != "input", weights.index(_weights_label(result)), order, bool(result.get("gt_mean")))

    return sorted(named, key=key)


def _rule_notes(results: Sequence[dict]) -> list[str]:
    """One line per protocol used (its ratio rule), and one for the GT-mean rescaling when used."""
    rules = {protocol_label(r, with_gt_mean=False): r["ratio_rule"] for r in results}
    lines = [f"- **{name}**: {rule}" for name, rule in rules.items()]
    gt_mean = next((r.get("gt_mean_rule") for r in results if r.get("gt_mean")), None)
    if gt_mean:
        lines.append(f"- **+ GT mean**: {gt_mean}")
    return lines


def _weights_label(result: dict) -> str:
    if result["protocol"] == "input":
        return "— (input)" if result.get("mode") == "photos" else "— (low input)"
    return result.get("weights_label") or result.get("weights") or "—"


def _check(results: Sequence[object], sources: Sequence[str] | None) -> list[str]:
    """The sources' names (``result N`` when not given); ValueError for anything not an eval result."""
    if sources is not None and len(sources) != len(results):
        raise ValueError(f"expected {len(results)} sources, got {len(sources)}")
    names = list(sources) if sources is not None else [f"result {i}" for i in range(len(results))]
    for name, result in zip(names, results):
        if not isinstance(result, dict):
            raise ValueError(f"{name}: not a kind eval result (expected a JSON object, got {type(result).__name__})")
        if is_diagnose_result(result):
            raise OtherResultError(f"{name}: a kind diagnose result, not a kind eval or kind score result; left out")
        lacking = [key for key in REQUIRED_KEYS if key not in result]
        if lacking:
            raise ValueError(f"{name}: not a kind eval result (no {', '.join(lacking)})")
        empty = [key for key in REQUIRED_KEYS if result[key] is None]
        if empty:
            raise ValueError(f"{name}: field {empty[0]!r} is null; a kind eval result gives it a value")
        _check_types(name, result)
    return names


NUMBER = (int, float)
FIELD_TYPES = {  # a result's fields the tables read, and the types each may have (None: absent or null)
    "protocol": (str,), "ratio_rule": (str,), "data": (str,), "mode": (str,), "weights": (str,),
    "weights_label": (str,), "device": (str,), "gt_mean_rule": (str,), "ratio": NUMBER, "count": (int,),
    "gt_mean": (bool,), "loe_variant": (str,), "niqe_channel": (str,), "niqe_params": (str,), "mean": (dict,),
}
SETTINGS = {"loe_variant": LOE_NOTE, "niqe_channel": NIQE_NOTE, "niqe_params": NIQE_PARAMS_NOTE}
MODES = ("paired", "photos")  # a result's "mode": with ground truths (the LOL table), or photos (no-reference)
PAIRED_ONLY = ("psnr", "ssim", "psnr_y", "ssim_y", "gt_saturation")  # means only a paired result has


def _check_types(name: str, result: dict) -> None:
    """ValueError naming the file and the field for a field of the wrong type or an unknown setting."""
    for key, types in FIELD_TYPES.items():
        value = result.get(key)
        if value is not None and (not isinstance(value, types) or (types == NUMBER and isinstance(value, bool))):
            expected = " or ".join(t.__name__ for t in types)
            raise ValueError(f"{name}: field {key!r} should be {expected}, got {type(value).__name__} {value!r}")
    for key, known in SETTINGS.items():
        if key in result and result[key] not in known:
            raise ValueError(f"{name}: field {key!r} is {result[key]!r}, expected one of {', '.join(known)}")
    for key, value in result["mean"].items():
        if value is not None and (not isinstance(value, NUMBER) or isinstance(value, bool)):
            raise ValueError(f"{name}: field 'mean.{key}' should be a number, got {type(value).__name__} {value!r}")
    mode = result.get("mode", "paired")
    if mode not in MODES:
        raise ValueError(f"{name}: field 'mode' is {mode!r}, expected one of {', '.join(MODES)}")
    paired_fields = sorted(key for key in PAIRED_ONLY if result["mean"].get(key) is not None)
    if mode == "photos" and paired_fields:
        raise ValueError(f"{name}: its mode says photos (no ground truth) but it has paired fields "
                         f"({', '.join('mean.' + key for key in paired_fields)}); which is it?")


def _row_key(result: dict) -> tuple:
    """What tells two results' rows apart in a table: weights, protocol, data set, settings."""
    return (result.get("mode", "paired"), _weights_label(result), protocol_label(result), Path(result["data"]).name,
            result.get("loe_variant", "npe"), result.get("niqe_channel", "gray"), result.get("niqe_params", "live"))


def distinct_labels(results: Sequence[dict], names: Sequence[str]) -> list[dict]:
    """The results, those that would share a row (the same weights label, protocol, data set and
    settings — e.g. two pipeline runs whose weights folders are both named ``weights``) relabelled
    ``label (source)``, or ``label (source #n)`` when the sources' names are the same too, so that
    no row hides another."""
    groups: dict[tuple, list[int]] = {}
    for index, result in enumerate(results):
        groups.setdefault(_row_key(result), []).append(index)
    relabelled = list(results)
    for indices in groups.values():
        if len(indices) < 2:
            continue
        sources = [names[i] for i in indices]
        for number, index in enumerate(indices, 1):
            suffix = names[index] if sources.count(names[index]) == 1 else f"{names[index]} #{number}"
            result = results[index]
            relabelled[index] = {**result, "weights_label": f"{_weights_label(result)} ({suffix})"}
    return relabelled


def _split(results: Sequence[dict], names: Sequence[str]) -> tuple[list, list]:
    """(paired, photos): lists of (name, result); results written before photo evaluation are paired."""
    paired = [(n, r) for n, r in zip(names, results) if r.get("mode", "paired") == "paired"]
    photos = [(n, r) for n, r in zip(names, results) if r.get("mode") == "photos"]
    return paired, photos


def _settings_label(results: Sequence[dict], key: str, default: str) -> str | None:
    """The one value of ``key`` the results share (None when they differ)."""
    values = {r.get(key, default) for r in results}
    return values.pop() if len(values) == 1 else None


# --- LOL ----------------------------------------------------------------------------------------


def lol_rows(
    results: Sequence[dict], sources: Sequence[str] | None = None, reported: Sequence[dict] = REPORTED
) -> list[dict]:
    """The LOL table's rows: the ``reported`` ones (``status`` ``reported``, values as printed in
    ``printed``), then one per paired result (``status`` ``measured``). JSON-ready."""
    names = _check(results, sources)
    results = distinct_labels(results, names)
    rows = []
    for item in reported:
        row = {key: None for key in LOL_KEYS}
        row.update({key: item[key] for key in ("weights", "protocol", "data", "source")})
        row.update({key: float(item[key]) for key in DIGITS if key in item})
        row.update(status="reported", printed={key: item[key] for key in DIGITS if key in item})
        rows.append(row)
    for name, result in _ordered(_split(results, names)[0]):
        mean = result["mean"]
        rows.append({
            "weights": _weights_label(result),
            "protocol": protocol_label(result),
            "ratio_rule": result["ratio_rule"],
            "gt_mean_rule": result.get("gt_mean_rule"),
            "gt_mean": bool(result.get("gt_mean")),
            "protocol_base": protocol_label(result, with_gt_mean=False),
            "data": Path(result["data"]).name,
            **{key: mean.get(key) for key in DIGITS},
            "loe_variant": result.get("loe_variant", "npe"),
            "niqe_channel": result.get("niqe_channel", "gray"),
            "niqe_params": result.get("niqe_params", "live"),
            "device": result.get("device"),
            "source": f"measured: {name}" if sources is not None else "measured",
            "status": "measured",
            "count": result.get("count"),
        })
    return rows


def _metric_headers(measured: Sequence[dict]) -> tuple[str, str, str | None, str | None]:
    """The LOE and NIQE column titles, and the settings they name (None: they differ by row)."""
    loe = _settings_label(measured, "loe_variant", "npe")
    niqe_channel = _settings_label(measured, "niqe_channel", "gray")
    niqe_params = _settings_label(measured, "niqe_params", "live")
    niqe = f"{niqe_channel}, {niqe_params}" if niqe_channel and niqe_params else None
    return (f"LOE ({loe})" if loe else "LOE", f"NIQE ({niqe})" if niqe else "NIQE", loe, niqe)


def _settings_notes(rows: Sequence[dict]) -> list[str]:
    """One line each for the LOE variants and NIQE settings used by ``rows``."""
    loes = dict.fromkeys(r["loe_variant"] for r in rows)
    niqes = dict.fromkeys((r["niqe_channel"], r["niqe_params"]) for r in rows)
    lines = [f"- LOE ({v}): {LOE_NOTE[v]}, low input vs output" for v in loes]
    lines += [f"- NIQE ({c}, {p}): {NIQE_NOTE[c]}, {NIQE_PARAMS_NOTE[p]}" for c, p in niqes]
    return lines


def lol_table(
    results: Sequence[dict], sources: Sequence[str] | None = None, reported: Sequence[dict] = REPORTED
) -> str:
    """The LOL table in markdown: reported rows (marked, with their source), then the measured ones,
    then the protocols' rules and the metrics' definitions. A dash: not reported / not measured."""
    rows = lol_rows(results, sources, reported)
    measured = [row for row in rows if row["status"] == "measured"]
    loe_title, niqe_title, loe_shared, niqe_shared = _metric_headers(measured)
    header = [*LOL_COLUMNS[:7], loe_title, niqe_title, *LOL_COLUMNS[9:]]
    cells = []
    for row in rows:
        line = []
        for key in LOL_KEYS:
            value = row.get(key)
            if key == "source" and row["status"] == "reported":
                line.append(f"reported: {value}")
            elif key in DIGITS:
                text = row.get("printed", {}).get(key) or format_number(value, DIGITS[key])
                if row["status"] == "measured" and value is not None:
                    if key == "loe" and loe_shared is None:
                        text += f" ({row['loe_variant']})"
                    if key == "niqe" and niqe_shared is None:
                        text += f" ({row['niqe_channel']}, {row['niqe_params']})"
                line.append(text)
            else:
                line.append("—" if value is None else str(value))
        cells.append(line)
    lines = _markdown(header, cells)
    if measured:
        lines += ["", *_rule_notes([{**row, "protocol": row["protocol_base"]} for row in measured])]
        lines += _settings_notes(measured)
        lines.append(f"- {METRICS_NOTE}")
    return "\n".join(lines)


# --- no-reference sets --------------------------------------------------------------------------


def noref_rows(results: Sequence[dict], sources: Sequence[str] | None = None) -> tuple[list[str], list[dict]]:
    """``(datasets, rows)`` of the photo results: the data sets in :data:`NOREF_ORDER` then by name,
    and one row per weights, protocol and metric settings with ``niqe``, ``loe`` and ``count``
    dicts keyed by data set. JSON-ready."""
    names = _check(results, sources)
    photos = _split(distinct_labels(results, names), names)[1]
    present = {Path(r["data"]).name for _, r in photos}
    datasets = [d for d in NOREF_ORDER if d in present] + sorted(present - set(NOREF_ORDER))
    rows: dict[tuple, dict] = {}
    for name, result in _ordered(photos):
        key = (_weights_label(result), protocol_label(result), result.get("loe_variant", "npe"),
               result.get("niqe_channel", "gray"), result.get("niqe_params", "live"))
        row = rows.setdefault(key, {
            "weights": key[0], "protocol": key[1], "protocol_base": protocol_label(result, with_gt_mean=False),
            "ratio_rule": result["ratio_rule"], "gt_mean": False, "loe_variant": key[2],
            "niqe_channel": key[3], "niqe_params": key[4], "niqe": {}, "loe": {}, "count": {}, "sources": {},
        })
        dataset = Path(result["data"]).name
        row["niqe"][dataset] = result["mean"].get("niqe")
        row["loe"][dataset] = result["mean"].get("loe")
        row["count"][dataset] = result.get("count")
        row["sources"][dataset] = name
    return datasets, list(rows.values())


def noref_table(results: Sequence[dict], sources: Sequence[str] | None = None, metric: str = "niqe") -> str:
    """The no-reference sets' table of ``metric`` (``niqe`` or ``loe``) in markdown: one row per
    weights and protocol, one column per data set (its image count in the title), then the rules."""
    datasets, rows = noref_rows(results, sources)
    counts = {d: {r["count"][d] for r in rows if d in r["count"]} for d in datasets}
    titles = [f"{d} ({counts[d].pop()})" if len(counts[d]) == 1 else d for d in datasets]
    loe_title, niqe_title, loe_shared, niqe_shared = _metric_headers(rows)
    shared = loe_shared if metric == "loe" else niqe_shared
    header = ["weights", "protocol", *titles]
    cells = []
    for row in rows:
        settings = row["loe_variant"] if metric == "loe" else f"{row['niqe_channel']}, {row['niqe_params']}"
        protocol = row["protocol"] if shared else f"{row['protocol']} ({settings})"
        cells.append([row["weights"], protocol, *(format_number(row[metric].get(d), DIGITS[metric]) for d in datasets)])
    title = loe_title if metric == "loe" else niqe_title
    lines = [f"Mean {title} (lower is better)", "", *_markdown(header, cells)]
    if rows:
        lines += ["", *_rule_notes([{**row, "protocol": row["protocol_base"]} for row in rows])]
        lines += [line for line in _settings_notes(rows) if line.startswith(f"- {metric.upper()}")]
    return "\n".join(lines)


# --- files --------------------------------------------------------------------------------------


SCORE_RULE = "images of any method, scored by kind score"


def is_score_result(result: object) -> bool:
    """Whether a result file is ``kind score --json``'s (not ``kind eval``'s)."""
    return isinstance(result, dict) and "pred" in result and "settings" in result and "protocol" not in result


def from_score(result: dict) -> dict:
    """A ``kind score --json`` result as a table result: a paired row (with ``--gt``; the data set
    is the ground truths' folder, or its parent when that is ``high``) or a no-reference row (the
    data set is the ``--loe-inputs`` folder, else the predictions' parent folder), labelled by the
    predictions' folder name, protocol ``score``. PSNR/SSIM on Y go to the -Y columns."""
    settings = result.get("settings") or {}
    paired = result.get("gt") is not None
    mean = dict(result.get("mean") or {})
    if settings.get("y_channel"):
        mean = {{"psnr": "psnr_y", "ssim": "ssim_y"}.get(key, key): value for key, value in mean.items()}
    if paired:
        data = Path(str(result["gt"]))
        data = data.parent if data.name.lower() in ("high", "normal") else data
    else:
        data = Path(str(settings.get("loe_inputs") or Path(str(result["pred"])).parent))
    crop = settings.get("crop_border") or 0
    return {
        "mode": "paired" if paired else "photos", "protocol": "score", "data": str(data), "mean": mean,
        "ratio_rule": SCORE_RULE + (f" ({crop} pixels cropped from each side)" if crop else ""),
        "weights_label": Path(str(result["pred"])).name, "count": len(result.get("per_image") or {}),
        **{key: settings[key] for key in ("loe_variant", "niqe_channel", "niqe_params") if key in settings},
    }


class OtherResultError(ValueError):
    """A result file of another kind command (``kind diagnose``): no table rows, left out."""


def is_diagnose_result(result: object) -> bool:
    """Whether a result file is ``kind diagnose --json``'s (per-stage rows, no protocol)."""
    return isinstance(result, dict) and "protocol" not in result and {"rows", "stages"} <= result.keys()


def read_result(path: str | os.PathLike) -> dict:
    """One result file as a table result (``kind eval --json``'s, or ``kind score --json``'s through
    :func:`from_score`), checked; ValueError naming the file and what is wrong with it (unreadable,
    not UTF-8, not JSON, nested too deep, another command's result, a missing, null or mistyped field)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a JSON result file (not UTF-8 text; a binary file?)") from None
    except OSError as error:
        raise ValueError(f"{path}: cannot be read ({error.strerror or error})") from None
    try:
        result = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not JSON ({error})") from None
    except RecursionError:
        raise ValueError(f"{path}: not a kind result (JSON nested too deeply to read)") from None
    if is_score_result(result):
        if not all(isinstance(result.get(key) or {}, dict) for key in ("settings", "mean", "per_image")):
            raise ValueError(f"{path}: a kind score result whose settings, mean or per_image is not a mapping")
        result = from_score(result)
    _check([result], [str(path)])
    return result


@dataclass
class LoadedResults:
    """Result files read for the tables: the usable ``results`` with their file names (``sources``),
    and one line for each file left out, naming it and why: ``malformed`` (a fault in the file) and
    ``other`` (another command's result, such as ``kind diagnose``'s)."""

    results: list[dict] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    malformed: list[str] = field(default_factory=list)
    other: list[str] = field(default_factory=list)


def load_results(paths: Sequence[str | os.PathLike]) -> LoadedResults:
    """Read result files (:func:`read_result`); none is dropped without its line."""
    loaded = LoadedResults()
    for path in paths:
        try:
            result = read_result(path)
        except OtherResultError as error:
            loaded.other.append(str(error))
        except ValueError as error:
            loaded.malformed.append(str(error))
        else:
            loaded.results.append(result)
            loaded.sources.append(Path(path).name)
    return loaded


def write_table(
    paths: Sequence[str | os.PathLike],
    out_md: str | os.PathLike | None = None,
    out_json: str | os.PathLike | None = None,
    out_tex: str | os.PathLike | None = None,
) -> tuple[str, LoadedResults]:
    """``kind table``: the markdown tables of the result files ``paths`` (LOL when any is paired or
    none is a photo result; the no-reference sets when any is), optionally written to files, and
    what was read (:func:`load_results`: the files left out, each with its line). ValueError,
    naming every file and its fault, when none can be tabulated."""
    loaded = load_results(paths)
    results, sources, skipped = loaded.results, loaded.sources, loaded.malformed + loaded.other
    if not results:
        raise ValueError("no result file to tabulate: " + "; ".join(skipped))
    paired, photos = _split(results, _check(results, sources))
    sections, data = [], {}
    if paired or not photos:
        sections.append("### LOL\n\n" + lol_table(results, sources))
        data["lol"] = lol_rows(results, sources)
    if photos:
        sections.append("### No-reference sets: NIQE\n\n" + noref_table(results, sources, "niqe"))
        sections.append("### No-reference sets: LOE\n\n" + noref_table(results, sources, "loe"))
        datasets, rows = noref_rows(results, sources)
        data["noref"] = {"datasets": datasets, "rows": rows}
    table = "\n\n".join(sections)
    if out_md is not None:
        atomic_write_text(out_md, table + "\n")
    if out_json is not None:
        atomic_write_json(out_json, {**data, "metrics": METRICS_NOTE, "skipped": skipped})
    if out_tex is not None:
        atomic_write_text(out_tex, markdown_tables_to_latex(table))
    return table, loaded
