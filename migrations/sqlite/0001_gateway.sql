-- The agency registry: who may call, and where messages go.
CREATE TABLE agencies (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    region     TEXT NOT NULL,
    name       TEXT NOT NULL,
    enabled    INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL
);
CREATE INDEX agencies_by_region ON agencies (region, kind);

-- One row per case: columns for lookups and lists; the truth is case_events.
CREATE TABLE cases (
    id               TEXT PRIMARY KEY,
    decision_number  TEXT NOT NULL UNIQUE,
    person_key       BLOB NOT NULL,
    version          INTEGER NOT NULL,
    state            TEXT NOT NULL,
    executing_region TEXT NOT NULL,
    household_region TEXT NOT NULL,
    responsible      TEXT,
    detox_center     TEXT NOT NULL,
    opened_at        INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX cases_by_person ON cases (person_key);
CREATE INDEX cases_by_region ON cases (executing_region, state);

CREATE TABLE case_events (
    case_id     TEXT NOT NULL REFERENCES cases (id),
    sequence    INTEGER NOT NULL,
    recorded_at INTEGER NOT NULL,
    agency_id   TEXT NOT NULL,
    body        TEXT NOT NULL,
    PRIMARY KEY (case_id, sequence)
) WITHOUT ROWID;

-- Idempotency: a request id per agency, the digest of its content, and the
-- answer it got.
CREATE TABLE requests (
    agency_id   TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    digest      BLOB NOT NULL,
    outcome     TEXT NOT NULL,
    accepted_at INTEGER NOT NULL,
    PRIMARY KEY (agency_id, request_id)
) WITHOUT ROWID;

-- Per-recipient inbox: head is the last position written (gapless),
-- acknowledged how far the agency has processed.
CREATE TABLE inboxes (
    agency_id    TEXT PRIMARY KEY,
    head         INTEGER NOT NULL DEFAULT 0,
    acknowledged INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE inbox_messages (
    agency_id  TEXT NOT NULL,
    position   INTEGER NOT NULL,
    case_id    TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    body       TEXT NOT NULL,
    PRIMARY KEY (agency_id, position)
) WITHOUT ROWID;
