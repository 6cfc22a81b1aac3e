"""Relay storage: one small Protocol (``base``) and three backends chosen by URL.

Strategy: ``open_store`` maps a ``--db`` URL to a backend and imports that backend only
when asked for, so a SQLite relay never loads asyncpg:

* ``sqlite:///ABS/PATH.db`` (absolute) or ``sqlite:REL/PATH.db`` (relative to ``data_dir``,
  or to the working directory without one);
* ``postgresql://...`` or ``postgres://...``; an optional ``schema=NAME`` query parameter
  puts the tables in that schema (created if missing), other query parameters go to asyncpg;
* ``memory:``, the in-process twin (nothing is kept).

The returned store is not open yet: ``await store.open()`` connects and migrates.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from payk.errors import UsageError
from payk.relay.store.base import (
    FORWARD_LEASE_SECONDS,
    AlreadyExists,
    FeedEntry,
    ForwardJob,
    Limits,
    QuotaExceeded,
    RelayStore,
    StoredEnvelope,
    UnknownFeed,
    UnknownMailbox,
)

__all__ = [
    "FORWARD_LEASE_SECONDS",
    "AlreadyExists",
    "FeedEntry",
    "ForwardJob",
    "Limits",
    "QuotaExceeded",
    "RelayStore",
    "StoredEnvelope",
    "UnknownFeed",
    "UnknownMailbox",
    "open_store",
]


def open_store(
    url: str, *, limits: Limits | None = None, data_dir: Path | None = None
) -> RelayStore:
    """Build the store a ``--db`` URL names (not yet opened).

    Raises:
        UsageError: the URL names no supported backend or no usable path.
    """
    if url == "memory:":
        from payk.relay.store.memory import MemoryStore

        return MemoryStore(limits=limits)
    if url.startswith("sqlite:"):
        from payk.relay.store.sqlite import SqliteStore

        return SqliteStore(_sqlite_path(url, data_dir), limits=limits)
    if url.startswith(("postgresql://", "postgres://")):
        from payk.relay.store.postgres import PostgresStore

        dsn, schema = _split_schema(url)
        return PostgresStore(dsn, schema=schema, limits=limits)
    raise UsageError("the database URL must start with sqlite:, postgresql:// or memory:")


def _sqlite_path(url: str, data_dir: Path | None) -> Path:
    rest = url.removeprefix("sqlite:")
    if rest.startswith("///"):
        return Path("/" + rest.lstrip("/"))
    if rest.startswith("/"):
        raise UsageError("write a SQLite URL as sqlite:///ABSOLUTE/PATH or sqlite:RELATIVE/PATH")
    if not rest:
        raise UsageError("a SQLite URL needs a file path")
    return (data_dir or Path()) / rest


def _split_schema(url: str) -> tuple[str, str | None]:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schemas = [value for key, value in query if key == "schema"]
    if len(schemas) > 1:
        raise UsageError("give the PostgreSQL schema at most once")
    rest = urlencode([(key, value) for key, value in query if key != "schema"])
    return urlunsplit(parts._replace(query=rest)), (schemas[0] if schemas else None)
