-- Announced releases owe their discharge (deadline kind `discharge`).
-- The announcements stored before this migration have no deadline row,
-- and their planned day is only in the sealed event: the gateway writes
-- their rows at its next start and takes them off this list.
CREATE TABLE deadline_backfill (
    case_id TEXT PRIMARY KEY
);
INSERT INTO deadline_backfill (case_id) SELECT id FROM cases WHERE state = 'announced';
