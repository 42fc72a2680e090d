"""TF checkpoint reading and conversion: the official weights, round trips, and every error case."""

import numpy as np
import pytest
import torch
from conftest import shared_path
from tf_writer import write_checkpoint

from kind.cli import main
from kind.models import build_network
from kind.weights.format import FORMAT, FORMAT_VERSION, WeightsError, load_network, read_record
from kind.weights.tf_checkpoint import CheckpointError, crc32c, mask_crc, read_checkpoint, unmask_crc
from kind.weights.tf_import import state_dict_to_tf, tf_to_state_dict


@pytest.mark.parametrize(
    "data,expected",
    [(b"", 0), (b"123456789", 0xE3069283), (bytes(32), 0x8A9136AA), (bytes(range(32)), 0x46DD794E)],
)
def test_crc32c_known_values(data, expected):
    assert crc32c(data) == expected


def test_crc32c_chunked_equals_bytewise():
    data = np.random.default_rng(0).integers(0, 256, 70_001, dtype=np.uint8).tobytes()
    assert crc32c(data) == crc32c(data, chunks=1)


def test_crc_mask_round_trip():
    for value in (0, 1, 0xFFFFFFFF, 0x12345678):
        assert unmask_crc(mask_crc(value)) == value


def random_state_dict(network, seed=0):
    torch.manual_seed(seed)
    return {k: torch.randn_like(v) for k, v in build_network(network).state_dict().items()}


@pytest.mark.parametrize("network", ["decom", "restore", "adjust"])
def test_convert_round_trip(tmp_path, network, capsys):
    """Our state_dict → TF checkpoint on disk → `kind convert-tf` → the same tensors and outputs."""
    state_dict = random_state_dict(network)
    prefix = tmp_path / "ckpt" / "model.ckpt"
    write_checkpoint(prefix, state_dict_to_tf(state_dict, network))
    out = tmp_path / f"{network}.pt"
    assert main(["convert-tf", str(prefix), str(out), "--net", network]) == 0
    assert "parameters" in capsys.readouterr().out
    record = torch.load(out, weights_only=True)
    assert record["format"] == FORMAT and record["format_version"] == FORMAT_VERSION
    assert record["network"] == network and "model.ckpt" in record["source"]
    model = build_network(network)
    model.load_state_dict(record["state_dict"], strict=True)
    for key, value in state_dict.items():
        assert torch.equal(model.state_dict()[key], value), key
    assert torch.equal(load_network(out).state_dict()[key], value)


def test_layouts_follow_the_spec():
    """A TF conv kernel [kh,kw,in,out] and deconv kernel [kh,kw,out,in] land where the spec says."""
    tensors = state_dict_to_tf(random_state_dict("decom"), "decom")
    kernel = tensors["DecomNet/g_conv2_1/weights"]
    assert kernel.shape == (3, 3, 32, 64)
    deconv = tensors["DecomNet/g_up_1/weights"]
    assert deconv.shape == (2, 2, 64, 128)
    state_dict = tf_to_state_dict(tensors, "decom")
    assert state_dict["conv2.weight"][5, 7, 0, 2] == kernel[0, 2, 7, 5]
    assert state_dict["up8.deconv.weight"][100, 9, 1, 0] == deconv[1, 0, 9, 100]


def test_folder_and_index_file_are_accepted(tmp_path):
    tensors = state_dict_to_tf(random_state_dict("adjust"), "adjust")
    index = write_checkpoint(tmp_path / "model.ckpt", tensors)
    for form in (tmp_path, index, tmp_path / "model.ckpt"):
        assert read_checkpoint(form).keys() == tensors.keys()


@pytest.fixture
def adjust_checkpoint(tmp_path):
    prefix = tmp_path / "model.ckpt"
    write_checkpoint(prefix, state_dict_to_tf(random_state_dict("adjust"), "adjust"))
    return prefix


def test_missing_index(tmp_path):
    with pytest.raises(CheckpointError, match=r"model\.ckpt\.index: missing"):
        read_checkpoint(tmp_path / "model.ckpt")


def test_missing_data(adjust_checkpoint):
    adjust_checkpoint.with_name("model.ckpt.data-00000-of-00001").unlink()
    with pytest.raises(CheckpointError, match=r"data-00000-of-00001: missing"):
        read_checkpoint(adjust_checkpoint)


def test_truncated_data(adjust_checkpoint):
    data = adjust_checkpoint.with_name("model.ckpt.data-00000-of-00001")
    data.write_bytes(data.read_bytes()[:-100])
    with pytest.raises(CheckpointError, match=r"data-00000-of-00001: truncated"):
        read_checkpoint(adjust_checkpoint)


def test_corrupt_data(adjust_checkpoint):
    data = adjust_checkpoint.with_name("model.ckpt.data-00000-of-00001")
    raw = bytearray(data.read_bytes())
    raw[1000] ^= 0xFF
    data.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match=r"data-00000-of-00001: corrupt \(CRC32C mismatch"):
        read_checkpoint(adjust_checkpoint)


