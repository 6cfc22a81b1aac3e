-- payk profile, schema 2: groups and channels (everything still inside the SQLCipher file).

-- A group we belong to (or asked to join), or a channel we run or follow.
CREATE TABLE groups (
    id          INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL,            -- 'group' | 'channel'
    name        TEXT NOT NULL UNIQUE,     -- the local name send/history use
    relay       TEXT NOT NULL,            -- the relay holding the feed
    feed_id     BLOB NOT NULL,
    writer_seed BLOB,                     -- the feed's writer key (members, channel admins)
    state       BLOB NOT NULL,            -- protocol state (GroupMember keys, channel keys)
    roster      BLOB NOT NULL DEFAULT x'', -- a group's verified roster (rewritten only by ops)
    next_offset INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    UNIQUE (relay, feed_id)
);

-- Messages, polls, votes and events of groups and channels.
CREATE TABLE group_messages (
    rowid_    INTEGER PRIMARY KEY,
    group_ref INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    msg_id    BLOB NOT NULL,
    sender    TEXT NOT NULL,
    outgoing  INTEGER NOT NULL,
    kind      TEXT NOT NULL,              -- text | poll | vote | event
    text      TEXT,
    data      BLOB,                       -- the encoded content (polls, votes, events)
    sent_at   INTEGER NOT NULL,
    stored_at INTEGER NOT NULL,
    status    TEXT NOT NULL,              -- queued | sent (outgoing), received (incoming)
    UNIQUE (group_ref, msg_id)
);

-- Sealed feed entries waiting to be appended, in order.
CREATE TABLE group_outbox (
    id        INTEGER PRIMARY KEY,
    group_ref INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    envelope  BLOB NOT NULL,
    message   INTEGER REFERENCES group_messages(rowid_) ON DELETE SET NULL
);
