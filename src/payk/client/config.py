"""Where a profile lives and the few settings it reads from ``config.toml``.

Strategy: the profile folder is ``--home``, else ``$PAYK_HOME``, else the platform's user data
folder (platformdirs). ``config.toml`` in that folder is optional and holds only settings that
say nothing about the person (timeouts, how many relays carry each contact); names, relays
and keys live in the encrypted store. Unknown keys are refused so a typo is not silently
ignored.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import platformdirs

from payk.errors import UsageError

__all__ = ["CONFIG_FILE", "Config", "default_home", "load_config"]

CONFIG_FILE = "config.toml"
_CARRY_BOUNDS = {"carry_max_count": 1_000_000, "carry_max_mb": 64 * 1024, "carry_max_days": 365}


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    """Client settings.

    Attributes:
        home: the profile folder.
        network_timeout: seconds to wait for one relay operation before moving on.
        mailboxes_per_contact: on how many relays each contact's mailboxes are created.
        downloads: where received files are written (default: the user's download folder).
        retry_base: first retry delay (seconds) for an envelope a relay did not take.
        retry_max: the longest retry delay (seconds).
        proxy: ``socks5://HOST:PORT`` every relay connection goes through (e.g. Tor).
        bridge: an obfs4 bridge line (``obfs4 HOST:PORT cert=... iat-mode=N``).
        via: a forwarding relay (``payk://...``) every envelope is also handed to.
        carry_max_count: envelopes carried for others at most (store-carry-forward).
        carry_max_mb: megabytes carried for others at most.
        carry_max_days: days an envelope is carried at most (from when its sender queued it).
    """

    home: Path
    network_timeout: float = 10.0
    mailboxes_per_contact: int = 2
    downloads: Path | None = None
    retry_base: float = 2.0
    retry_max: float = 300.0
    proxy: str | None = None
    bridge: str | None = None
    via: str | None = None
    carry_max_count: int = 10_000
    carry_max_mb: int = 256
    carry_max_days: int = 14

    def downloads_dir(self) -> Path:
        """The folder received files are saved to."""
        if self.downloads is not None:
            return self.downloads
        return Path(platformdirs.user_downloads_dir()) / "payk"


def default_home(env: dict[str, str] | None = None) -> Path:
    """``$PAYK_HOME`` if set, else the platform's user data folder for payk."""
    value = (os.environ if env is None else env).get("PAYK_HOME")
    return Path(value) if value else Path(platformdirs.user_data_dir("payk"))


def load_config(home: Path) -> Config:
    """The settings of the profile in ``home`` (defaults when there is no config file).

    Raises:
        UsageError: the file is not valid TOML or has unknown or mistyped keys.
    """
    path = home / CONFIG_FILE
    if not path.exists():
        return Config(home=home)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path} is not valid TOML: {exc}") from exc
    known = {f.name for f in fields(Config)}
    unknown = set(raw) - set(known) - {"home"}
    if unknown or "home" in raw:
        raise UsageError(f"{path}: unknown settings {sorted(unknown | ({'home'} & set(raw)))}")
    return Config(home=home, **_typed(raw, path))


def _typed(raw: dict[str, Any], path: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "downloads" and isinstance(value, str):
            out[key] = Path(value).expanduser()
        elif key in {"proxy", "bridge", "via"} and isinstance(value, str):
            out[key] = value
        elif key == "mailboxes_per_contact" and isinstance(value, int) and 1 <= value <= 4:
            out[key] = value
        elif key in _CARRY_BOUNDS and type(value) is int and 0 <= value <= _CARRY_BOUNDS[key]:
            out[key] = value
        elif key in {"network_timeout", "retry_base", "retry_max"} and isinstance(
            value, int | float
        ):
            out[key] = float(value)
        else:
            raise UsageError(f"{path}: {key} has an invalid value {value!r}")
    return out
