-- payk profile, schema 7: a group's feed on more than one relay.

-- Further copies of a group's feed (the first stays in groups.relay / groups.feed_id).
CREATE TABLE feed_mirrors (
    id          INTEGER PRIMARY KEY,
    group_ref   INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    relay       TEXT NOT NULL,
    feed_id     BLOB NOT NULL,
    writer_seed BLOB,
    next_offset INTEGER NOT NULL DEFAULT 0,
    UNIQUE (group_ref, relay, feed_id)
);

-- Sealed entries waiting to be appended to one copy, in order.
CREATE TABLE mirror_outbox (
    id         INTEGER PRIMARY KEY,
    mirror_ref INTEGER NOT NULL REFERENCES feed_mirrors(id) ON DELETE CASCADE,
    envelope   BLOB NOT NULL
);

-- Hashes of the entries already read from any copy, so the same entry is handled once.
CREATE TABLE feed_seen (
    group_ref INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    digest    BLOB NOT NULL,
    PRIMARY KEY (group_ref, digest)
);
