-- Envelopes get a plain rowid sequence and the mailbox counters are kept by triggers.
--
-- AUTOINCREMENT wrote sqlite_sequence on every insert. Without it a new envelope's seq is
-- max(seq) + 1, so it still sorts after every envelope stored (per-mailbox FIFO holds); a
-- seq can come back only after the envelope holding it is gone, and seq never leaves the
-- store (clients see the random 16-byte id). The triggers move the env_count/env_bytes
-- bookkeeping into the statement that inserts or deletes, so a send and an ack are one
-- statement each. SQLite cannot drop AUTOINCREMENT in place: the table is copied, seq kept.

CREATE TABLE envelopes_next (
    seq         INTEGER PRIMARY KEY,
    id          BLOB NOT NULL UNIQUE,
    recv_id     BLOB NOT NULL REFERENCES mailboxes (recv_id) ON DELETE CASCADE,
    body        BLOB NOT NULL,
    expires_at  INTEGER NOT NULL
);
INSERT INTO envelopes_next (seq, id, recv_id, body, expires_at)
    SELECT seq, id, recv_id, body, expires_at FROM envelopes ORDER BY seq;
DROP TABLE envelopes;
ALTER TABLE envelopes_next RENAME TO envelopes;
CREATE INDEX envelopes_by_mailbox ON envelopes (recv_id, seq);
CREATE INDEX envelopes_by_expiry ON envelopes (expires_at);

-- Recount once, so the triggers start from exact figures.
UPDATE mailboxes SET
    env_count = (SELECT count(*) FROM envelopes AS e WHERE e.recv_id = mailboxes.recv_id),
    env_bytes = (SELECT coalesce(sum(length(e.body)), 0) FROM envelopes AS e
                 WHERE e.recv_id = mailboxes.recv_id);

CREATE TRIGGER envelopes_counted_in AFTER INSERT ON envelopes BEGIN
    UPDATE mailboxes SET env_count = env_count + 1, env_bytes = env_bytes + length(NEW.body)
    WHERE recv_id = NEW.recv_id;
END;

CREATE TRIGGER envelopes_counted_out AFTER DELETE ON envelopes BEGIN
    UPDATE mailboxes SET env_count = env_count - 1, env_bytes = env_bytes - length(OLD.body)
    WHERE recv_id = OLD.recv_id;
END;
