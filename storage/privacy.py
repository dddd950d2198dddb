"""Privacy primitives: respondent pseudonyms, keyed hashes, address encryption, free-text scrubbing."""

from __future__ import annotations

import base64
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
    # One call into OpenSSL (every event derives its respondent key): `hmac.new` builds the
    # keyed state in Python first.
    return hmac.digest(secret.encode(), message, "sha256").hex()


def respondent_key(secret: str, channel: str, platform_user_id: str) -> str:
    """The pseudonym of a respondent: HMAC of channel + platform user id, never reversible."""
    return keyed_hash(secret, "respondent", f"{channel}:{platform_user_id}")


def same_digest(a: str, b: str) -> bool:
    """Constant-time comparison of two digests or signatures."""
    return hmac.compare_digest(a.encode(), b.encode())


class AddressCipher:
    """Encrypts a chat address kept for one message: a reminder (on an open session only), or
    the result follow-up (`purpose` b"sipas-result-follow-up", its own key)."""

    def __init__(self, secret: str, purpose: bytes = b"sipas-address") -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(
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
# Vietnamese phone numbers: 0…, +84… or 84…, digits grouped by spaces, dots, dashes or an
# area code in parentheses: 0912 345 678, 091.234.5678, +84 912-345-678, (024) 3825 1234.
PHONE = re.compile(r"(?<![\w+])\(?(?:\+?84|0)(?:[\s.\-()]{0,2}\d){8,10}(?!\w)")
# CCCD (12 digits) and the old CMND (9 digits), possibly grouped by spaces, dots or dashes. The
# 12-digit form goes first: a phone pattern would otherwise eat its tail.
ID_12 = re.compile(r"(?<!\d)(?:\d[\s.\-]?){11}\d(?!\d)")
ID_9 = re.compile(r"(?<!\d)(?:\d[\s.\-]?){8}\d(?!\d)")

EMAIL_MARK = "[email]"
PHONE_MARK = "[số điện thoại]"
ID_MARK = "[số giấy tờ]"


def scrub(text: str, *, max_length: int | None = None) -> str:
    """Free text with e-mail addresses, phone numbers and ID numbers replaced by marks,
    then cut to `max_length`: scrubbing the whole text first means no identifier can
    survive half-cut as a string of digits."""
    text = EMAIL.sub(EMAIL_MARK, text)
    text = ID_12.sub(ID_MARK, text)
    text = PHONE.sub(PHONE_MARK, text)
    text = ID_9.sub(ID_MARK, text)
    return text[:max_length].strip() if max_length is not None else text.strip()
