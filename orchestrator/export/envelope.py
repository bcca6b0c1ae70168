"""The encrypted envelope for tar exports: authenticated AES-256-GCM in segments.

Format (all integers big-endian):

    header   magic "SRENC\\x00\\x01\\n" (8 bytes)
             scrypt log2(N) (1), r (1), p (1)
             salt (16)
             nonce prefix (7)
             segment size (4)
    segments ciphertext of `segment size` plaintext bytes + 16-byte GCM tag, the last
             one shorter (possibly empty)

The key is scrypt(password, salt). Segment i is sealed with the nonce
prefix || i (4 bytes) || last (1 byte: 1 on the final segment, else 0), and the
whole header as associated data, so segments cannot be reordered, dropped,
truncated at a boundary, or moved between files without the tag failing.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from typing import BinaryIO

from orchestrator.errors import StrongroomError

MAGIC = b"SRENC\x00\x01\n"
SEGMENT = 1 << 20
TAG = 16
SCRYPT = (15, 8, 1)
HEADER_FORMAT = ">8sBBB16s7sI"
HEADER_SIZE = struct.calcsize(HEADER_FORMAT)


class EnvelopeError(StrongroomError):
    pass


def _key(password: bytes, salt: bytes, log_n: int, r: int, p: int) -> bytes:
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    if not 10 <= log_n <= 20 or not 1 <= r <= 32 or not 1 <= p <= 16:
        raise EnvelopeError("the file's key-derivation parameters are out of range")
    return Scrypt(salt=salt, length=32, n=1 << log_n, r=r, p=p).derive(password)


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    if index >= 1 << 32:
        raise EnvelopeError("too many segments for one envelope")
    return prefix + struct.pack(">IB", index, 1 if last else 0)


class EnvelopeWriter:
    """A write-only file object that encrypts into `sink`."""

    def __init__(self, sink: BinaryIO, password: bytes) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        salt, prefix = os.urandom(16), os.urandom(7)
        self.header = struct.pack(HEADER_FORMAT, MAGIC, *SCRYPT, salt, prefix, SEGMENT)
        self.aead = AESGCM(_key(password, salt, *SCRYPT))
        self.prefix = prefix
        self.sink = sink
        self.buffer = bytearray()
        self.index = 0
        sink.write(self.header)

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self.buffer += data
        # Keep at least one byte back: only close() knows which segment is the last.
        while len(self.buffer) > SEGMENT:
            self._seal(bytes(self.buffer[:SEGMENT]), last=False)
            del self.buffer[:SEGMENT]
        return len(data)

    def _seal(self, plain: bytes, last: bool) -> None:
        nonce = _nonce(self.prefix, self.index, last)
        self.sink.write(self.aead.encrypt(nonce, plain, self.header))
        self.index += 1

    def close(self) -> None:
        self._seal(bytes(self.buffer), last=True)
        self.buffer.clear()

    def flush(self) -> None:
        return None


def is_envelope(head: bytes) -> bool:
    return head.startswith(MAGIC)


def decrypt_stream(source: BinaryIO, password: bytes) -> Iterator[bytes]:
    """The plaintext of an envelope, segment by segment; any tampering raises."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    header = source.read(HEADER_SIZE)
    if len(header) < HEADER_SIZE or not is_envelope(header):
        raise EnvelopeError("not a strongroom encrypted file (bad header)")
    _magic, log_n, r, p, salt, prefix, segment = struct.unpack(HEADER_FORMAT, header)
    if not 1 <= segment <= 64 << 20:
        raise EnvelopeError("the file's segment size is out of range")
    aead = AESGCM(_key(password, salt, log_n, r, p))
    index = 0
    current = source.read(segment + TAG)
    while True:
        following = source.read(segment + TAG) if len(current) == segment + TAG else b""
        last = not following
        if len(current) < TAG:
            raise EnvelopeError("the encrypted file is truncated")
        try:
            yield aead.decrypt(_nonce(prefix, index, last), current, header)
        except InvalidTag:
            if index == 0:
                raise EnvelopeError("wrong password, or the file is damaged") from None
            raise EnvelopeError(f"the encrypted file is damaged or truncated (segment "
                                f"{index})") from None
        if last:
            return
        index += 1
        current = following
