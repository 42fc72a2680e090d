"""A minimal TensorFlow checkpoint (tensor bundle) writer, for tests only.

Writes what ``tf.train.Saver`` writes for plain variables: an index SSTable (one data block, an
empty metaindex block, an index block, the footer) and one data shard. Checked during development
against TensorFlow 2.21, whose ``tf.train.load_checkpoint`` reads these files.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from kind.weights.tf_checkpoint import TABLE_MAGIC, crc32c, mask_crc

NUMPY_TO_TF = {np.dtype("<f4"): 1, np.dtype("<f8"): 2, np.dtype("<i4"): 3, np.dtype("<f2"): 19}


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field_varint(number: int, value: int) -> bytes:
    return varint(number << 3) + varint(value)


def field_bytes(number: int, value: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(value)) + value


def field_fixed32(number: int, value: int) -> bytes:
    return varint(number << 3 | 5) + struct.pack("<I", value)


def entry_proto(dtype: int, shape: tuple[int, ...], offset: int, size: int, crc: int) -> bytes:
    shape_proto = b"".join(field_bytes(2, field_varint(1, dim)) for dim in shape)
    return (
        field_varint(1, dtype)
        + field_bytes(2, shape_proto)
        + field_varint(4, offset)
        + field_varint(5, size)
        + field_fixed32(6, mask_crc(crc))
    )


def block(records: list[tuple[bytes, bytes]]) -> bytes:
    """A table block with prefix-compressed keys and a single restart point."""
    out = bytearray()
    previous = b""
    for key, value in records:
        shared = 0
        while shared < min(len(key), len(previous)) and key[shared] == previous[shared]:
            shared += 1
        out += varint(shared) + varint(len(key) - shared) + varint(len(value))
        out += key[shared:] + value
        previous = key
    out += struct.pack("<II", 0, 1)
    return bytes(out)


def with_trailer(data: bytes) -> bytes:
    return data + b"\x00" + struct.pack("<I", mask_crc(crc32c(data + b"\x00")))


def write_checkpoint(prefix: str | Path, tensors: dict[str, np.ndarray], dtype_override: dict | None = None) -> Path:
    """Write ``tensors`` (name → array) as the TF checkpoint ``prefix``; returns the index path.

    ``dtype_override`` maps a name to the TF dtype enum to record (to test unsupported dtypes).
    """
    prefix = Path(prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    header = field_varint(1, 1) + field_bytes(3, field_varint(1, 1))  # num_shards 1, version 1
    records = [(b"", header)]
    data = bytearray()
    for name in sorted(tensors):
        array = np.ascontiguousarray(tensors[name])
        array = array.astype(array.dtype.newbyteorder("<"))
        raw = array.tobytes()
        dtype = (dtype_override or {}).get(name, NUMPY_TO_TF[array.dtype])
        records.append((name.encode(), entry_proto(dtype, array.shape, len(data), len(raw), crc32c(raw))))
        data += raw
    records.sort(key=lambda record: record[0])
    data_block = with_trailer(block(records))
    meta_block = with_trailer(block([]))
    index_block = with_trailer(block([(records[-1][0], varint(0) + varint(len(data_block) - 5))]))
    meta_offset = len(data_block)
    index_offset = meta_offset + len(meta_block)
    handles = varint(meta_offset) + varint(len(meta_block) - 5) + varint(index_offset) + varint(len(index_block) - 5)
    footer = handles.ljust(40, b"\x00") + struct.pack("<Q", TABLE_MAGIC)
    index_path = prefix.with_name(prefix.name + ".index")
    index_path.write_bytes(data_block + meta_block + index_block + footer)
    prefix.with_name(prefix.name + ".data-00000-of-00001").write_bytes(bytes(data))
    return index_path
