"""The relay's TLS identity and its configuration helpers."""

from __future__ import annotations

import os
import ssl
import threading
from pathlib import Path

import pytest

from payk.errors import UsageError
from payk.relay.config import RelayConfig, build_config, default_db_url, load_toml, parse_listen
from payk.relay.tls import IDENTITY_FILE, front_fingerprint, load_identity, load_or_create_identity


def test_identity_is_created_once_private_and_reused(tmp_path: Path) -> None:
    first = load_or_create_identity(tmp_path)
    assert (first.path.stat().st_mode & 0o777) == 0o600
    assert load_or_create_identity(tmp_path).fingerprint == first.fingerprint
    assert load_identity(tmp_path).fingerprint == first.fingerprint
    assert isinstance(first.server_context(), ssl.SSLContext)
    assert [p.name for p in tmp_path.iterdir()] == [IDENTITY_FILE]


def test_concurrent_first_starts_agree_on_one_identity(tmp_path: Path) -> None:
    prints: list[bytes] = []
    threads = [
        threading.Thread(
            target=lambda: prints.append(load_or_create_identity(tmp_path).fingerprint)
        )
        for _ in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(prints) == 6 and len(set(prints)) == 1


def test_missing_or_broken_identity_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no relay identity"):
        load_identity(tmp_path)
    (tmp_path / IDENTITY_FILE).write_bytes(b"not a pem")
    with pytest.raises(UsageError):
        load_identity(tmp_path)
    with pytest.raises(UsageError):
        front_fingerprint(tmp_path / IDENTITY_FILE)
    with pytest.raises(UsageError):
        front_fingerprint(tmp_path / "absent.pem")


def test_front_fingerprint_matches_the_relay_identity_format(tmp_path: Path) -> None:
    identity = load_or_create_identity(tmp_path)
    assert front_fingerprint(identity.path) == identity.fingerprint


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:0", ("127.0.0.1", 0)),
        ("[::1]:8443", ("::1", 8443)),
        (":443", ("0.0.0.0", 443)),
        ("relay.example:80", ("relay.example", 80)),
    ],
)
def test_parse_listen(text: str, expected: tuple[str, int]) -> None:
    assert parse_listen(text) == expected


@pytest.mark.parametrize("text", ["127.0.0.1", "host:port", "h:70000", ""])
def test_parse_listen_refuses_nonsense(text: str) -> None:
    with pytest.raises(UsageError):
        parse_listen(text)


def test_advertised_host_never_prints_a_wildcard(tmp_path: Path) -> None:
    base = {"data_dir": tmp_path, "db_url": default_db_url(tmp_path)}
    assert RelayConfig(**base, host="0.0.0.0").advertised_host == "127.0.0.1"
    assert RelayConfig(**base, host="::").advertised_host == "[::1]"
    assert RelayConfig(**base, host="fe80::1").advertised_host == "[fe80::1]"
    assert RelayConfig(**base, host="0.0.0.0", public_host="r.example").advertised_host == (
        "r.example"
    )
    assert default_db_url(tmp_path).startswith("sqlite:///")
    assert os.path.isabs(default_db_url(tmp_path).removeprefix("sqlite://"))


def test_plain_mode_is_loopback_only(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        RelayConfig(data_dir=tmp_path, db_url="memory:", host="0.0.0.0", front_certificate=tmp_path)
    RelayConfig(data_dir=tmp_path, db_url="memory:", host="127.0.0.1", front_certificate=tmp_path)


def test_build_config_checks_names_and_types(tmp_path: Path) -> None:
    config = build_config({"data_dir": str(tmp_path), "pow_bits": 3, "rate": 5})
    assert config.data_dir == tmp_path and config.pow_bits == 3 and config.rate == 5
    assert config.db_url == default_db_url(tmp_path)
    with pytest.raises(UsageError, match="unknown"):
        build_config({"data_dir": str(tmp_path), "pow_bitz": 3})
    with pytest.raises(UsageError, match="must be a int"):
        build_config({"data_dir": str(tmp_path), "pow_bits": "3"})
    with pytest.raises(UsageError):
        build_config({"data_dir": str(tmp_path), "pow_bits": True})
    with pytest.raises(UsageError, match="data folder"):
        build_config({"pow_bits": 3})


def test_load_toml_reads_the_relay_table(tmp_path: Path) -> None:
    path = tmp_path / "relay.toml"
    path.write_text('[relay]\npow_bits = 9\nforward_proxy = "socks5://127.0.0.1:9050"\n')
    assert load_toml(path) == {"pow_bits": 9, "forward_proxy": "socks5://127.0.0.1:9050"}
    path.write_text("pow_bits = [")
    with pytest.raises(UsageError):
        load_toml(path)
    with pytest.raises(UsageError):
        load_toml(tmp_path / "absent.toml")
