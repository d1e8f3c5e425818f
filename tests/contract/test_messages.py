"""Per-message link tokens: the vectors both halves test, and what a forger can and cannot do."""

from __future__ import annotations

import random

import pytest

from link_tracking_runtime import vectors
from link_tracking_runtime.messages import (
    ALPHABET,
    MAC_SYMBOLS,
    SEQUENCE_MAX,
    TOKEN_MAX_LENGTH,
    forgery_chance,
    is_token_shape,
    issue_token,
    message_path,
    split_message_path,
    verify_token,
)
from link_tracking_runtime.record import SLUG_MAX_LENGTH, is_valid_slug
from link_tracking_runtime.signing import Keyring, SigningKey, keyring_from_secret_string

DOCUMENT = vectors.load_document("messages")
KEYRINGS = {name: keyring_from_secret_string(text) for name, text in DOCUMENT["secrets"].items()}


@pytest.mark.parametrize("vector", DOCUMENT["issue"], ids=[v["name"] for v in DOCUMENT["issue"]])
def test_issued_token_vector(vector: dict) -> None:
    keyring = KEYRINGS[vector["keyring"]]
    token = issue_token(keyring, vector["host"], vector["slug"], vector["sequence"])
    assert token == vector["token"]
    assert verify_token(keyring, vector["host"], vector["slug"], token) == vector["sequence"]


@pytest.mark.parametrize("vector", DOCUMENT["verify"], ids=[v["name"] for v in DOCUMENT["verify"]])
def test_verified_token_vector(vector: dict) -> None:
    keyring = KEYRINGS[vector["keyring"]]
    assert (
        verify_token(keyring, vector["host"], vector["slug"], vector["token"])
        == (vector["sequence"])
    )


def test_the_vectors_cover_what_the_issue_asks() -> None:
    names = " ".join(v["name"] for v in DOCUMENT["verify"])
    for case in ("valid", "edited", "truncated", "another link", "rotated", "another domain"):
        assert case in names


def test_a_guess_is_accepted_with_a_chance_of_at_most_two_to_the_minus_24() -> None:
    assert forgery_chance() <= 2.0**-24


KEY = Keyring(SigningKey("k1", b"per-message-test-key-0123456789"))
OTHER_ACCOUNT = Keyring(SigningKey("k1", b"another-accounts-key-0123456789"))


def _tokens(count: int) -> list[tuple[int, str]]:
    rng = random.Random(7)
    sequences = [0, 1, 31, 32, 2**20 - 1, 2**20, SEQUENCE_MAX]
    sequences += [rng.randrange(2**20) for _ in range(count - len(sequences))]
    return [(n, issue_token(KEY, "go.example.com", "ABC1234", n)) for n in sequences]


def test_no_edit_of_any_symbol_of_a_valid_token_is_attributed() -> None:
    for _, token in _tokens(200):
        for position, symbol in enumerate(token):
            for other in ALPHABET:
                if other == symbol:
                    continue
                edited = token[:position] + other + token[position + 1 :]
                assert verify_token(KEY, "go.example.com", "ABC1234", edited) is None, edited
                assert verify_token(KEY, "go.example.com", "ABC1234", edited.lower()) is None


def test_truncated_and_extended_tokens_are_not_attributed() -> None:
    for _, token in _tokens(200):
        for cut in range(1, len(token)):
            assert verify_token(KEY, "go.example.com", "ABC1234", token[:cut]) is None
            assert verify_token(KEY, "go.example.com", "ABC1234", token[cut:]) is None
        for extra in ALPHABET:
            assert verify_token(KEY, "go.example.com", "ABC1234", token + extra) is None
            assert verify_token(KEY, "go.example.com", "ABC1234", extra + token) is None


def test_tokens_swapped_between_links_and_accounts_are_not_attributed() -> None:
    for sequence, token in _tokens(300):
        assert verify_token(KEY, "go.example.com", "ABC1234", token) == sequence
        assert verify_token(KEY, "go.example.com", "ABC1235", token) is None  # another link
        assert verify_token(KEY, "sms.example.net", "ABC1234", token) is None  # another domain
        # Another account's key, on its own link of the same name.
        assert verify_token(OTHER_ACCOUNT, "go.example.com", "ABC1234", token) is None
        theirs = issue_token(OTHER_ACCOUNT, "go.example.com", "ABC1234", sequence)
        assert verify_token(KEY, "go.example.com", "ABC1234", theirs) is None


def test_random_guesses_are_accepted_about_as_often_as_stated() -> None:
    """2¹⁸ made-up tokens: with a 2⁻²⁵ chance each (one key), the expected number accepted is
    1/128; more than two would mean the MAC is far weaker than stated."""
    rng = random.Random(11)
    accepted = sum(
        verify_token(KEY, "go.example.com", "ABC1234", "".join(rng.choices(ALPHABET, k=9)))
        is not None
        for _ in range(2**18)
    )
    assert accepted <= 2


def test_nine_symbols_cover_a_million_messages_per_link() -> None:
    assert len(issue_token(KEY, "go.example.com", "ABC1234", 2**20 - 1)) == 9
    assert len(issue_token(KEY, "go.example.com", "ABC1234", 2**20)) == 10
    assert len(issue_token(KEY, "go.example.com", "ABC1234", SEQUENCE_MAX)) == TOKEN_MAX_LENGTH
    with pytest.raises(ValueError):
        issue_token(KEY, "go.example.com", "ABC1234", SEQUENCE_MAX + 1)
    with pytest.raises(ValueError):
        issue_token(KEY, "go.example.com", "ABC1234", -1)


def test_100k_sms_urls_are_the_short_url_plus_ten_characters_at_most() -> None:
    short = "https://go.example.com/ABC1234"
    lengths = [
        len(short + message_path("", issue_token(KEY, "go.example.com", "ABC1234", n))[1:])
        for n in range(100_000)
    ]
    assert max(lengths) <= len(short) + 10 == 40
    query_form = f"{short}?sms_msg_id=6b0c7f8e-95a1-4d0e-8d1c-0b8f9b6c2a11"
    assert len(query_form) == 78


def test_vanity_slugs_of_any_length_stay_unambiguous() -> None:
    token = issue_token(KEY, "go.example.com", "A", 5)
    for slug in ("A", "SPRING-SALE", "X" * SLUG_MAX_LENGTH):
        assert is_valid_slug(slug)
        assert split_message_path(f"{slug}/{token}") == (slug, token)
        assert "/" not in slug
    # A slug never holds "/", so a path of one segment is never a per-message link.
    assert split_message_path("SPRINGSALE") is None
    assert split_message_path(f"/{token}") is None
    assert split_message_path(f"ABC/{token}/x") is None


@pytest.mark.parametrize(
    "token",
    ["", "ABCDE", "A" * (TOKEN_MAX_LENGTH + 1), "ABCDEF!", "ABCDEFU", "ÀBCDEFG", "ABC DEFG"],
)
def test_what_cannot_be_a_token(token: str) -> None:
    assert not is_token_shape(token)
    assert verify_token(KEY, "go.example.com", "ABC1234", token) is None


def test_the_mac_is_the_last_five_symbols() -> None:
    token = issue_token(KEY, "go.example.com", "ABC1234", 12345)
    assert len(token) == len("C1S") + MAC_SYMBOLS  # 12345 is three symbols in base 32
    assert token.startswith("C1S")
