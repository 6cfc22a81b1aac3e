-- payk profile, schema 9: a contact's session in two parts (see payk/client/contacts.py).

-- The part of a pairwise session that changes with every message (ratchet, epochs, Olm),
-- kept apart from the contact row so that a send rewrites one small row. contacts.session
-- then holds only the part fixed once the peer's identity is known. A contact without a row
-- here still has its whole session in contacts.session (saved before schema 9); its next
-- save splits it.
CREATE TABLE session_ratchets (
    contact_id INTEGER PRIMARY KEY REFERENCES contacts(id) ON DELETE CASCADE,
    state      BLOB NOT NULL
);
