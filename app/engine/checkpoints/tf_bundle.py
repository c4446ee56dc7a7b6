"""Read TensorFlow V2 checkpoints (the "tensor bundle" format) with NumPy only.

A checkpoint is a prefix such as ``snap-0`` with:

* ``snap-0.index`` — an SSTable (LevelDB table format) mapping variable names to
  serialized ``BundleEntryProto`` messages; the empty key holds a ``BundleHeaderProto``;
* ``snap-0.data-00000-of-0000N`` — raw little-endian tensor bytes, addressed by
  (shard_id, offset, size) from the entries;
* optionally a ``checkpoint`` text file in the folder naming the newest prefix.

Everything (SSTable blocks, varints, protobuf wire format, snappy, crc32c) is decoded
here by hand so that importing official weights never needs TensorFlow.
"""

from __future__ import annotations

import math
import os
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.engine.types import ModelFileError

__all__ = [
    "CheckpointReader", "TensorEntry", "crc32c", "masked_crc32c", "open_checkpoint",
    "snappy_decompress",
]

# ---------------------------------------------------------------------------
# crc32c (Castagnoli), as TensorFlow/LevelDB use it
# ---------------------------------------------------------------------------

_POLY = 0x82F63B78  # reflected Castagnoli polynomial


def _make_table() -> np.ndarray:
    table = np.zeros(256, dtype=np.uint32)
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ _POLY if c & 1 else c >> 1
        table[i] = c
    return table


_TABLE = _make_table()
_TABLE_LIST = [int(v) for v in _TABLE]
_MASK_DELTA = 0xA282EAD8


def _raw_update_py(reg: int, data: bytes) -> int:
    t = _TABLE_LIST
    for b in data:
        reg = t[(reg ^ b) & 0xFF] ^ (reg >> 8)
    return reg


# A linear operator on the 32-bit CRC register, stored as the images of its 32 bits.
def _op_apply(op: list[int], v: int) -> int:
    out = 0
    i = 0
    while v:
        if v & 1:
            out ^= op[i]
        v >>= 1
        i += 1
    return out


def _op_compose(a: list[int], b: list[int]) -> list[int]:
    """a after b."""
    return [_op_apply(a, col) for col in b]


_ONE_ZERO_BYTE = [_raw_update_py(1 << i, b"\x00") for i in range(32)]


def _zeros_op(n: int) -> list[int]:
    """Operator that advances the register over n zero bytes (square-and-multiply)."""
    result = [1 << i for i in range(32)]
    power = _ONE_ZERO_BYTE
    while n:
        if n & 1:
            result = _op_compose(power, result)
        n >>= 1
        if n:
            power = _op_compose(power, power)
    return result


def _op_tables(op: list[int]) -> list[list[int]]:
    """Four byte-indexed tables so applying the operator costs four lookups."""
    tables = []
    for k in range(4):
        cols = op[8 * k : 8 * k + 8]
        table = [0] * 256
        for b in range(1, 256):  # linear: reuse the entry without the lowest set bit
            low = (b & -b).bit_length() - 1
            table[b] = table[b & (b - 1)] ^ cols[low]
        tables.append(table)
    return tables


_SHIFT_CACHE: dict[int, tuple[np.ndarray, ...]] = {}
_LANE_WIDTH = 64  # bytes each NumPy lane processes before the lanes are combined


def _shift_tables(nbytes: int) -> tuple[np.ndarray, ...]:
    if nbytes not in _SHIFT_CACHE:
        tables = _op_tables(_zeros_op(nbytes))
        _SHIFT_CACHE[nbytes] = tuple(np.array(t, dtype=np.uint32) for t in tables)
    return _SHIFT_CACHE[nbytes]


