"""Numbered SQL migrations of the relay store, shipped inside the package.

Strategy: ``<dialect>/NNNN_name.sql`` files are applied in ascending NNNN order, each in its
own transaction together with a row in ``payk_schema_version``; a store applies only the
versions greater than the highest recorded one. Files are never edited once released: a
change is a new, higher-numbered file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from typing import Literal

__all__ = ["Migration", "load"]

_NAME_RE = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True, slots=True, kw_only=True)
class Migration:
    """One numbered SQL script."""

    version: int
    name: str
    sql: str


def load(dialect: Literal["sqlite", "postgres"]) -> list[Migration]:
    """The migrations of ``dialect`` in the order they must be applied."""
    folder = resources.files(__name__).joinpath(dialect)
    found: list[Migration] = []
    for entry in folder.iterdir():
        match = _NAME_RE.match(entry.name)
        if match is not None:
            text = entry.read_text(encoding="utf-8")
            found.append(Migration(version=int(match[1]), name=entry.name, sql=text))
    found.sort(key=lambda m: m.version)
    return found
