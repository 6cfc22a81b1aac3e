"""Attack test fixtures: fast key derivation for the throwaway profiles."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _fast_kdf(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYK_KDF_PROFILE", "fast")
