-- payk relay store, SQLite: mailboxes, envelopes, feeds, forward queue.
-- Counters on the mailbox row make the quota check O(1) inside the inserting transaction.

CREATE TABLE mailboxes (
    recv_id     BLOB PRIMARY KEY,
    send_id     BLOB NOT NULL UNIQUE,
    auth_key    BLOB NOT NULL,
    created_at  INTEGER NOT NULL,
    env_count   INTEGER NOT NULL DEFAULT 0,
    env_bytes   INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE TABLE envelopes (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          BLOB NOT NULL UNIQUE,
    recv_id     BLOB NOT NULL REFERENCES mailboxes (recv_id) ON DELETE CASCADE,
    body        BLOB NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX envelopes_by_mailbox ON envelopes (recv_id, seq);
CREATE INDEX envelopes_by_expiry ON envelopes (expires_at);

CREATE TABLE feeds (
    feed_id     BLOB PRIMARY KEY,
    writer_key  BLOB NOT NULL,
    created_at  INTEGER NOT NULL,
    next_pos    INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE TABLE feed_entries (
    feed_id     BLOB NOT NULL REFERENCES feeds (feed_id) ON DELETE CASCADE,
    pos         INTEGER NOT NULL,
    body        BLOB NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (feed_id, pos)
) WITHOUT ROWID;

CREATE TABLE forwards (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    target      TEXT NOT NULL,
    send_id     BLOB NOT NULL,
    body        BLOB NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_at     INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX forwards_by_due ON forwards (next_at, id);
CREATE INDEX forwards_by_expiry ON forwards (expires_at);