@pytest.mark.parametrize("position", [10, -60, -8])  # data block, index block, magic
def test_corrupt_index(adjust_checkpoint, position):
    index = adjust_checkpoint.with_name("model.ckpt.index")
    raw = bytearray(index.read_bytes())
    raw[position] ^= 0x55
    index.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match=r"model\.ckpt\.index: (corrupt|not a TensorFlow)"):
        read_checkpoint(adjust_checkpoint)


def test_not_a_checkpoint(tmp_path):
    (tmp_path / "model.ckpt.index").write_text("hello, this is not an SSTable at all" * 3)
    with pytest.raises(CheckpointError, match="not a TensorFlow checkpoint index"):
        read_checkpoint(tmp_path / "model.ckpt")


def test_unsupported_dtype(tmp_path):
    tensors = {"x": np.zeros(4, np.float32)}
    write_checkpoint(tmp_path / "model.ckpt", tensors, dtype_override={"x": 14})
    with pytest.raises(CheckpointError, match="unsupported dtype bfloat16"):
        read_checkpoint(tmp_path / "model.ckpt")


def test_checkpoint_of_another_network(adjust_checkpoint, tmp_path):
    out = tmp_path / "decom.pt"
    with pytest.raises(CheckpointError, match=r"not a DecomNet checkpoint \(it looks like a adjust") as info:
        from kind.weights.tf_import import convert_tf_checkpoint

        convert_tf_checkpoint(adjust_checkpoint, out, "decom")
    assert "missing variables: ['DecomNet/g_conv10/biases'" in str(info.value)
    assert "unexpected variables: ['Illumination_adjust_net/en_conv_1/biases'" in str(info.value)
    assert not out.exists()


def test_cli_reports_errors_with_the_file_name(adjust_checkpoint, tmp_path, capsys):
    assert main(["convert-tf", str(adjust_checkpoint), str(tmp_path / "x.pt"), "--net", "restore"]) == 2
    err = capsys.readouterr().err
    assert "model.ckpt: not a Restoration_net checkpoint" in err


def test_wrong_shape_is_rejected():
    tensors = state_dict_to_tf(random_state_dict("adjust"), "adjust")
    tensors["Illumination_adjust_net/en_conv_2/weights"] = np.zeros((3, 3, 32, 16), np.float32)
    with pytest.raises(CheckpointError, match="en_conv_2/weights has shape"):
        tf_to_state_dict(tensors, "adjust")


def test_weight_file_errors(tmp_path):
    with pytest.raises(WeightsError, match="no such weight file"):
        read_record(tmp_path / "none.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a torch file")
    with pytest.raises(WeightsError, match="junk.pt: not a readable weight file"):
        read_record(junk)
    other = tmp_path / "other.pt"
    torch.save({"state_dict": {}}, other)
    with pytest.raises(WeightsError, match="other.pt: not a kind weight file"):
        read_record(other)


def test_weight_file_of_the_wrong_network(adjust_checkpoint, tmp_path):
    out = tmp_path / "adjust.pt"
    main(["convert-tf", str(adjust_checkpoint), str(out), "--net", "adjust"])
    with pytest.raises(WeightsError, match="holds 'adjust' weights, expected 'decom'"):
        load_network(out, "decom")


# --- the authors' released weights against the official TF graph's outputs -------------------


@pytest.fixture(scope="module")
def official():
    weights = shared_path("weights", "kind-official-tf")
    golden = np.load(shared_path("golden", "tf-official-small.npz"))
    decom = build_network("decom").eval()
    decom.load_state_dict(tf_to_state_dict(read_checkpoint(weights / "decom"), "decom"))
    adjust = build_network("adjust").eval()
    adjust.load_state_dict(tf_to_state_dict(read_checkpoint(weights / "adjust"), "adjust"))
    return decom, adjust, golden


def test_official_decomposition_matches_tensorflow(official):
    decom, _, golden = official
    with torch.no_grad():
        reflectance, illumination = decom(torch.from_numpy(golden["input"]))
    assert np.abs(reflectance.numpy() - golden["R"]).max() <= 1e-4
    assert np.abs(illumination.numpy() - golden["L"]).max() <= 1e-4


@pytest.mark.parametrize("ratio", [1, 4])
def test_official_adjustment_matches_tensorflow(official, ratio):
    _, adjust, golden = official
    with torch.no_grad():
        adjusted = adjust(torch.from_numpy(golden["L"]), float(ratio))
    assert np.abs(adjusted.numpy() - golden[f"adjust_ratio{ratio}"]).max() <= 1e-4


def test_official_checkpoints_are_fully_consumed(official_tf_dir):
    for network in ("decom", "adjust"):
        tensors = read_checkpoint(official_tf_dir / network)
        state_dict = tf_to_state_dict(tensors, network)
        assert len(tensors) == len(state_dict)
