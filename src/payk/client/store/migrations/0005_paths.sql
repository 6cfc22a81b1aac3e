-- payk profile, schema 5: envelopes carried for others (store-carry-forward) and LAN peers.

-- Sealed envelopes this profile carries for someone else's mailbox, learned from a bundle or
-- a LAN peer, until a relay or another peer takes them. Bounded in count, size and age by
-- the client (oldest dropped first); digest makes carrying the same envelope twice a no-op.
CREATE TABLE carried (
    id          INTEGER PRIMARY KEY,
    digest      BLOB NOT NULL UNIQUE,       -- SHA-256 of send_id || envelope
    relay       TEXT NOT NULL,
    send_id     BLOB NOT NULL,
    envelope    BLOB NOT NULL,
    created_at  INTEGER NOT NULL,           -- when the sender first queued it
    received_at INTEGER NOT NULL
);
CREATE INDEX carried_send_id ON carried (send_id);
CREATE INDEX carried_created ON carried (created_at);
