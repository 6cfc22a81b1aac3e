-- payk profile, schema 3: safety on a seized device (see docs/safety.md).

-- Disappearing messages: when each message is deleted. A row goes with its message.
CREATE TABLE expiry (
    message    INTEGER PRIMARY KEY REFERENCES messages(rowid_) ON DELETE CASCADE,
    expires_at INTEGER NOT NULL
);
CREATE INDEX expiry_due ON expiry (expires_at);

-- The conversation's default timer in seconds (0 = off), set by either side; latest wins.
CREATE TABLE timers (
    contact_id  INTEGER PRIMARY KEY REFERENCES contacts(id) ON DELETE CASCADE,
    seconds     INTEGER NOT NULL,
    set_at      INTEGER NOT NULL,
    set_by_peer INTEGER NOT NULL
);

-- Filler that keeps the database file in the same size class as its sibling file.
CREATE TABLE padding (
    id   INTEGER PRIMARY KEY,
    data BLOB NOT NULL
);