def _raw_crc_zero_init(data: bytes) -> int:
    """CRC register after `data` starting from 0 (linear in the data)."""
    n = len(data)
    if n < 8192:
        return _raw_update_py(0, data)
    # Cut the data into 64-byte lanes, run all lanes side by side with NumPy, then combine
    # neighbours pairwise: register(a + b) = shift(register(a), len(b)) ^ register(b), with
    # the shift a linear map applied by four table lookups. Leading zero bytes (and zero
    # registers) do not change a register that starts at 0, which pads both stages.
    width = _LANE_WIDTH
    lanes = -(-n // width)
    pad = lanes * width - n
    buf = np.frombuffer(data, dtype=np.uint8)
    if pad:
        buf = np.concatenate([np.zeros(pad, dtype=np.uint8), buf])
    grid = np.ascontiguousarray(buf.reshape(lanes, width).T)  # row j = byte j of every lane
    reg = np.zeros(lanes, dtype=np.uint32)
    table = _TABLE
    for row in grid:
        reg = table[(reg ^ row) & 0xFF] ^ (reg >> 8)
    span = width
    while reg.size > 1:
        if reg.size % 2:
            reg = np.concatenate([np.zeros(1, dtype=np.uint32), reg])
        t0, t1, t2, t3 = _shift_tables(span)
        a, b = reg[0::2], reg[1::2]
        reg = t0[a & 0xFF] ^ t1[(a >> 8) & 0xFF] ^ t2[(a >> 16) & 0xFF] ^ t3[a >> 24] ^ b
        span *= 2
    return int(reg[0])


def crc32c(data: bytes | bytearray | memoryview, crc: int = 0) -> int:
    """crc32c of `data`, continuing from a previous crc32c value `crc` (0 to start)."""
    data = bytes(data)
    init = crc ^ 0xFFFFFFFF
    if len(data) < 8192:
        return _raw_update_py(init, data) ^ 0xFFFFFFFF
    # Starting the register at `init` equals starting at 0 with the first four bytes xor-ed
    # with `init` (the register is a little-endian shift register).
    head = (int.from_bytes(data[:4], "little") ^ init).to_bytes(4, "little")
    return _raw_crc_zero_init(head + data[4:]) ^ 0xFFFFFFFF


def masked_crc32c(data: bytes | bytearray | memoryview) -> int:
    """The masked form TensorFlow stores (rotate right by 15, add a constant)."""
    return unmask_to_masked(crc32c(data))


def unmask_to_masked(crc: int) -> int:
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


# ---------------------------------------------------------------------------
# Snappy (raw block format), used for SSTable blocks written with compression on
# ---------------------------------------------------------------------------


def snappy_decompress(data: bytes) -> bytes:
    """Decode one raw snappy block; raises ValueError on malformed input."""
    pos, n = 0, len(data)
    length, pos = _varint(data, pos, 32)
    out = bytearray()
    while pos < n:
        tag = data[pos]
        pos += 1
        kind = tag & 3
        if kind == 0:  # literal
            size = tag >> 2
            if size >= 60:
                extra = size - 59
                if pos + extra > n:
                    raise ValueError("snappy literal length runs past the end")
                size = int.from_bytes(data[pos : pos + extra], "little")
                pos += extra
            size += 1
            if pos + size > n:
                raise ValueError("snappy literal runs past the end")
            out += data[pos : pos + size]
            pos += size
            continue
        if kind == 1:
            if pos + 1 > n:
                raise ValueError("snappy copy runs past the end")
            size = 4 + ((tag >> 2) & 7)
            offset = ((tag >> 5) << 8) | data[pos]
            pos += 1
        else:
            nbytes = 2 if kind == 2 else 4
            if pos + nbytes > n:
                raise ValueError("snappy copy runs past the end")
            size = (tag >> 2) + 1
            offset = int.from_bytes(data[pos : pos + nbytes], "little")
            pos += nbytes
        if offset == 0 or offset > len(out):
            raise ValueError("snappy copy offset out of range")
        start = len(out) - offset
        if offset >= size:
            out += out[start : start + size]
        else:  # overlapping copy repeats the last `offset` bytes
            for i in range(size):
                out.append(out[start + i])
        if len(out) > length:
            break
    if len(out) != length:
        raise ValueError(f"snappy block decodes to {len(out)} bytes, header says {length}")
    return bytes(out)


# ---------------------------------------------------------------------------
# varints and protobuf wire format
# ---------------------------------------------------------------------------


def _varint(buf: bytes, pos: int, bits: int = 64) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError("varint runs past the end of its buffer")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            break
        shift += 7
        if shift >= bits + 7:
            raise ValueError("varint too long")
    return result & ((1 << bits) - 1), pos


def _proto_fields(buf: bytes) -> list[tuple[int, int, int | bytes]]:
    """Decode a protobuf message into (field number, wire type, value) triples."""
    fields: list[tuple[int, int, int | bytes]] = []
    pos, n = 0, len(buf)
    while pos < n:
        key, pos = _varint(buf, pos)
        num, wire = key >> 3, key & 7
        if num == 0:
            raise ValueError("protobuf field number 0")
        value: int | bytes
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            if pos + 8 > n:
                raise ValueError("truncated fixed64")
            value = struct.unpack_from("<Q", buf, pos)[0]
            pos += 8
        elif wire == 2:
            size, pos = _varint(buf, pos)
            if pos + size > n:
                raise ValueError("truncated length-delimited field")
            value = bytes(buf[pos : pos + size])
            pos += size
        elif wire == 5:
            if pos + 4 > n:
                raise ValueError("truncated fixed32")
            value = struct.unpack_from("<I", buf, pos)[0]
            pos += 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        fields.append((num, wire, value))
    return fields


# A field's value as its wire type (checked by the caller) says: a number, or a message's bytes.
def _num(value: int | bytes) -> int:
    if isinstance(value, bytes):
        raise ValueError("a length-delimited protobuf field where a number belongs")
    return value


def _msg(value: int | bytes) -> bytes:
    if not isinstance(value, bytes):
        raise ValueError("a number where a protobuf message belongs")
    return value


def _signed64(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


# TensorFlow DataType enum -> NumPy dtype (little-endian); strings handled apart.
_DTYPES: dict[int, str] = {
    1: "<f4",  # DT_FLOAT
    2: "<f8",  # DT_DOUBLE
    3: "<i4",  # DT_INT32
    4: "u1",  # DT_UINT8
    5: "<i2",  # DT_INT16
    6: "i1",  # DT_INT8
    8: "<c8",  # DT_COMPLEX64
    9: "<i8",  # DT_INT64
    10: "?",  # DT_BOOL
    17: "<u2",  # DT_UINT16
    18: "<c16",  # DT_COMPLEX128
    19: "<f2",  # DT_HALF
    22: "<u4",  # DT_UINT32
    23: "<u8",  # DT_UINT64
}
DT_STRING = 7
DT_BFLOAT16 = 14
_DTYPE_NAMES = {
    1: "float32", 2: "float64", 3: "int32", 4: "uint8", 5: "int16", 6: "int8", 7: "string",
    8: "complex64", 9: "int64", 10: "bool", 14: "bfloat16", 17: "uint16", 18: "complex128",
    19: "float16", 20: "resource", 21: "variant", 22: "uint32", 23: "uint64",
}  # fmt: skip


@dataclass(frozen=True)
class TensorEntry:
    """One BundleEntryProto: where a tensor lives and how to interpret it."""

    name: str
    dtype: int  # TensorFlow DataType enum value
    shape: tuple[int, ...]
    shard_id: int = 0
    offset: int = 0
    size: int = 0
    crc32c: int | None = None  # masked crc32c as stored, None if absent
    sliced: bool = False  # partitioned variable: data stored under slice keys

    @property
    def dtype_name(self) -> str:
        return _DTYPE_NAMES.get(self.dtype, f"dtype#{self.dtype}")


def _parse_shape(buf: bytes) -> tuple[int, ...]:
    dims: list[int] = []
    for num, wire, value in _proto_fields(buf):
        if num == 2 and wire == 2:  # repeated Dim { int64 size = 1; string name = 2; }
            size = 0
            for dnum, dwire, dval in _proto_fields(_msg(value)):
                if dnum == 1 and dwire == 0:
                    size = _signed64(_num(dval))
            dims.append(size)
        elif num == 3 and wire == 0 and value:
            raise ValueError("tensor shape of unknown rank")
    if any(d < 0 for d in dims):
        raise ValueError(f"tensor shape with unknown dimension {dims}")
    return tuple(dims)


def _parse_entry(name: str, buf: bytes) -> TensorEntry:
    dtype, shard, offset, size, crc, sliced = 0, 0, 0, 0, None, False
    shape: tuple[int, ...] = ()
    for num, wire, value in _proto_fields(buf):
        if num == 1 and wire == 0:
            dtype = _num(value)
        elif num == 2 and wire == 2:
            shape = _parse_shape(_msg(value))
        elif num == 3 and wire == 0:
            shard = _num(value)
        elif num == 4 and wire == 0:
            offset = _signed64(_num(value))
        elif num == 5 and wire == 0:
            size = _signed64(_num(value))
        elif num == 6 and wire == 5:
            crc = _num(value)
        elif num == 7:
            sliced = True
    if offset < 0 or size < 0 or shard < 0:
        raise ValueError("negative offset, size or shard")
    return TensorEntry(name, dtype, shape, shard, offset, size, crc, sliced)


@dataclass
class BundleHeader:
    num_shards: int = 1
    big_endian: bool = False
    producer: int = 0
    min_consumer: int = 0


def _parse_header(buf: bytes) -> BundleHeader:
    h = BundleHeader()
    for num, wire, value in _proto_fields(buf):
        if num == 1 and wire == 0:
            h.num_shards = _num(value)
        elif num == 2 and wire == 0:
            h.big_endian = _num(value) == 1
        elif num == 3 and wire == 2:
            for vnum, vwire, vval in _proto_fields(_msg(value)):
                if vnum == 1 and vwire == 0:
                    h.producer = _num(vval)
                elif vnum == 2 and vwire == 0:
                    h.min_consumer = _num(vval)
    return h


# ---------------------------------------------------------------------------
# SSTable
# ---------------------------------------------------------------------------

_TABLE_MAGIC = 0xDB4775248B80FB57
_FOOTER_LEN = 48
_BLOCK_TRAILER = 5  # compression type byte + masked crc32c


def _block_handle(buf: bytes, pos: int) -> tuple[int, int, int]:
    offset, pos = _varint(buf, pos)
    size, pos = _varint(buf, pos)
    return offset, size, pos


def _read_block(table: bytes, offset: int, size: int, what: str) -> bytes:
    end = offset + size + _BLOCK_TRAILER
    if offset < 0 or end > len(table):
        raise ValueError(f"{what} block lies outside the file (truncated index?)")
    contents = table[offset : offset + size]
    kind = table[offset + size]
    stored = struct.unpack_from("<I", table, offset + size + 1)[0]
    if masked_crc32c(table[offset : offset + size + 1]) != stored:
        raise ValueError(f"{what} block fails its checksum (corrupt index)")
    if kind == 0:
        return contents
    if kind == 1:
        try:
            return snappy_decompress(contents)
        except ValueError as exc:
            raise ValueError(f"{what} block is snappy-compressed and does not decode: {exc}") from exc
    raise ValueError(f"{what} block uses unknown compression type {kind}")


def _block_entries(block: bytes) -> list[tuple[bytes, bytes]]:
    if len(block) < 4:
        raise ValueError("block too short")
    num_restarts = struct.unpack_from("<I", block, len(block) - 4)[0]
    limit = len(block) - 4 - 4 * num_restarts
    if limit < 0:
        raise ValueError("block restart array larger than the block")
    entries: list[tuple[bytes, bytes]] = []
    pos, key = 0, b""
    while pos < limit:
        shared, pos = _varint(block, pos, 32)
        non_shared, pos = _varint(block, pos, 32)
        vlen, pos = _varint(block, pos, 32)
        if shared > len(key) or pos + non_shared + vlen > limit:
            raise ValueError("block entry runs past its block")
        key = key[:shared] + block[pos : pos + non_shared]
        pos += non_shared
        entries.append((key, block[pos : pos + vlen]))
        pos += vlen
    return entries


def _read_sstable(data: bytes) -> list[tuple[bytes, bytes]]:
    if len(data) < _FOOTER_LEN:
        raise ValueError("file is shorter than an SSTable footer")
    footer = data[-_FOOTER_LEN:]
    magic = struct.unpack_from("<Q", footer, 40)[0]
    if magic != _TABLE_MAGIC:
        raise ValueError("missing SSTable magic number (not a checkpoint index, or truncated)")
    _, _, pos = _block_handle(footer, 0)  # metaindex: unused by tensor bundles
    idx_off, idx_size, _ = _block_handle(footer, pos)
    index = _block_entries(_read_block(data, idx_off, idx_size, "index"))
    entries: list[tuple[bytes, bytes]] = []
    for _, handle in index:
        off, size, _ = _block_handle(handle, 0)
        entries.extend(_block_entries(_read_block(data, off, size, "data")))
    return entries


# ---------------------------------------------------------------------------
# Public reader
# ---------------------------------------------------------------------------


@dataclass
class CheckpointReader:
    """Random access to the tensors of one checkpoint prefix."""

    prefix: Path
    header: BundleHeader
    entries: dict[str, TensorEntry] = field(default_factory=dict)

    def names(self) -> list[str]:
        """Variable names in the index's (sorted) order."""
        return list(self.entries)

    def __contains__(self, name: object) -> bool:
        return name in self.entries

    def __len__(self) -> int:
        return len(self.entries)

    def entry(self, name: str) -> TensorEntry:
        try:
            return self.entries[name]
        except KeyError:
            raise ModelFileError(f"The checkpoint has no variable named {name!r}.") from None

    def shape(self, name: str) -> tuple[int, ...]:
        return self.entry(name).shape

    def dtype(self, name: str) -> np.dtype | str:
        """NumPy dtype of a variable ("string" / "bfloat16" / TF name for the few without one)."""
        e = self.entry(name)
        if e.dtype in _DTYPES:
            return np.dtype(_DTYPES[e.dtype])
        return e.dtype_name

    def shard_path(self, shard_id: int) -> Path:
        return Path(f"{self.prefix}.data-{shard_id:05d}-of-{self.header.num_shards:05d}")

    def read(self, name: str) -> np.ndarray:
        """The tensor's values; refuses data whose stored crc32c does not match."""
        e = self.entry(name)
        if e.sliced:
            raise ModelFileError(
                f"Variable {name!r} is partitioned into slices, which this reader does not support."
            )
        if e.shard_id >= self.header.num_shards:
            raise ModelFileError(
                f"Variable {name!r} points at a shard the checkpoint does not have."
            )
        raw = self._read_bytes(e)
        if e.crc32c is not None and e.dtype != DT_STRING and masked_crc32c(raw) != e.crc32c:
            raise ModelFileError(
                f"Variable {name!r} fails its crc32c check: the checkpoint data file is corrupt."
            )
        count = math.prod(e.shape)
        if e.dtype == DT_STRING:
            return self._decode_strings(e, raw, count)
        if e.dtype == DT_BFLOAT16:
            if e.size != 2 * count:
                raise ModelFileError(f"Variable {name!r} has {e.size} bytes, expected {2 * count}.")
            bits = np.frombuffer(raw, dtype=">u2" if self.header.big_endian else "<u2")
            return (bits.astype(np.uint32) << 16).view(np.float32).reshape(e.shape)
        if e.dtype not in _DTYPES:
            raise ModelFileError(
                f"Variable {name!r} has type {e.dtype_name}, which cannot be read."
            )
        dt = np.dtype(_DTYPES[e.dtype])
        if self.header.big_endian:
            dt = dt.newbyteorder(">")
        if e.size != dt.itemsize * count:
            raise ModelFileError(
                f"Variable {name!r} has {e.size} bytes, expected {dt.itemsize * count} for {e.shape}."
            )
        return np.frombuffer(raw, dtype=dt).astype(dt.newbyteorder("="), copy=True).reshape(e.shape)

    def read_all(self, names: list[str] | None = None) -> dict[str, np.ndarray]:
        return {n: self.read(n) for n in (self.names() if names is None else names)}

    def _read_bytes(self, e: TensorEntry) -> bytes:
        path = self.shard_path(e.shard_id)
        try:
            with open(path, "rb") as f:
                f.seek(e.offset)
                raw = f.read(e.size)
        except OSError as exc:
            raise ModelFileError(
                f"Cannot read checkpoint data file {path.name}: {exc.strerror or exc}."
            ) from None
        if len(raw) != e.size:
            raise ModelFileError(
                f"Checkpoint data file {path.name} is truncated (variable {e.name!r} lies past its end)."
            )
        return raw

    def _decode_strings(self, e: TensorEntry, raw: bytes, count: int) -> np.ndarray:
        # Layout: varint64 length per element, masked crc32c of the lengths (as uint64
        # little-endian values), then the bytes; the entry crc covers lengths as uint64,
        # the length checksum and the bytes.
        try:
            pos, lengths = 0, []
            for _ in range(count):
                n, pos = _varint(raw, pos)
                lengths.append(n)
            packed = struct.pack(f"<{count}Q", *lengths)
            stored = struct.unpack_from("<I", raw, pos)[0]
            pos += 4
        except (ValueError, struct.error):
            raise ModelFileError(f"String variable {e.name!r} is malformed.") from None
        if unmask_to_masked(crc32c(packed)) != stored:
            raise ModelFileError(f"String variable {e.name!r} fails its length checksum.")
        values = []
        for n in lengths:
            values.append(raw[pos : pos + n])
            pos += n
        if pos != len(raw):
            raise ModelFileError(f"String variable {e.name!r} has a size that does not add up.")
        if e.crc32c is not None:
            full = crc32c(raw[pos - sum(lengths) :], crc32c(packed + struct.pack("<I", stored)))
            if unmask_to_masked(full) != e.crc32c:
                raise ModelFileError(f"String variable {e.name!r} fails its crc32c check.")
        out = np.empty(count, dtype=object)
        out[:] = values
        return out.reshape(e.shape)


_CKPT_LINE = re.compile(r'^\s*model_checkpoint_path\s*:\s*"((?:[^"\\]|\\.)*)"\s*$', re.M)


def _prefix_from_state_file(path: Path) -> Path:
    """Newest checkpoint prefix named by a `checkpoint` text file (CheckpointState)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise ModelFileError(f"Cannot read {path}: {exc.strerror or exc}.") from None
    m = _CKPT_LINE.search(text)
    if not m:
        raise ModelFileError(f"{path} does not name a checkpoint (no model_checkpoint_path line).")
    raw = m.group(1).encode("latin-1", "backslashreplace").decode("unicode_escape")
    named = Path(raw)
    candidates = [named] if named.is_absolute() else [path.parent / named]
    # Checkpoints are often moved after training: fall back to the bare name next to the file.
    candidates.append(path.parent / named.name)
    for cand in candidates:
        if Path(f"{cand}.index").is_file():
            return cand
    raise ModelFileError(
        f"{path} names checkpoint {raw!r}, but {named.name}.index is not in {path.parent}."
    )


def _resolve_prefix(path: Path) -> Path:
    if path.is_dir():
        state = path / "checkpoint"
        if state.is_file():
            return _prefix_from_state_file(state)
        indexes = sorted(path.glob("*.index"))
        if len(indexes) == 1:
            return indexes[0].with_suffix("")
        if not indexes:
            raise ModelFileError(f"{path} holds no TensorFlow checkpoint (no .index file).")
        listed = ", ".join(p.name for p in indexes)
        raise ModelFileError(
            f"{path} holds several checkpoints ({listed}); give the .index file of the one to use."
        )
    name = path.name
    if name == "checkpoint" and path.is_file():
        return _prefix_from_state_file(path)
    if name.endswith(".index"):
        return path.with_name(name[: -len(".index")])
    m = re.match(r"^(.*)\.data-\d{5}-of-\d{5}$", name)
    if m:
        return path.with_name(m.group(1))
    if name.endswith(".meta"):
        return path.with_name(name[: -len(".meta")])
    return path  # already a prefix


def is_tf_checkpoint(path: str | os.PathLike[str]) -> bool:
    """Cheap test: does `path` look like a TF checkpoint (folder, state file, index, prefix)?"""
    p = Path(path)
    try:
        if p.is_dir():
            return (p / "checkpoint").is_file() or any(p.glob("*.index"))
        if p.name == "checkpoint" or p.name.endswith(".index"):
            return p.is_file()
        if re.search(r"\.data-\d{5}-of-\d{5}$", p.name):
            return p.is_file()
        return not p.exists() and Path(f"{p}.index").is_file()
    except OSError:
        return False


def open_checkpoint(path: str | os.PathLike[str]) -> CheckpointReader:
    """Open a checkpoint given its folder, `checkpoint` file, `.index` file, data shard or prefix."""
    prefix = _resolve_prefix(Path(path))
    index_path = Path(f"{prefix}.index")
    try:
        data = index_path.read_bytes()
    except FileNotFoundError:
        raise ModelFileError(f"Checkpoint index {index_path} does not exist.") from None
    except OSError as exc:
        raise ModelFileError(f"Cannot read {index_path}: {exc.strerror or exc}.") from None
    try:
        records = _read_sstable(data)
        if not records or records[0][0] != b"":
            raise ValueError("no bundle header entry")
        header = _parse_header(records[0][1])
        if header.num_shards < 1:
            raise ValueError("bundle header declares no data shards")
        entries: dict[str, TensorEntry] = {}
        for key, value in records[1:]:
            name = key.decode("utf-8", errors="replace")
            entries[name] = _parse_entry(name, value)
    except (ValueError, struct.error, IndexError) as exc:
        raise ModelFileError(
            f"{index_path.name} is not a readable TensorFlow checkpoint index: {exc}."
        ) from None
    return CheckpointReader(prefix=prefix, header=header, entries=entries)
