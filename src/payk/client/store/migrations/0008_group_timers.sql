-- payk profile, schema 8: disappearing messages in groups (see docs/safety.md).

-- When each group message is deleted. A row goes with its message.
CREATE TABLE group_expiry (
    message    INTEGER PRIMARY KEY REFERENCES group_messages(rowid_) ON DELETE CASCADE,
    expires_at INTEGER NOT NULL
);
CREATE INDEX group_expiry_due ON group_expiry (expires_at);

-- Ids of disappeared group messages, so reading the feed again (a rescan, a rejoin) does not
-- store them anew. Only the random id is kept, nothing of the message.
CREATE TABLE group_gone (
    group_ref INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    msg_id    BLOB NOT NULL,
    PRIMARY KEY (group_ref, msg_id)
);

-- The group's default timer in seconds (0 = off), set by any member; latest set_at wins.
CREATE TABLE group_timers (
    group_ref INTEGER PRIMARY KEY REFERENCES groups(id) ON DELETE CASCADE,
    seconds   INTEGER NOT NULL,
    set_at    INTEGER NOT NULL,
    set_by    TEXT NOT NULL,          -- the member's name as the group log shows it
    by_me     INTEGER NOT NULL
);
