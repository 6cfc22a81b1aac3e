"""open_store picks a backend from a URL; migrations ship inside the package."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

import payk.relay.store as store_pkg
from payk.errors import UsageError
from payk.relay.store import base, memory, migrations, open_store, sqlite
from payk.relay.store.memory import MemoryStore
from payk.relay.store.sqlite import SqliteStore


def test_memory_url() -> None:
    limits = store_pkg.Limits(mailbox_max_count=3)
    store = open_store("memory:", limits=limits)
    assert isinstance(store, MemoryStore) and store.limits == limits


def test_absolute_sqlite_url(tmp_path: Path) -> None:
    store = open_store(f"sqlite://{tmp_path}/relay.db", data_dir=Path("/elsewhere"))
    assert isinstance(store, SqliteStore) and store.path == tmp_path / "relay.db"
    extra = open_store(f"sqlite:///{tmp_path}/relay.db")
    assert isinstance(extra, SqliteStore) and extra.path == tmp_path / "relay.db"


def test_relative_sqlite_url_lives_under_data_dir(tmp_path: Path) -> None:
    store = open_store("sqlite:relay/relay.db", data_dir=tmp_path)
    assert isinstance(store, SqliteStore) and store.path == tmp_path / "relay" / "relay.db"
    bare = open_store("sqlite:relay.db")
    assert isinstance(bare, SqliteStore) and bare.path == Path("relay.db")


@pytest.mark.parametrize(
    "url", ["", "mysql://x/y", "sqlite:", "sqlite://host/x.db", "memory", "http://x", "sqlite:/x"]
)
def test_unsupported_urls_are_usage_errors(url: str) -> None:
    with pytest.raises(UsageError):
        open_store(url)


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_postgres_url_with_schema(scheme: str) -> None:
    from payk.relay.store.postgres import PostgresStore

    store = open_store(f"{scheme}://u@h:5/db?schema=relay_one&sslmode=disable")
    assert isinstance(store, PostgresStore)
    assert store.schema == "relay_one"
    assert store.channel == "payk_relay.relay_one"
    plain = open_store(f"{scheme}://u@h:5/db")
    assert isinstance(plain, PostgresStore) and plain.schema is None


@pytest.mark.parametrize("schema", ["Bad", "x;drop", "1abc", "a" * 64])
def test_postgres_schema_names_are_checked(schema: str) -> None:
    with pytest.raises(UsageError):
        open_store(f"postgresql://u@h/db?schema={schema}")
    with pytest.raises(UsageError):
        open_store("postgresql://u@h/db?schema=a&schema=b")


@pytest.mark.parametrize("dialect", ["sqlite", "postgres"])
def test_migrations_are_numbered_and_ship_in_the_package(dialect: str) -> None:
    steps = migrations.load(dialect)  # type: ignore[arg-type]
    assert [s.version for s in steps] == list(range(1, len(steps) + 1))
    assert steps[0].name == "0001_init.sql"
    assert "CREATE TABLE envelopes" in steps[0].sql
    folder = Path(migrations.__file__).parent / dialect
    assert folder.is_dir() and Path(store_pkg.__file__).parent in folder.parents


@pytest.mark.parametrize("module", [store_pkg, base, memory, sqlite, migrations])
def test_all_lists_only_public_names_that_exist(module: object) -> None:
    names = module.__all__  # type: ignore[attr-defined]
    assert names == sorted(names, key=lambda n: (not n.isupper(), n))
    assert all(hasattr(module, name) and not name.startswith("_") for name in names)


@pytest.mark.postgres
async def test_postgres_url_schema_holds_the_tables() -> None:
    import asyncpg

    from tests.relay.store.conftest import drop_schema, pg_dsn

    dsn = pg_dsn()
    schema = f"payk_test_url_{secrets.token_hex(4)}"
    store = open_store(f"{dsn}?schema={schema}")
    try:
        await store.open()
        await store.create_feed(feed_id=b"f" * 16, writer_key=b"w" * 32, now=1)
        conn = await asyncpg.connect(dsn)
        try:
            count = await conn.fetchval(f'SELECT count(*) FROM "{schema}".feeds')
            versions = f'SELECT max(version) FROM "{schema}".payk_schema_version'
            version = await conn.fetchval(versions)
        finally:
            await conn.close()
        assert (count, version) == (1, 1)
    finally:
        await store.close()
        await drop_schema(dsn, schema)
