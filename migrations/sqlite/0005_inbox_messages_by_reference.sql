-- Inbox messages refer to the event they announce instead of copying it.
-- A notice is the event and the case as it stood right after it, and both
-- are already stored (case_events): a copy cost about 1.3 KB sealed per
-- recipient, three per discharge, and each spilled into an overflow page
-- of its own (a WITHOUT ROWID row keeps only about 1 KB on its page), so a
-- discharge wrote about 15 KB of inbox pages. A reference is about 80
-- bytes, and there is one sealed copy of a person's data fewer.
--
-- A message written by an older version keeps its sealed copy (body); a
-- new one has the case event's sequence and the recipient's role instead.
CREATE TABLE inbox_messages_new (
    agency_id  TEXT NOT NULL,
    position   INTEGER NOT NULL,
    case_id    TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    sequence   INTEGER,
    role       TEXT,
    body       TEXT,
    PRIMARY KEY (agency_id, position),
    CHECK (body IS NOT NULL OR (sequence IS NOT NULL AND role IS NOT NULL))
) WITHOUT ROWID;
INSERT INTO inbox_messages_new (agency_id, position, case_id, created_at, body)
SELECT agency_id, position, case_id, created_at, body FROM inbox_messages;
DROP TABLE inbox_messages;
ALTER TABLE inbox_messages_new RENAME TO inbox_messages;
