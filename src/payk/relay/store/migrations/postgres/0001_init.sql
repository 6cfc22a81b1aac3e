-- payk relay store, PostgreSQL: mailboxes, envelopes, feeds, forward queue.
-- Runs with search_path set to the store's schema. Counters on the mailbox row serialise
-- concurrent enqueues to one mailbox (row lock) and make the quota check O(1).

CREATE TABLE mailboxes (
    recv_id     BYTEA PRIMARY KEY,
    send_id     BYTEA NOT NULL UNIQUE,
    auth_key    BYTEA NOT NULL,
    created_at  BIGINT NOT NULL,
    env_count   BIGINT NOT NULL DEFAULT 0,
    env_bytes   BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE envelopes (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id          BYTEA NOT NULL UNIQUE,
    recv_id     BYTEA NOT NULL REFERENCES mailboxes (recv_id) ON DELETE CASCADE,
    body        BYTEA NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX envelopes_by_mailbox ON envelopes (recv_id, seq);
CREATE INDEX envelopes_by_expiry ON envelopes (expires_at);

CREATE TABLE feeds (
    feed_id     BYTEA PRIMARY KEY,
    writer_key  BYTEA NOT NULL,
    created_at  BIGINT NOT NULL,
    next_pos    BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE feed_entries (
    feed_id     BYTEA NOT NULL REFERENCES feeds (feed_id) ON DELETE CASCADE,
    pos         BIGINT NOT NULL,
    body        BYTEA NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (feed_id, pos)
);

CREATE TABLE forwards (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    target      TEXT NOT NULL,
    send_id     BYTEA NOT NULL,
    body        BYTEA NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_at     BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX forwards_by_due ON forwards (next_at, id);
CREATE INDEX forwards_by_expiry ON forwards (expires_at);
