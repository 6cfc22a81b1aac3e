"""The encrypted local store: one SQLCipher database, opened with a raw key.

Strategy: the database file is encrypted page by page with the key derived from the
passphrase (see ``header``), so names, messages and keys are all unreadable without it.
SQLCipher only notices a wrong key on the first read; ``open`` makes that read at once and
turns it into ``AuthenticationError`` before anything can be written. Schema changes are the
numbered files in ``migrations/``, applied in order inside a transaction and recorded in
``PRAGMA user_version``. Callers group writes with ``transaction()``: a ratchet step and the
message it protects are committed together or not at all. Library errors become
``StorageError`` here (a full disk says so).
"""

from __future__ import annotations

import importlib.resources
import re
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeAlias

import sqlcipher3

from payk.errors import AuthenticationError, StorageError

__all__ = ["Database", "Row"]

Row: TypeAlias = Any  # a sqlcipher3.Row: index by position or column name
Params = Sequence[Any] | dict[str, Any]
_MIGRATION_RE = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def _storage_error(exc: Exception) -> StorageError:
    text = str(exc)
    if "full" in text:
        return StorageError("the disk is full; nothing already stored was lost")
    if "locked" in text or "busy" in text:
        return StorageError("the profile is in use by another payk process")
    return StorageError(f"the local store failed: {text}")


