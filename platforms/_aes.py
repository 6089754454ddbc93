"""AES-CBC envelopes shared by the WeCom (WXBizMsgCrypt, PKCS#7 block 32) and Feishu (PKCS#7 block 16) adapters.

Pure functions over bytes; every failure is `CryptoError` (a ValueError) so adapters can turn it into BadPayload
without knowing what went wrong inside the envelope.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import struct
from collections.abc import Callable

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

__all__ = [
    "CryptoError",
    "pkcs7_pad",
    "pkcs7_unpad",
    "cbc_encrypt",
    "cbc_decrypt",
    "WeComCrypto",
    "FeishuCipher",
]

_AES_BLOCK = 16


class CryptoError(ValueError):
    """An envelope that does not decrypt, unpad or frame correctly."""


def pkcs7_pad(data: bytes, block: int) -> bytes:
    """PKCS#7 with the platform's block size (WeCom pads to 32, which plain AES libraries do not)."""
    n = block - len(data) % block
    return data + bytes([n]) * n


def pkcs7_unpad(data: bytes, block: int) -> bytes:
    """Strict unpadding: a wrong key almost always shows up here."""
    if not data or len(data) % _AES_BLOCK:
        raise CryptoError("ciphertext length is not a multiple of the AES block")
    n = data[-1]
    if not 1 <= n <= block or n > len(data) or data[-n:] != bytes([n]) * n:
        raise CryptoError("bad padding (wrong key?)")
    return data[:-n]


def cbc_encrypt(cipher: Cipher[modes.CBC], plaintext: bytes, block: int) -> bytes:
    """AES-CBC over PKCS#7(block)-padded plaintext."""
    enc = cipher.encryptor()
    return enc.update(pkcs7_pad(plaintext, block)) + enc.finalize()


def cbc_decrypt(cipher: Cipher[modes.CBC], ciphertext: bytes, block: int) -> bytes:
    """AES-CBC decrypt then strict PKCS#7(block) unpad."""
    if not ciphertext or len(ciphertext) % _AES_BLOCK:
        raise CryptoError("ciphertext length is not a multiple of the AES block")
    dec = cipher.decryptor()
    return pkcs7_unpad(dec.update(ciphertext) + dec.finalize(), block)


def _b64decode(text: str | bytes) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CryptoError(f"not base64: {exc}") from None


class WeComCrypto:
    """WXBizMsgCrypt: AES-256-CBC, IV = key[:16], frame random16 ‖ len ‖ msg ‖ receiveid, SHA-1 signature."""

    block = 32

    def __init__(self, token: str, encoding_aes_key: str, receiveid: str = "",
                 random_bytes: Callable[[int], bytes] = os.urandom) -> None:
        if len(encoding_aes_key) != 43:
            raise CryptoError("EncodingAESKey must be 43 characters")
        key = _b64decode(encoding_aes_key + "=")
        if len(key) != 32:
            raise CryptoError("EncodingAESKey must decode to 32 bytes")
        self.token = token
        self.key = key
        # The IV is key[:16] for every message, so one Cipher serves them all: building one costs as much as
        # the AES itself.
        self.cipher = Cipher(algorithms.AES(key), modes.CBC(key[:16]))
        self.receiveid = receiveid.encode()
        self.random_bytes = random_bytes  # injectable so the published deterministic vector can be reproduced

    def signature(self, timestamp: str, nonce: str, encrypt: str) -> str:
        """sha1_hex of the four strings sorted and joined, as WeCom computes msg_signature."""
        joined = "".join(sorted([self.token, timestamp, nonce, encrypt]))
        return hashlib.sha1(joined.encode()).hexdigest()

    def encrypt(self, msg: str | bytes) -> str:
        """The base64 `encrypt` value of a passive reply (or of a test request)."""
        raw = msg.encode() if isinstance(msg, str) else msg
        prefix = self.random_bytes(16)
        if len(prefix) != 16:
            raise CryptoError("random prefix must be 16 bytes")
        frame = prefix + struct.pack(">I", len(raw)) + raw + self.receiveid
        return base64.b64encode(cbc_encrypt(self.cipher, frame, self.block)).decode()

    def decrypt(self, encrypt: str) -> bytes:
        """The message bytes inside an `encrypt`/`echostr` value; CryptoError unless the receiveid matches."""
        frame = cbc_decrypt(self.cipher, _b64decode(encrypt), self.block)
        if len(frame) < 20:
            raise CryptoError("frame too short")
        (length,) = struct.unpack(">I", frame[16:20])
        msg, rest = frame[20:20 + length], frame[20 + length:]
        if len(msg) != length:
            raise CryptoError("frame length field exceeds the frame")
        if rest != self.receiveid:
            raise CryptoError("receiveid does not match")
        return msg


class FeishuCipher:
    """Feishu event envelope: key = SHA-256(Encrypt Key), IV = the first 16 decoded bytes, PKCS#7(16)."""

    block = 16

    def __init__(self, encrypt_key: str) -> None:
        self.key = hashlib.sha256(encrypt_key.encode()).digest()
        self.aes = algorithms.AES(self.key)  # the IV changes per message, the key does not

    def decrypt(self, encrypt: str) -> bytes:
        """The plaintext of an `encrypt` field."""
        raw = _b64decode(encrypt)
        if len(raw) < 2 * _AES_BLOCK:
            raise CryptoError("encrypt too short")
        return cbc_decrypt(Cipher(self.aes, modes.CBC(raw[:_AES_BLOCK])), raw[_AES_BLOCK:], self.block)

    def encrypt(self, plaintext: str | bytes, iv: bytes | None = None) -> str:
        """The `encrypt` value Feishu would send; used by fakes, tests and the bench."""
        raw = plaintext.encode() if isinstance(plaintext, str) else plaintext
        iv = os.urandom(_AES_BLOCK) if iv is None else iv
        return base64.b64encode(iv + cbc_encrypt(Cipher(self.aes, modes.CBC(iv)), raw, self.block)).decode()
