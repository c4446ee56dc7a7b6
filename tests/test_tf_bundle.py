"""TensorFlow tensor-bundle reader: the shipped fixture, hand-built bundles, hostile files."""

from __future__ import annotations

import os
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

from app.engine.checkpoints import tf_bundle
from app.engine.checkpoints.tf_bundle import (
    crc32c,
    masked_crc32c,
    open_checkpoint,
    snappy_decompress,
)
from app.engine.types import ModelFileError

FIXTURE = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "tf_checkpoint"
if not FIXTURE.is_dir():
    FIXTURE = Path("/work/shared/fixtures/tf_checkpoint")
needs_fixture = pytest.mark.skipif(not FIXTURE.is_dir(), reason="shared fixtures not present")


# ---------------------------------------------------------------------------
# A tiny bundle writer (test-only) so every reader path can be exercised.
# ---------------------------------------------------------------------------


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _field(num: int, wire: int, payload: bytes | int) -> bytes:
    key = _varint(num << 3 | wire)
    if wire == 0:
        return key + _varint(payload)  # type: ignore[arg-type]
    if wire == 2:
        return key + _varint(len(payload)) + payload  # type: ignore[arg-type]
    if wire == 5:
        return key + struct.pack("<I", payload)
    raise AssertionError(wire)


_TF_DTYPE = {np.dtype("<f4"): 1, np.dtype("<i8"): 9, np.dtype("<i4"): 3, np.dtype("<f8"): 2}


def _entry_proto(arr: np.ndarray, offset: int, size: int, crc: int) -> bytes:
    shape = b"".join(_field(2, 2, _field(1, 0, d)) for d in arr.shape)
    return (
        _field(1, 0, _TF_DTYPE[arr.dtype])
        + _field(2, 2, shape)
        + (_field(4, 0, offset) if offset else b"")
        + _field(5, 0, size)
        + _field(6, 5, crc)
    )


def _snappy_literal(data: bytes) -> bytes:
    """A valid (if uncompressed) snappy stream: one literal with a 4-byte length."""
    return _varint(len(data)) + bytes([63 << 2]) + struct.pack("<I", len(data) - 1) + data


def _block(pairs: list[tuple[bytes, bytes]], restart_every: int, compress: bool) -> bytes:
    body, restarts, prev = bytearray(), [], b""
    for i, (k, v) in enumerate(pairs):
        shared = 0
        if i % restart_every == 0:
            restarts.append(len(body))
        else:
            while shared < min(len(k), len(prev)) and k[shared] == prev[shared]:
                shared += 1
        body += _varint(shared) + _varint(len(k) - shared) + _varint(len(v)) + k[shared:] + v
        prev = k
    body += b"".join(struct.pack("<I", r) for r in restarts) + struct.pack("<I", len(restarts))
    contents = _snappy_literal(bytes(body)) if compress else bytes(body)
    kind = b"\x01" if compress else b"\x00"
    return contents + kind + struct.pack("<I", masked_crc32c(contents + kind))


def write_bundle(
    prefix: Path, tensors: dict[str, np.ndarray], *, per_block: int = 3, compress: bool = False
) -> None:
    data = bytearray()
    records = [(b"", _field(1, 0, 1) + _field(3, 2, _field(1, 0, 1)))]
    for name in sorted(tensors):
        arr = np.array(tensors[name], order="C")  # keeps 0-d shapes (ascontiguousarray would not)
        raw = arr.tobytes()
        records.append((name.encode(), _entry_proto(arr, len(data), len(raw), masked_crc32c(raw))))
        data += raw
    Path(f"{prefix}.data-00000-of-00001").write_bytes(bytes(data))
    table, index = bytearray(), []
    for start in range(0, len(records), per_block):
        chunk = records[start : start + per_block]
        blk = _block(chunk, restart_every=2, compress=compress)
        handle = _varint(len(table)) + _varint(len(blk) - 5)
        index.append((chunk[-1][0] + b"\xff", handle))
        table += blk
    meta_handle = _varint(len(table)) + _varint(0)
    table += _block([], 1, False)
    idx_handle = _varint(len(table))
    idx_blk = _block(index, restart_every=1, compress=False)
    idx_handle += _varint(len(idx_blk) - 5)
    table += idx_blk
    footer = (meta_handle + idx_handle).ljust(40, b"\x00") + struct.pack("<Q", 0xDB4775248B80FB57)
    Path(f"{prefix}.index").write_bytes(bytes(table + footer))


