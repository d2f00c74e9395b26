-- A case's events and deadlines are written only by write_batch(), which
-- inserts them for the cases it has just written and for no other (the
-- joins on written_ids in 0005), and cases are never deleted. The two
-- foreign keys onto cases could thus only catch a bug in that function,
-- and each cost a query per row: PostgreSQL checks a foreign key through
-- SPI (`SELECT 1 FROM cases ... FOR KEY SHARE`, which also locks the case
-- row it has just inserted and logs the lock), three per discharge. In
-- isolation that was about 35 us of server time per discharge; over runs
-- of submissions at concurrency 1 and 64 and pushes, the server's CPU per
-- submission fell 5-19% without them (BENCHMARKS.md, "No foreign-key
-- checks per write"). The storage tests
-- check that no event or deadline is left without its case. SQLite keeps
-- its foreign keys: there a check is an index probe in the writer's own
-- process.
ALTER TABLE case_events DROP CONSTRAINT case_events_case_id_fkey;
ALTER TABLE deadlines DROP CONSTRAINT deadlines_case_id_fkey;
