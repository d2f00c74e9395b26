-- A project's caseload is read through `cases_by_region`: a project is
-- responsible only in its own county. Its own index cost every new case
-- a page at one of a hundred insertion points, about a tenth of the
-- write rate under load (BENCHMARKS.md).
--
-- This migration also marks the version with the `discharge` deadline:
-- a replica of an earlier version, which would take a missed
-- `discharge` deadline for a corrupt history, refuses to start on a
-- database the newer one has used.
DROP INDEX IF EXISTS cases_by_responsible;
