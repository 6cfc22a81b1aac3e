-- payk profile, schema 6: read receipts and replies.

-- read_at: when the person first viewed an incoming message (a read receipt went back then).
-- reply_to: the id of the message this one answers, in the same conversation.
ALTER TABLE messages ADD COLUMN read_at INTEGER;
ALTER TABLE messages ADD COLUMN reply_to BLOB;
