"""Privacy primitives: pseudonyms that cannot be reversed, addresses kept encrypted, text scrubbed."""

from __future__ import annotations

import pytest

from storage.privacy import (
    EMAIL_MARK,
    ID_MARK,
    PHONE_MARK,
    AddressCipher,
    keyed_hash,
    respondent_key,
    scrub,
)
from tests.conftest import TEST_SECRET


def test_the_respondent_key_is_stable_per_channel_and_reveals_no_id() -> None:
    key = respondent_key(TEST_SECRET, "telegram", "731946285")
    assert key == respondent_key(TEST_SECRET, "telegram", "731946285")
    assert key != respondent_key(TEST_SECRET, "zalo_oa", "731946285")
    assert key != respondent_key(
        "another-secret-0123456789-abcdefghijklmn", "telegram", "731946285"
    )
    assert "731946285" not in key and len(key) == 64


def test_keyed_hashes_of_one_value_differ_by_purpose() -> None:
    assert keyed_hash(TEST_SECRET, "dossier", "X1") != keyed_hash(TEST_SECRET, "respondent", "X1")


def test_an_address_round_trips_only_under_the_same_secret() -> None:
    ciphertext = AddressCipher(TEST_SECRET).encrypt("731946285")
    assert "731946285" not in ciphertext
    assert AddressCipher(TEST_SECRET).decrypt(ciphertext) == "731946285"
    assert AddressCipher("rotated-secret-0123456789-abcdefghijklmn").decrypt(ciphertext) is None


@pytest.mark.parametrize(
    "phone",
    [
        "0912345678",
        "0912 345 678",
        "091.234.5678",
        "091-234-5678",
        "+84 912 345 678",
        "+84912345678",
        "84912345678",
        "024 3825 1234",
        "(024) 38251234",
    ],
)
def test_vietnamese_phone_numbers_are_scrubbed(phone: str) -> None:
    scrubbed = scrub(f"Gọi cho tôi theo số {phone} nhé")
    assert PHONE_MARK in scrubbed
    assert not any(digit in scrubbed for digit in "0123456789")


@pytest.mark.parametrize(
    "number", ["001089012345", "001 089 012 345", "001-234-567-890", "123456789"]
)
def test_id_numbers_of_9_and_12_digits_are_scrubbed(number: str) -> None:
    scrubbed = scrub(f"CCCD của tôi: {number}.")
    assert ID_MARK in scrubbed or PHONE_MARK in scrubbed
    assert not any(digit in scrubbed for digit in "0123456789")


def test_email_addresses_are_scrubbed() -> None:
    assert (
        scrub("Liên hệ nguyen.van.a+hs@gmail.com.vn giúp tôi") == f"Liên hệ {EMAIL_MARK} giúp tôi"
    )


def test_ordinary_text_dates_and_small_numbers_are_kept() -> None:
    text = "Ngày 20/11/2026 chờ 2 giờ ở quầy số 3, phí 50.000 đồng."
    assert scrub(text) == text


def test_text_is_cut_before_and_after_scrubbing() -> None:
    assert len(scrub("0912345678 " + "x" * 50, max_length=20)) <= 20
    assert "091" not in scrub("x" * 15 + " 0912345678", max_length=20)
