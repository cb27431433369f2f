"""The framing between `check` and its worker process: a JSON header and raw float64 arrays.

A message is ``len(payload)`` (8 bytes, big-endian) followed by the payload:
``len(header)`` (8 bytes), the UTF-8 JSON header, then the arrays' ``.npy`` bytes back to back
(their names and byte counts are listed in the header under ``"arrays"``). Arrays are read
with ``allow_pickle=False``: nothing that crosses is ever unpickled, and the reader accepts
only real float64 arrays. Imports NumPy only.
"""

from __future__ import annotations

import io
import json
import struct

import numpy as np

_LEN = struct.Struct(">Q")


class WireError(Exception):
    """A message that is not well formed (the peer is not speaking the protocol)."""


def encode(header: dict, arrays: dict) -> bytes:
    """One message: `header` (JSON-able) and `arrays` ({name: float64 ndarray})."""
    blobs = []
    listing = []
    for name, array in arrays.items():
        buffer = io.BytesIO()
        dtype = np.int64 if np.asarray(array).dtype.kind in "iu" else np.float64
        # (not ascontiguousarray: it turns a 0-d array into shape (1,))
        np.save(buffer, np.asarray(array, dtype=dtype, order="C"), allow_pickle=False)
        blob = buffer.getvalue()
        blobs.append(blob)
        listing.append([name, len(blob)])
    head = json.dumps(dict(header, arrays=listing)).encode("utf-8")
    payload = _LEN.pack(len(head)) + head + b"".join(blobs)
    return _LEN.pack(len(payload)) + payload


def frame_length(prefix: bytes, limit: int) -> int:
    """The payload length announced by an 8-byte prefix; WireError above `limit`."""
    (length,) = _LEN.unpack(prefix)
    if length > limit:
        raise WireError(f"a message of {length} bytes (at most {limit} accepted)")
    return length


def decode(payload: bytes, allow_int: bool = False) -> tuple[dict, dict]:
    """(header, {name: float64 array}) from a payload; WireError if anything is off.

    With `allow_int` (the parent's requests: integer class labels), int64 arrays too.
    """
    try:
        if len(payload) < _LEN.size:
            raise WireError("a truncated message")
        (head_len,) = _LEN.unpack_from(payload)
        start = _LEN.size + head_len
        if start > len(payload):
            raise WireError("a truncated header")
        header = json.loads(payload[_LEN.size:start].decode("utf-8"))
        if not isinstance(header, dict) or not isinstance(header.get("arrays"), list):
            raise WireError("a header that is not an object with an array listing")
        arrays = {}
        offset = start
        for entry in header.pop("arrays"):
            if (not isinstance(entry, list) or len(entry) != 2 or not isinstance(entry[0], str)
                    or type(entry[1]) is not int or entry[1] < 0):
                raise WireError("a malformed array listing")
            name, size = entry
            blob = payload[offset:offset + size]
            if len(blob) != size:
                raise WireError("a truncated array")
            offset += size
            array = np.load(io.BytesIO(blob), allow_pickle=False)
            if type(array) is not np.ndarray or not (
                    array.dtype == np.float64 or (allow_int and array.dtype == np.int64)):
                raise WireError(f"array '{name}' is not float64")
            arrays[name] = array
        if offset != len(payload):
            raise WireError("trailing bytes after the arrays")
        return header, arrays
    except WireError:
        raise
    except Exception as exc:  # noqa: BLE001  # malformed JSON, npy, unicode: all the same finding
        raise WireError(f"a malformed message ({type(exc).__name__})") from None
