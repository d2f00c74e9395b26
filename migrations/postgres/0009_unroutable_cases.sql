-- The cases that wait for an oversight office to assign them: counted for
-- the metrics at every refresh, and listed with `unroutable`. Few among
-- all cases, so a partial index finds them without reading every case;
-- `unroutable` changes only at an assignment, so the other updates of a
-- case stay heap-only.
CREATE INDEX cases_unroutable ON cases (id) WHERE unroutable;