# ---------------------------------------------------------------------------


def test_crc32c_known_vectors_and_continuation() -> None:
    assert crc32c(b"") == 0
    assert crc32c(b"123456789") == 0xE3069283
    assert crc32c(bytes(32)) == 0x8A9136AA  # RFC 3720 test vector
    rng = np.random.default_rng(0)
    for n in (1, 8191, 8192, 20011, 70000):  # both the byte loop and the lane-parallel path
        data = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        slow = tf_bundle._raw_update_py(0xFFFFFFFF, data) ^ 0xFFFFFFFF
        assert crc32c(data) == slow
        cut = n // 3
        assert crc32c(data[cut:], crc32c(data[:cut])) == slow


def test_snappy_literals_and_overlapping_copies() -> None:
    # "abcd" literal, then 1-byte-offset copy len 8 offset 4, then 2-byte-offset copy len 3 offset 12
    stream = (
        _varint(15)
        + bytes([3 << 2])
        + b"abcd"
        + bytes([(4 << 2) | 1, 4])
        + bytes([(2 << 2) | 2])
        + struct.pack("<H", 12)
    )
    assert snappy_decompress(stream) == b"abcdabcdabcdabc"
    # run-length style copy: offset 1 repeats one byte
    assert snappy_decompress(_varint(6) + bytes([0]) + b"z" + bytes([(1 << 2) | 1, 1])) == b"zzzzzz"
    with pytest.raises(ValueError):
        snappy_decompress(_varint(4) + bytes([(4 << 2) | 1, 9]))  # copy before any output
    with pytest.raises(ValueError):
        snappy_decompress(_varint(10) + bytes([3 << 2]) + b"ab")  # truncated literal


@needs_fixture
def test_fixture_variables_listed_and_classified() -> None:
    ckpt = open_checkpoint(FIXTURE)
    names = ckpt.names()
    assert names == sorted(names)
    generator = [
        n
        for n in names
        if n.startswith("inpaint_net/") and n.rsplit("/", 1)[-1] in ("kernel", "bias")
    ]
    slots = [n for n in names if n.endswith(("/Adam", "/Adam_1")) or n.startswith("beta")]
    disc = [n for n in names if n.startswith("discriminator/")]
    counters = [n for n in names if n == "global_step"]
    assert len(generator) == 84
    assert set(names) == set(generator) | set(slots) | set(disc) | set(counters)
    assert slots and disc and counters
    assert ckpt.shape("inpaint_net/conv1/kernel") == (5, 5, 5, 48)  # HWIO
    assert ckpt.shape("inpaint_net/conv13_upsample/conv13_upsample_conv/kernel") == (3, 3, 96, 96)
    assert ckpt.dtype("inpaint_net/conv1/kernel") == np.float32
    assert ckpt.dtype("global_step") == np.int64
    assert int(ckpt.read("global_step")) >= 0
    k = ckpt.read("inpaint_net/allconv17/kernel")
    assert (
        k.shape == (3, 3, 12, 3) and k.dtype == np.float32 and np.isfinite(k).all() and k.std() > 0
    )


@needs_fixture
def test_all_path_spellings_open_the_same_checkpoint(tmp_path: Path) -> None:
    spellings = [
        FIXTURE,
        FIXTURE / "checkpoint",
        FIXTURE / "snap-0.index",
        FIXTURE / "snap-0",
        FIXTURE / "snap-0.data-00000-of-00001",
    ]
    prefixes = {open_checkpoint(p).prefix for p in spellings}
    assert prefixes == {FIXTURE / "snap-0"}
    # a state file written on another machine (absolute path) still resolves next to it
    for f in FIXTURE.iterdir():
        shutil.copy(f, tmp_path / f.name)
    (tmp_path / "checkpoint").write_text('model_checkpoint_path: "/home/someone/logs/snap-0"\n')
    assert open_checkpoint(tmp_path).prefix == tmp_path / "snap-0"


