-- A project's caseload is read through `cases_by_region`: a project is
-- responsible only in its own county. Its own index cost every new case
-- a page at one of a hundred insertion points, about a tenth of the
-- write rate under load (BENCHMARKS.md).
DROP INDEX IF EXISTS cases_by_responsible;

-- Announced releases owe their discharge (deadline kind `discharge`). The
-- announcements stored before this migration have no deadline row, and
-- their planned day is only in the sealed event: the gateway writes
-- their rows at its next start and takes them off this list. A replica
-- of an earlier version, which would take a missed `discharge` deadline
-- for a corrupt history, refuses to start once this has run.
CREATE TABLE deadline_backfill (
    case_id TEXT COLLATE "C" PRIMARY KEY
);
INSERT INTO deadline_backfill (case_id) SELECT id FROM cases WHERE state = 'announced';
