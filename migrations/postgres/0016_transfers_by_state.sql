-- The cases a county project is receiving: transfers requested or accepted
-- and not yet arrived, listed with `incoming_transfers`. Few among all
-- cases at any time, so a partial index finds them without reading every
-- case; which project each goes to is in its history, read for these few.
-- `state` is in cases_by_region already, so no update that was heap-only
-- stops being so.
CREATE INDEX cases_transfer_pending ON cases (id) WHERE state = 'transfer-pending';