class Database:
    """A SQLCipher connection with transactions and error conversion."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self._depth = 0
        self._unsynced = False  # a commit since the last durable one did not wait for the disk
        self._durable = True  # the connection's synchronous level is FULL (else NORMAL)
        self._deferred = False  # a transaction is open whose commit was left for later
        self._staged: dict[Hashable, tuple[Any, Callable[[], None]]] = {}  # see stage

    @classmethod
    def open(cls, path: Path, key: bytes) -> Database:
        """Open (or create) the database at ``path`` with the 32-byte raw ``key``.

        Raises:
            AuthenticationError: the key does not open this database.
            StorageError: the file cannot be opened or migrated.
        """
        try:
            conn = sqlcipher3.connect(str(path), isolation_level=None, check_same_thread=False)
        except sqlcipher3.Error as exc:
            raise _storage_error(exc) from exc
        conn.row_factory = sqlcipher3.Row
        try:
            conn.execute("PRAGMA cipher_log_level = NONE")  # a wrong key is our error, not a log
            conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlcipher3.DatabaseError as exc:
            conn.close()
            raise AuthenticationError("wrong passphrase") from exc
        db = cls(conn)
        try:
            db._configure()
            db._migrate()
        except sqlcipher3.Error as exc:
            conn.close()
            raise _storage_error(exc) from exc
        return db

    def _configure(self) -> None:
        for pragma in (
            "journal_mode = WAL",
            "synchronous = FULL",
            "foreign_keys = ON",
            "busy_timeout = 5000",
            "secure_delete = ON",
            "temp_store = MEMORY",  # sorts and temporary tables never reach a temp file
        ):
            self._conn.execute(f"PRAGMA {pragma}")

    def _migrate(self) -> None:
        current = self._conn.execute("PRAGMA user_version").fetchone()[0]
        for number, sql in _migrations():
            if number <= current:
                continue
            try:
                self._conn.executescript(f"BEGIN;\n{sql}\nPRAGMA user_version = {number};\nCOMMIT;")
            except sqlcipher3.Error:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise

    @contextmanager
    def transaction(self, *, durable: bool = True, defer: bool = False) -> Iterator[Database]:
        """Everything inside commits together, or nothing does (nested calls join the outer).

        ``durable=False`` commits without waiting for the disk (``synchronous = NORMAL``; the
        level stays until a durable commit or a statement outside a transaction needs FULL
        again, so a burst of sends sets it once): a power cut may undo it, a crashed process
        never does, and the next durable commit (or ``sync``) makes it durable too (the
        write-ahead log is written in order and one fsync covers it all). For bookkeeping whose
        loss repeats work (an outbox row deleted after the relay took it: lost, the envelope is
        sent again and the receiver drops the copy), and for a ratchet step only if ``sync``
        runs before its envelope leaves the device (``outbox.pending`` does that).

        ``defer=True`` (implies ``durable=False``) leaves the transaction open when the block
        ends, so that the next deferred block joins it and a burst of sends pays for one commit
        of the pages they share (the message and outbox pages, the ratchet row). ``commit``
        ends it, and so does whatever comes first of ``sync``, a block that is not deferred
        (which joins it and commits both), a write outside a transaction and ``close``. Until
        then a crashed process loses the deferred blocks, all of them and nothing else.

        Raises:
            StorageError: the commit failed (the transaction was rolled back).
        """
        if self._depth:
            self._depth += 1
            try:
                yield self
            finally:
                self._depth -= 1
            return
        if self._deferred:
            yield from self._join(commit=not defer, durable=durable and not defer)
            return
        self._synchronous(durable and not defer)
        try:
            self._run("BEGIN IMMEDIATE")
            self._depth = 1
            yield self
            if defer:
                self._deferred = True
                return
            self._write_staged()
            self._run("COMMIT")
            self._unsynced = not durable
        except BaseException:
            self._rollback()
            raise
        finally:
            self._depth = 0

    def _join(self, *, commit: bool, durable: bool) -> Iterator[Database]:
        """A block inside the open deferred transaction: a savepoint, so that failing it undoes
        only its own work; with ``commit``, the whole transaction commits after it, and with
        ``durable`` that commit is made durable before the block is done (``sync``: the level
        of an open transaction cannot change)."""
        self._depth = 1
        try:
            self._run("SAVEPOINT joined")
            try:
                yield self
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK TO joined")
                raise
            finally:
                if self._conn.in_transaction:
                    self._conn.execute("RELEASE joined")
        finally:
            self._depth = 0
        if commit:
            self.commit()
        if durable:
            self.sync()

    def commit(self) -> None:
        """Commit the deferred transaction, if one is open, without waiting for the disk
        (``sync`` waits). On failure nothing of it is kept.

        Raises:
            StorageError: the commit failed.
        """
        if not self._deferred or self._depth:
            return
        self._deferred = False
        try:
            self._depth = 1
            self._write_staged()
            self._run("COMMIT")
        except BaseException:
            self._rollback()
            raise
        finally:
            self._depth = 0
        self._unsynced = True

    def stage(self, name: Hashable, value: Any, write: Callable[[], None]) -> None:
        """Leave a write to just before the transaction commits: ``write`` runs then, once,
        inside it, and ``staged(name)`` gives ``value`` back until then. Staging ``name`` again
        replaces both, so a state that changes many times in a transaction (a ratchet in a
        burst of sends or a batch of pushes) is written once. A rollback drops what is staged;
        a block that fails inside a deferred transaction (see ``transaction``) does not, so a
        value it changed is written as it left it. Outside a transaction ``write`` runs now.
        """
        if not self._depth and not self._deferred:
            write()
            return
        self._staged[name] = (value, write)

    def staged(self, name: Hashable) -> Any:
        """The value staged under ``name`` in the open transaction, or None."""
        found = self._staged.get(name)
        return None if found is None else found[0]

    def _write_staged(self) -> None:
        while self._staged:  # in the order first staged; a write may stage another
            _, write = self._staged.pop(next(iter(self._staged)))
            write()

    def _rollback(self) -> None:
        self._staged.clear()
        if self._conn.in_transaction:
            self._conn.execute("ROLLBACK")

    def _synchronous(self, durable: bool) -> None:
        """Set the level the next commit uses (read at commit; not allowed inside a
        transaction). It stays set, so a run of commits of one kind sets it once."""
        if durable != self._durable:
            self._run(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
            self._durable = durable

    def _writing(self) -> None:
        """Before a write: outside a transaction it commits by itself, and durably (after the
        deferred transaction, which it would otherwise join)."""
        if not self._depth:
            self.commit()
            self._synchronous(True)

    def sync(self) -> None:
        """Commit the deferred transaction, then make every commit so far durable (one fsync),
        if one of them did not wait."""
        self.commit()
        if self._unsynced and not self._depth:
            with self.transaction():  # a durable commit fsyncs the whole write-ahead log
                self._run("INSERT OR REPLACE INTO meta (key, value) VALUES ('synced', x'')")

    def _run(self, sql: str, params: Params = ()) -> Any:
        try:
            return self._conn.execute(sql, params)
        except sqlcipher3.Error as exc:
            raise _storage_error(exc) from exc

    def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; returns the row id it inserted, or 0 (also for an ignored insert:
        SQLite's ``lastrowid`` would still name the previous insert)."""
        self._writing()
        cursor = self._run(sql, params)
        return int(cursor.lastrowid or 0) if cursor.rowcount != 0 else 0

    def execute_many(self, sql: str, rows: Sequence[Params]) -> None:
        """Run one statement for each parameter set."""
        self._writing()
        try:
            self._conn.executemany(sql, rows)
        except sqlcipher3.Error as exc:
            raise _storage_error(exc) from exc

    def changes(self, sql: str, params: Params = ()) -> int:
        """Run one statement; returns how many rows it changed."""
        self._writing()
        return int(self._run(sql, params).rowcount)

    def query(self, sql: str, params: Params = ()) -> list[Row]:
        """All rows of a query."""
        return list(self._run(sql, params).fetchall())

    def one(self, sql: str, params: Params = ()) -> Row | None:
        """The first row of a query, or None."""
        row: Row | None = self._run(sql, params).fetchone()
        return row

    def close(self) -> None:
        """Commit the deferred transaction and close the connection (a checkpoint folds the
        WAL back into the file)."""
        try:
            self.commit()
        finally:
            self._close()

    def _close(self) -> None:
        try:
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlcipher3.Error:
            pass
        self._conn.close()


def _migrations() -> list[tuple[int, str]]:
    folder = importlib.resources.files("payk.client.store") / "migrations"
    found = []
    for entry in folder.iterdir():
        match = _MIGRATION_RE.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.read_text(encoding="utf-8")))
    return sorted(found)
