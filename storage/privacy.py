"""Privacy primitives: respondent pseudonyms, keyed hashes, address encryption, free-text scrubbing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def keyed_hash(secret: str, purpose: str, value: str) -> str:
    """HMAC-SHA256 of `value` under the deployment secret, separated by purpose; hex digest.

    The purpose keeps a dossier hash from ever equalling a respondent key or a
    token hash made from the same string.
    """
    message = f"{purpose}\x1f{value}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def respondent_key(secret: str, channel: str, platform_user_id: str) -> str:
    """The pseudonym of a respondent: HMAC of channel + platform user id, never reversible."""
    return keyed_hash(secret, "respondent", f"{channel}:{platform_user_id}")


def same_digest(a: str, b: str) -> bool:
    """Constant-time comparison of two digests or signatures."""
    return hmac.compare_digest(a.encode(), b.encode())


class AddressCipher:
    """Encrypts a chat address kept on an open session only (for one reminder)."""

    def __init__(self, secret: str) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"sipas-address").derive(
            secret.encode()
        )
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def encrypt(self, address: str) -> str:
        return self._fernet.encrypt(address.encode()).decode()

    def decrypt(self, ciphertext: str) -> str | None:
        """The address, or None when it was encrypted under another secret (after a rotation)."""
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken:
            return None


EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
# Vietnamese phone numbers: 0xx…, +84 / 84 prefixes, with spaces, dots or dashes
# between groups (0912 345 678, 091.234.5678, +84 912-345-678), landlines 02x.
PHONE = re.compile(r"(?<![\w+])(?:\+?84|0)(?:[\s.\-]?\d){8,10}(?!\w)")
# CCCD (12 digits) and the old CMND (9 digits), possibly grouped by spaces.
ID_NUMBER = re.compile(r"(?<!\d)(?:\d[\s.]?){11}\d(?!\d)|(?<!\d)(?:\d[\s.]?){8}\d(?!\d)")

EMAIL_MARK = "[email]"
PHONE_MARK = "[số điện thoại]"
ID_MARK = "[số giấy tờ]"


def scrub(text: str, *, max_length: int | None = None) -> str:
    """Free text with e-mail addresses, phone numbers and ID numbers replaced by marks.

    The text is cut to `max_length` before scrubbing, so no identifier cut in half
    survives as digits, and again after, since a mark can be longer than what it hides.
    """
    if max_length is not None:
        text = text[:max_length]
    text = EMAIL.sub(EMAIL_MARK, text)
    text = PHONE.sub(PHONE_MARK, text)
    text = ID_NUMBER.sub(ID_MARK, text)
    return text[:max_length].strip() if max_length is not None else text.strip()
