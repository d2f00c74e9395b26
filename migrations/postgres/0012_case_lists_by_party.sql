-- A county project lists its caseload (`responsible`), a detox center its
-- releases (`detox_center`), in id order: without these a list of few
-- cases reads every case. Neither column is in a partial index's
-- predicate, and `responsible` changes only when responsibility moves,
-- `detox_center` never, so a case's other updates stay heap-only.
-- IF NOT EXISTS: on a large database an operator may build them first
-- with CREATE INDEX CONCURRENTLY under these names (docs/deployment.md).
CREATE INDEX IF NOT EXISTS cases_by_responsible ON cases (responsible, id);
CREATE INDEX IF NOT EXISTS cases_by_detox_center ON cases (detox_center, id);
