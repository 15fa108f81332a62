"""The one secret scrubber: known secrets in every form, credential-shaped text, and
secret-named variables."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from openclaw.redact import MASK, MIN_SECRET_LENGTH, Redactor, is_secret_key, redact_env


def test_exact_secrets_are_masked() -> None:
    redactor = Redactor(["gw-token-1234", "hunter2pass"])
    text = redactor.redact("connect with gw-token-1234 and hunter2pass, again gw-token-1234")
    assert "gw-token-1234" not in text
    assert "hunter2pass" not in text
    assert text == "connect with *** and ***, again ***"


def test_exact_secret_inside_a_word_is_masked() -> None:
    assert Redactor(["s3cr3tvalue"]).redact("prefix-s3cr3tvalue-suffix") == "prefix-***-suffix"


def test_short_secrets_are_ignored() -> None:
    redactor = Redactor(["abc", ""])
    assert redactor.redact("abc abcdef") == "abc abcdef"


def test_add_secret_ignores_none_and_short() -> None:
    redactor = Redactor()
    redactor.add_secret(None)
    redactor.add_secret("")
    redactor.add_secret("xyz")
    assert redactor.redact("xyz") == "xyz"
    redactor.add_secret("wxyz")
    assert redactor.redact("a wxyz b") == "a *** b"


def test_overlapping_secrets_longest_first() -> None:
    redactor = Redactor(["abcd"])
    redactor.add_secret("abcdefgh")
    assert redactor.redact("v=[abcdefgh]") == "v=[***]"
    assert "efgh" not in redactor.redact("abcdefgh")


def test_duplicate_secret_added_once() -> None:
    redactor = Redactor(["same-secret", "same-secret"])
    redactor.add_secret("same-secret")
    assert redactor.redact("same-secret") == "***"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("token=abc123", "token=***"),
        ("TOKEN=abc123", "TOKEN=***"),
        ("token: abc123", "token: ***"),
        ("password=hunter2 next", "password=*** next"),
        ("passwd=hunter2", "passwd=***"),
        ("secret: 'xyz987'", "secret: '***'"),
        ("api_key=AKIA1234", "api_key=***"),
        ("api-key=AKIA1234", "api-key=***"),
        ("apikey=AKIA1234", "apikey=***"),
        ("apiKey=AKIA1234", "apiKey=***"),
        ("botToken=12345", "botToken=***"),
        ("authorization=basicabc", "authorization=***"),
        ("a=1&token=abc123&b=2", "a=1&token=***&b=2"),
        ("token=abc;other=1", "token=***;other=1"),
    ],
)
def test_key_value_credentials(text: str, expected: str) -> None:
    assert Redactor().redact(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"token": "abc123"}', '{"token": "***"}'),
        ('{"token":"abc123","other":1}', '{"token":"***","other":1}'),
        ('{"password": "p4ss", "user": "bob"}', '{"password": "***", "user": "bob"}'),
        ("{'secret': 'x1'}", "{'secret': '***'}"),
    ],
)
def test_json_credentials(text: str, expected: str) -> None:
    assert Redactor().redact(text) == expected


def test_bearer_token() -> None:
    text = Redactor().redact("sent Bearer abcDEF123456.xyz_~+/= to upstream")
    assert "abcDEF123456" not in text
    assert text == "sent Bearer *** to upstream"


def test_short_bearer_value_not_treated_as_token() -> None:
    assert Redactor().redact("bearer abc") == "bearer abc"


def test_authorization_header_with_bearer_hides_the_token() -> None:
    # The commonest way a bearer token reaches a log: an HTTP Authorization header.
    for text in (
        "Authorization: Bearer abcdefghijklmnop123",
        'curl -H "Authorization: Bearer abcdefghijklmnop123" https://example.invalid',
        '{"authorization": "Bearer abcdefghijklmnop123"}',
    ):
        assert "abcdefghijklmnop123" not in Redactor().redact(text), text


def test_telegram_bot_token() -> None:
    token = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
    text = Redactor().redact(f"telegram token {token} loaded")
    assert token not in text
    assert "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw" not in text
    assert text == "telegram token *** loaded"


def test_telegram_bot_token_in_api_url() -> None:
    # Telegram tokens appear in logs mostly inside Bot API URLs: /bot<token>/method.
    token = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
    text = Redactor().redact(f"POST https://api.telegram.org/bot{token}/sendMessage failed")
    assert "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw" not in text


@pytest.mark.parametrize(
    "key",
    [
        "sk-abcdefghijklmnop",
        "sk-ant-api03-abcdefghijklmnopqrstuvwxyz_012",
        "sk-proj-ABCDEFGHIJKLMNOP1234",
    ],
)
def test_sk_api_keys(key: str) -> None:
    text = Redactor().redact(f"using key {key} for calls")
    assert key not in text
    assert text == "using key *** for calls"


def test_short_sk_is_not_a_key() -> None:
    assert Redactor().redact("task-1 sk-short") == "task-1 sk-short"


@pytest.mark.parametrize("kind", ["", "RSA ", "EC ", "OPENSSH ", "ENCRYPTED "])
def test_pem_private_key_blocks(kind: str) -> None:
    pem = (
        f"-----BEGIN {kind}PRIVATE KEY-----\n"
        "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n"
        "aZ9xq3l+Zk/abc==\n"
        f"-----END {kind}PRIVATE KEY-----"
    )
    text = Redactor().redact(f"loaded key:\n{pem}\ndone")
    assert "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7" not in text
    assert "aZ9xq3l" not in text
    assert text == "loaded key:\n***\ndone"


def test_public_key_block_is_left_alone() -> None:
    pem = "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkq\n-----END PUBLIC KEY-----"
    assert Redactor().redact(pem) == pem


@pytest.mark.parametrize(
    "text",
    [
        "",
        "gateway listening on ws://127.0.0.1:18789 (pid 1234)",
        "the token was rotated yesterday; password policy unchanged",
        "client cli connected (mode=cli, scopes=operator.admin)",
        "request 42 took 12ms",
        "Bearer tokens are described in RFC 6750",
        "see https://docs.example.invalid/auth#tokens",
        "unicode: héllo ✓ 日本語",
        "tokens=5 passwords_changed=2",
    ],
)
def test_ordinary_text_untouched(text: str) -> None:
    assert Redactor(["gateway-secret-xyz"]).redact(text) == text


def test_custom_pattern_without_groups_masks_whole_match() -> None:
    redactor = Redactor(patterns=[r"acct-\d{4}"])
    assert redactor.redact("user acct-1234 ok") == "user *** ok"


def test_custom_pattern_with_keep_group() -> None:
    redactor = Redactor(patterns=[r"(?P<keep>pin=)(?P<secret>\d+)"])
    assert redactor.redact("pin=9876") == "pin=***"


def test_redaction_is_idempotent() -> None:
    redactor = Redactor(["exact-secret"])
    once = redactor.redact('token=abc {"password": "x1"} exact-secret sk-abcdefghijklmnopq')
    assert redactor.redact(once) == once


def test_secret_in_url_query_parameter() -> None:
    # OAuth-style query strings carry credentials as access_token=...
    text = Redactor().redact("GET /callback?access_token=abcdef123456&state=1")
    assert "abcdef123456" not in text


def test_secret_in_env_style_assignment() -> None:
    # The gateway's own environment variable names end in _TOKEN / _PASSWORD.
    text = Redactor().redact(
        "env OPENCLAW_GATEWAY_TOKEN=abcdef123456 OPENCLAW_GATEWAY_PASSWORD=pw9876"
    )
    assert "abcdef123456" not in text
    assert "pw9876" not in text


def test_json_password_with_spaces_is_fully_masked() -> None:
    text = Redactor().redact('{"password": "correct horse battery staple"}')
    assert "horse" not in text
    assert "staple" not in text


# --- known secrets in every form ------------------------------------------------------


def test_a_known_secret_is_masked_url_encoded_too() -> None:
    """Request URLs carry tokens percent-encoded (``:`` → ``%3A``, ``/`` → ``%2F``)."""
    token = "123456:abc/def+ghi"
    redactor = Redactor([token])
    for form in (token, quote(token, safe=""), quote(token)):
        text = redactor.redact(f"POST https://api.example.invalid/bot{form}/sendMessage failed")
        assert form not in text and "abc" not in text, form
        assert text == f"POST https://api.example.invalid/bot{MASK}/sendMessage failed"


def test_the_minimum_secret_length_is_where_masking_starts() -> None:
    short, enough = "x" * (MIN_SECRET_LENGTH - 1), "y" * MIN_SECRET_LENGTH
    redactor = Redactor([short, enough, None])
    assert redactor.redact(f"{short} {enough}") == f"{short} {MASK}"


def test_redact_value_walks_nested_structures() -> None:
    value = {"a": ["gw-secret-1", {"b": ("x", "token=abc123")}], "n": 3, "none": None}
    assert Redactor(["gw-secret-1"]).redact_value(value) == {
        "a": [MASK, {"b": ["x", f"token={MASK}"]}], "n": 3, "none": None}


# --- secret names ---------------------------------------------------------------------


SECRET_NAMES = [
    "OPENCLAW_GATEWAY_TOKEN", "TELEGRAM_BOT_TOKEN", "OPENCLAW_GATEWAY_PASSWORD",
    "OPENAI_API_KEY", "ANTHROPIC_APIKEY", "CLIENT_SECRET", "github_token", "botToken",
    "apiKey", "api-key", "DB_PASSWD", "AUTHORIZATION", "GOOGLE_CREDENTIALS",
    "SSH_PRIVATE_KEY",
]
PLAIN_NAMES = ["HOME", "PATH", "OPENCLAW_PROFILE", "OPENCLAW_STATE_DIR", "LANG", "user"]


@pytest.mark.parametrize("name", SECRET_NAMES)
def test_secret_names_are_judged_alike_in_the_environment_and_in_text(name: str) -> None:
    """One word list: a name the service status hides is also hidden in a log line."""
    assert is_secret_key(name)
    assert Redactor().redact(f"{name}=v4lue-123") == f"{name}={MASK}"
    assert Redactor().redact(json.dumps({name: "v4lue 123"})) == json.dumps({name: MASK})


@pytest.mark.parametrize("name", PLAIN_NAMES)
def test_ordinary_names_are_not_secrets(name: str) -> None:
    assert not is_secret_key(name)
    assert Redactor().redact(f"{name}=v4lue-123") == f"{name}=v4lue-123"


def test_redact_env() -> None:
    env = {
        "OPENCLAW_GATEWAY_TOKEN": "t", "TELEGRAM_BOT_TOKEN": "t2",
        "OPENCLAW_GATEWAY_PASSWORD": "p", "OPENAI_API_KEY": "k", "ANTHROPIC_APIKEY": "k2",
        "CLIENT_SECRET": "s", "github_token": "lower",
        "HOME": "/home/a", "PATH": "/bin", "OPENCLAW_PROFILE": "default",
    }
    redacted = redact_env(env)
    assert redacted == {
        "OPENCLAW_GATEWAY_TOKEN": "***", "TELEGRAM_BOT_TOKEN": "***",
        "OPENCLAW_GATEWAY_PASSWORD": "***", "OPENAI_API_KEY": "***", "ANTHROPIC_APIKEY": "***",
        "CLIENT_SECRET": "***", "github_token": "***",
        "HOME": "/home/a", "PATH": "/bin", "OPENCLAW_PROFILE": "default",
    }
    assert env["OPENCLAW_GATEWAY_TOKEN"] == "t"  # the input is not modified
