-- Inbox messages refer to the event they announce instead of copying it
-- (see migrations/sqlite/0005 and src/storage/messages.rs): a notice is
-- the event and the case right after it, both stored in case_events
-- already. A message written before keeps its sealed copy (body); a new
-- one has the event's sequence and the recipient's role instead.
ALTER TABLE inbox_messages
    ADD COLUMN sequence BIGINT,
    ADD COLUMN role TEXT,
    ALTER COLUMN body DROP NOT NULL,
    ADD CONSTRAINT inbox_messages_notice
        CHECK (body IS NOT NULL OR (sequence IS NOT NULL AND role IS NOT NULL));
