"""Weight files: the checksum in the zip comment, files without one, versions, the upgrade; weights
specs: the shipped weights inside the package, version names, paths."""

from __future__ import annotations

import hashlib
import io
import warnings
import zipfile
from pathlib import Path

import pytest
import torch

import kind
from kind.constants import SHIPPED_VERSION
from kind.models import build_network
from kind.train.config import load_config
from kind.weights.format import (
    CHECKSUM_PREFIX,
    UncheckedWeightsWarning,
    WeightsError,
    add_checksum,
    content_sha256,
    load_network,
    read_record,
    resolve_weight_file,
    resolve_weights_dir,
    save_record,
    shipped_versions,
    upgrade_weight_file,
    verify_checksum,
    weight_file_info,
    weight_record,
    weights_dir_info,
)

PACKAGE = Path(kind.__file__).resolve().parent


def test_shipped_weights_are_package_data():
    """Issue 13: the weights lived in checkpoints/, outside the package, so a wheel had none."""
    assert SHIPPED_VERSION in shipped_versions()  # earlier versions stay in the repository, out of the wheel (test_packaging)
    folder = resolve_weights_dir("shipped")
    assert folder == resolve_weights_dir(None) == resolve_weights_dir(SHIPPED_VERSION)
    assert folder.resolve() == PACKAGE / "weights" / "pretrained" / SHIPPED_VERSION
    assert sorted(path.name for path in folder.iterdir()) == ["adjust.pt", "decom.pt", "restore.pt"]
    assert (PACKAGE / "weights" / "pretrained" / "README.md").is_file()  # the model card travels with them


def test_specs_for_one_network(tmp_path, weights_dir):
    assert resolve_weight_file("shipped", "decom") == resolve_weights_dir("shipped") / "decom.pt"
    assert resolve_weight_file(weights_dir, "restore") == weights_dir / "restore.pt"
    assert resolve_weight_file(tmp_path / "x.pt", "adjust") == tmp_path / "x.pt"
    assert read_record(resolve_weight_file("v0.1", "adjust"))["network"] == "adjust"
    assert load_network("shipped", "decom").training is False


def test_unknown_version_and_a_folder_named_like_one(tmp_path, monkeypatch):
    with pytest.raises(WeightsError, match="no such shipped version .*v0.2"):
        resolve_weights_dir("v9")
    monkeypatch.chdir(tmp_path)
    assert resolve_weights_dir("./v9") == Path("v9")


@pytest.mark.parametrize("stage", ["adjust", "restore"])
def test_configs_name_the_shipped_decomnet(stage):
    config = load_config(stage, Path(__file__).resolve().parents[1] / "configs" / f"{stage}.yaml")
    assert config.decom_weights == "shipped"
    assert load_config(stage).decom_weights == "shipped"


@pytest.fixture(scope="module")
def adjust_record() -> dict:
    torch.manual_seed(1)
    return weight_record("adjust", build_network("adjust").state_dict(), source="random (tests)", version="v9.9")


def test_a_checksummed_file_is_an_ordinary_torch_file(tmp_path, adjust_record):
    path = tmp_path / "adjust.pt"
    save_record(path, adjust_record)
    plain = torch.load(path, weights_only=True)  # torch itself reads it as usual
    assert all(torch.equal(plain["state_dict"][k], v) for k, v in adjust_record["state_dict"].items())
    comment = zipfile.ZipFile(path).comment
    assert comment.startswith(CHECKSUM_PREFIX)
    without_comment = path.read_bytes()[: -len(comment) - 2] + b"\0\0"
    assert comment[len(CHECKSUM_PREFIX):].decode() == hashlib.sha256(without_comment).hexdigest()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no notice for a checksummed file
        record = read_record(path, "adjust")
    assert record["checksum"] == "verified" and record["version"] == "v9.9"
    assert record["sha256"] == content_sha256(path) == weight_file_info(path)["sha256"]


