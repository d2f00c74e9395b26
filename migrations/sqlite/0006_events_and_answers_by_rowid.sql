-- Case events and stored answers move to rowid tables, their keys to
-- indexes beside them. Keyed by (agency, request id), every stored answer
-- (about 0.5 KB) went into a random page of a wide tree; the page is
-- written whole to the WAL and again at the checkpoint. In a rowid table
-- the rows are appended in order and packed, and only a small index entry
-- lands at the random key, so each page written carries more of the
-- batch. Measured at concurrency 64 (BENCHMARKS.md): about a fifth more
-- submissions a second.
CREATE TABLE case_events_by_rowid (
    id          INTEGER PRIMARY KEY,
    case_id     TEXT NOT NULL REFERENCES cases (id),
    sequence    INTEGER NOT NULL,
    recorded_at INTEGER NOT NULL,
    agency_id   TEXT NOT NULL,
    body        TEXT NOT NULL
);
INSERT INTO case_events_by_rowid (case_id, sequence, recorded_at, agency_id, body)
SELECT case_id, sequence, recorded_at, agency_id, body FROM case_events
ORDER BY recorded_at, case_id, sequence;
DROP TABLE case_events;
ALTER TABLE case_events_by_rowid RENAME TO case_events;
CREATE UNIQUE INDEX case_events_by_case ON case_events (case_id, sequence);

CREATE TABLE requests_by_rowid (
    id          INTEGER PRIMARY KEY,
    agency_id   TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    digest      BLOB NOT NULL,
    outcome     TEXT NOT NULL,
    accepted_at INTEGER NOT NULL
);
INSERT INTO requests_by_rowid (agency_id, request_id, digest, outcome, accepted_at)
SELECT agency_id, request_id, digest, outcome, accepted_at FROM requests
ORDER BY accepted_at;
DROP TABLE requests;
ALTER TABLE requests_by_rowid RENAME TO requests;
CREATE UNIQUE INDEX requests_by_agency ON requests (agency_id, request_id);