def test_hand_built_bundle_round_trip_plain_and_snappy(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    tensors = {
        "a/kernel": rng.standard_normal((3, 3, 4, 8)).astype(np.float32),
        "a/bias": rng.standard_normal(8).astype(np.float32),
        "a/bias/Adam": np.zeros(8, np.float32),
        "b/scalar": np.array(7, np.int64),
        "b/ints": np.arange(10, dtype=np.int32),
        "c/double": rng.standard_normal((2, 5)),
        "zz/big": rng.standard_normal(5000).astype(np.float32),  # 20 kB: lane-parallel crc path
    }
    for compress in (False, True):
        d = tmp_path / f"c{int(compress)}"
        d.mkdir()
        write_bundle(d / "model.ckpt-5", tensors, compress=compress)
        ckpt = open_checkpoint(d)
        assert ckpt.names() == sorted(tensors)
        for name, arr in tensors.items():
            got = ckpt.read(name)
            assert got.shape == arr.shape and got.dtype == arr.dtype
            np.testing.assert_array_equal(got, arr)


def test_corrupt_tensor_data_is_refused(tmp_path: Path) -> None:
    tensors = {"w": np.arange(64, dtype=np.float32), "x": np.ones(4, np.float32)}
    write_bundle(tmp_path / "m", tensors)
    data = tmp_path / "m.data-00000-of-00001"
    raw = bytearray(data.read_bytes())
    raw[10] ^= 0x01
    data.write_bytes(bytes(raw))
    ckpt = open_checkpoint(tmp_path / "m.index")
    with pytest.raises(ModelFileError, match="crc32c"):
        ckpt.read("w")
    np.testing.assert_array_equal(ckpt.read("x"), tensors["x"])  # untouched tensor still fine
    data.write_bytes(bytes(raw[:100]))  # truncated shard
    with pytest.raises(ModelFileError, match="truncated"):
        ckpt.read("x")
    data.unlink()
    with pytest.raises(ModelFileError, match="Cannot read"):
        ckpt.read("w")
    with pytest.raises(ModelFileError, match="no variable"):
        ckpt.read("nope")


@needs_fixture
@pytest.mark.reliability
def test_truncated_or_garbage_index_raises_model_file_error(tmp_path: Path) -> None:
    good = (FIXTURE / "snap-0.index").read_bytes()
    rng = np.random.default_rng(2)
    cases = {
        "empty": b"",
        "short": good[:20],
        "half": good[: len(good) // 2],
        "no_footer": good[:-1],
        "random": rng.integers(0, 256, 4096, dtype=np.uint8).tobytes(),
        "random_with_magic": rng.integers(0, 256, 200, dtype=np.uint8).tobytes() + good[-8:],
        "flipped_block_byte": good[:100] + bytes([good[100] ^ 0xFF]) + good[101:],
    }
    for label, blob in cases.items():
        p = tmp_path / f"{label}.index"
        p.write_bytes(blob)
        with pytest.raises(ModelFileError):
            open_checkpoint(p)
    # every single truncation point fails cleanly (never an IndexError or a hang)
    for cut in range(0, len(good), 97):
        p = tmp_path / "cut.index"
        p.write_bytes(good[:cut])
        with pytest.raises(ModelFileError):
            open_checkpoint(p)


def test_missing_and_ambiguous_paths(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="no TensorFlow checkpoint"):
        open_checkpoint(tmp_path)
    with pytest.raises(ModelFileError, match="does not exist"):
        open_checkpoint(tmp_path / "nothing.index")
    write_bundle(tmp_path / "snap-1", {"v": np.zeros(2, np.float32)})
    write_bundle(tmp_path / "snap-2", {"v": np.ones(2, np.float32)})
    with pytest.raises(ModelFileError, match="several checkpoints"):
        open_checkpoint(tmp_path)
    (tmp_path / "checkpoint").write_text(
        'model_checkpoint_path: "snap-2"\nall_model_checkpoint_paths: "snap-1"\n'
    )
    np.testing.assert_array_equal(open_checkpoint(tmp_path).read("v"), [1, 1])
    (tmp_path / "checkpoint").write_text('model_checkpoint_path: "snap-9"\n')
    with pytest.raises(ModelFileError, match="snap-9"):
        open_checkpoint(tmp_path)
    (tmp_path / "checkpoint").write_bytes(os.urandom(64))
    with pytest.raises(ModelFileError):
        open_checkpoint(tmp_path)