def test_a_flipped_byte_anywhere_is_an_error(tmp_path, adjust_record):
    path = tmp_path / "adjust.pt"
    save_record(path, adjust_record)
    data = path.read_bytes()
    # every 7th byte, and every byte of the first 128 and last 256 (headers, end record, comment)
    offsets = sorted(set(range(0, len(data), 7)) | set(range(128)) | set(range(len(data) - 256, len(data))))
    for offset in offsets:
        flipped = bytearray(data)
        flipped[offset] ^= 0x01
        with pytest.raises(WeightsError):
            verify_checksum(bytes(flipped), path)
    for offset in (0, 40, len(data) // 2, len(data) - 70, len(data) - 1):  # through the loader, on disk
        flipped = bytearray(data)
        flipped[offset] ^= 0xFF
        bad = tmp_path / f"bad{offset}.pt"
        bad.write_bytes(bytes(flipped))
        with pytest.raises(WeightsError, match=f"bad{offset}.pt: (corrupt|not a readable)"):
            read_record(bad)


def test_truncated_and_extended_files_are_errors(tmp_path, adjust_record):
    path = tmp_path / "adjust.pt"
    save_record(path, adjust_record)
    data = path.read_bytes()
    for cut in (1, 30, 100, len(data) // 2):
        path.write_bytes(data[:-cut])
        with pytest.raises(WeightsError, match="adjust.pt"):
            read_record(path)
    path.write_bytes(data + b"\0")
    with pytest.raises(WeightsError, match="adjust.pt"):
        read_record(path)


def test_a_file_without_checksum_loads_with_one_notice(tmp_path, adjust_record):
    path = tmp_path / "old.pt"
    torch.save({k: v for k, v in adjust_record.items() if k != "version"}, path)  # as kind wrote it before
    with pytest.warns(UncheckedWeightsWarning, match="old.pt: written without a checksum") as caught:
        record = read_record(path, "adjust")
    assert len(caught) == 1
    assert record["checksum"] == "absent" and record.get("version") is None
    assert record["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest() == content_sha256(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert weight_file_info(path)["checksum"] == "absent"  # the info itself gives no second notice


def test_upgrade_adds_checksum_and_version_keeping_the_tensors(tmp_path, adjust_record):
    path = tmp_path / "old.pt"
    legacy = {k: v for k, v in adjust_record.items() if k != "version"}
    legacy["state_dict"] = {k: v.half() for k, v in legacy["state_dict"].items()}  # dtypes kept too
    torch.save(legacy, path)
    info = upgrade_weight_file(path, "v0.1")
    assert info["checksum"] == "verified" and info["version"] == "v0.1"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        record = read_record(path)
    for key, value in legacy["state_dict"].items():
        assert record["state_dict"][key].dtype == torch.float16 and torch.equal(record["state_dict"][key], value)
    assert record["source"] == legacy["source"]


def test_shipped_weights_are_checksummed_and_versioned():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        info = weights_dir_info()
    assert {item["version"] for item in info.values()} == {SHIPPED_VERSION}
    assert {item["checksum"] for item in info.values()} == {"verified"}


def test_torch_save_output_is_required_for_a_checksum():
    with pytest.raises(ValueError, match="zip archive"):
        add_checksum(b"not a zip")
    buffer = io.BytesIO()
    torch.save({"a": 1}, buffer)
    assert verify_checksum(add_checksum(buffer.getvalue()), "x.pt") is not None


def test_eval_records_version_and_hash_of_each_network(tmp_path, weights_dir):
    from conftest import write_pairs
    from kind.evaluation.evaluate import run_eval

    data = write_pairs(tmp_path / "data", count=1, height=24, width=32)
    result = run_eval(data, "official", weights=weights_dir, device="cpu", progress=False)
    for network in ("decom", "restore", "adjust"):
        info = result["weight_files"][network]
        assert info["sha256"] == content_sha256(weights_dir / f"{network}.pt")
        assert info["checksum"] == "verified" and "version" in info
    assert run_eval(data, "input", progress=False)["weight_files"] is None


def test_a_weight_file_that_unpacks_too_large_is_refused_before_loading(tmp_path):
    """A valid record whose tensor storage was replaced by 512 MiB of deflated zeros (a few hundred
    kB on disk) is refused from the archive's declared sizes; nothing is unpacked."""

    from kind.weights.limits import max_unpacked_bytes
    from kind.weights.format import add_checksum

    buffer = io.BytesIO()
    torch.save(weight_record("adjust", {"x": torch.zeros(4)}, source="test"), buffer)
    source = zipfile.ZipFile(io.BytesIO(buffer.getvalue()))
    packed = io.BytesIO()
    chunk, size = bytes(2**20), 512 * 2**20
    assert size > max_unpacked_bytes()
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            if info.filename.endswith("/data/0"):
                with target.open(info.filename, "w", force_zip64=True) as entry:
                    for _ in range(size // len(chunk)):
                        entry.write(chunk)
            else:
                target.writestr(info.filename, source.read(info.filename))
    path = tmp_path / "bomb.pt"
    path.write_bytes(add_checksum(packed.getvalue()))
    assert path.stat().st_size < 2 * 2**20
    with pytest.raises(WeightsError, match=r"bomb\.pt: unpacks to 512 MiB, more than any kind weight file"):
        read_record(path)
