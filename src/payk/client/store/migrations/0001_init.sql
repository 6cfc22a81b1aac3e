-- payk profile, schema 1. Everything here is inside the SQLCipher-encrypted file.

-- Profile facts: 'name' (text), 'identity' (pickled, wrapped with the pickle key).
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
) WITHOUT ROWID;

-- The relays this profile uses, in the order the person gave them.
CREATE TABLE relays (
    address  TEXT PRIMARY KEY,
    position INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE contacts (
    id         INTEGER PRIMARY KEY,
    alias      TEXT NOT NULL UNIQUE,
    peer       BLOB NOT NULL,            -- their two Olm identity keys (what safety codes cover)
    session    BLOB NOT NULL,            -- pickled pairwise session (wrapped)
    verified   INTEGER NOT NULL DEFAULT 0,
    named_by_peer INTEGER NOT NULL DEFAULT 0,  -- alias is a placeholder until their hello
    created_at INTEGER NOT NULL
);

-- Invitations we created: the secret is erased once the invitation is used.
CREATE TABLE invitations (
    invite_id  BLOB PRIMARY KEY,
    secret     BLOB,
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    contact_id INTEGER REFERENCES contacts(id) ON DELETE SET NULL
) WITHOUT ROWID;

-- Invitations we accepted (a link can be accepted once).
CREATE TABLE accepted (
    invite_id  BLOB PRIMARY KEY,
    contact_id INTEGER REFERENCES contacts(id) ON DELETE CASCADE
) WITHOUT ROWID;

-- Mailboxes we read from. A mailbox belongs to an invitation until its handshake arrives,
-- then to the contact.
CREATE TABLE mailboxes (
    id         INTEGER PRIMARY KEY,
    relay      TEXT NOT NULL,
    recv_id    BLOB NOT NULL,
    send_id    BLOB NOT NULL,
    auth_seed  BLOB NOT NULL,
    contact_id INTEGER REFERENCES contacts(id) ON DELETE CASCADE,
    invite_id  BLOB,
    UNIQUE (relay, recv_id)
);

-- Mailboxes we write to, per contact.
CREATE TABLE targets (
    contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    relay      TEXT NOT NULL,
    send_id    BLOB NOT NULL,
    PRIMARY KEY (contact_id, relay, send_id)
) WITHOUT ROWID;

-- The conversation. status: queued | sent | delivered (outgoing), received | partial (incoming).
CREATE TABLE messages (
    rowid_     INTEGER PRIMARY KEY,
    contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    msg_id     BLOB NOT NULL,
    outgoing   INTEGER NOT NULL,
    text       TEXT,
    file_name  TEXT,
    file_size  INTEGER,
    file_path  TEXT,
    sent_at    INTEGER NOT NULL,
    stored_at  INTEGER NOT NULL,
    status     TEXT NOT NULL,
    paths      INTEGER NOT NULL DEFAULT 0,
    UNIQUE (contact_id, msg_id)
);

-- Sealed envelopes waiting for a relay: one row per (envelope, target mailbox).
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    contact_id      INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    message         INTEGER REFERENCES messages(rowid_) ON DELETE CASCADE,
    envelope        BLOB NOT NULL,
    relay           TEXT NOT NULL,
    send_id         BLOB NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL DEFAULT 0
);
CREATE INDEX outbox_target ON outbox (relay, send_id, id);

-- Envelope ids already processed: duplicates from other relays are dropped before decryption.
CREATE TABLE seen (
    envelope_id BLOB PRIMARY KEY,
    seen_at     INTEGER NOT NULL
) WITHOUT ROWID;

-- Incoming files: the offer, the sealed chunks as they arrive, the verified content.
CREATE TABLE files_in (
    file_id    BLOB PRIMARY KEY,
    contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    message    INTEGER NOT NULL REFERENCES messages(rowid_) ON DELETE CASCADE,
    size       INTEGER NOT NULL,
    sha256     BLOB NOT NULL,
    chunks     INTEGER NOT NULL,
    key        BLOB NOT NULL
) WITHOUT ROWID;

CREATE TABLE chunks_in (
    file_id BLOB NOT NULL,
    idx     INTEGER NOT NULL,
    sealed  BLOB NOT NULL,
    PRIMARY KEY (file_id, idx)
) WITHOUT ROWID;

CREATE TABLE file_data (
    message INTEGER PRIMARY KEY REFERENCES messages(rowid_) ON DELETE CASCADE,
    data    BLOB NOT NULL
);
