-- payk profile, schema 4: the evidence vault (payk.evidence). Inside the encrypted file.

-- Every item: the file exactly as added or received, its signed statement, and the private
-- object (GPS, device) the statement commits to. leaf_index is the item's place in this
-- profile's own log; items received from a contact have none and keep instead, in origin,
-- where they came from and the sender's signed tree head and inclusion proof (JSON).
CREATE TABLE evidence_items (
    id         BLOB PRIMARY KEY,
    name       TEXT NOT NULL,
    data       BLOB NOT NULL,
    statement  BLOB NOT NULL,
    signature  BLOB NOT NULL,
    private    BLOB,
    leaf_index INTEGER UNIQUE,
    added_at   INTEGER NOT NULL,
    origin     BLOB
) WITHOUT ROWID;

-- The append-only log: the leaf hash of each statement, in order. Rows are never changed.
CREATE TABLE evidence_log (
    idx       INTEGER PRIMARY KEY,
    leaf_hash BLOB NOT NULL,
    item      BLOB NOT NULL REFERENCES evidence_items(id)
);

CREATE TRIGGER evidence_log_no_update BEFORE UPDATE ON evidence_log
BEGIN SELECT RAISE(ABORT, 'the evidence log is append-only'); END;

CREATE TRIGGER evidence_items_no_update BEFORE UPDATE ON evidence_items
BEGIN SELECT RAISE(ABORT, 'evidence items are never changed'); END;

-- A signed tree head for every size the log has had (signed when the item was added).
CREATE TABLE evidence_heads (
    size      INTEGER PRIMARY KEY,
    head      BLOB NOT NULL,
    signature BLOB NOT NULL
) WITHOUT ROWID;
