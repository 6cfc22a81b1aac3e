"""The layering in STYLE.md holds: the protocol core does no I/O, the relay cannot read."""

from __future__ import annotations

import subprocess
import sys


def _modules_loaded_by(statement: str) -> set[str]:
    code = f"import sys; {statement}; print('\\n'.join(sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    return set(out.split())


def test_protocol_core_loads_no_io_modules() -> None:
    loaded = _modules_loaded_by(
        "import payk.protocol, pkgutil, importlib; "
        "[importlib.import_module('payk.protocol.' + m.name) "
        "for m in pkgutil.iter_modules(payk.protocol.__path__)]"
    )
    assert {"asyncio", "socket", "sqlite3"}.isdisjoint(loaded), sorted(
        {"asyncio", "socket", "sqlite3"} & loaded
    )


def test_the_check_sees_io_modules() -> None:
    """Negative control: the probe above would notice an I/O import."""
    assert "socket" in _modules_loaded_by("import socket")
