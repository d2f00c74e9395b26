\set n random(1, 2000000000)
\set m random(1, 2000000000)
BEGIN;
INSERT INTO cases VALUES ('c-' || :n || '-' || :m, 'd-' || :n || '-' || :m, '\x0102', 1, 'awaiting', '140105', '140105', 'p', 'x', 0, 0, NULL, false);
INSERT INTO case_events VALUES ('c-' || :n || '-' || :m, 1, 0, 'x', repeat('a', 400)::bytea);
INSERT INTO deadlines VALUES ('c-' || :n || '-' || :m, 'pickup', 0, 0, false), ('c-' || :n || '-' || :m, 'report', 0, 0, false);
COMMIT;
