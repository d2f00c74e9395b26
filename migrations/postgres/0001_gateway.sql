-- The whole schema of the SQLite migrations 0001-0003 in one step, in
-- PostgreSQL's types: BIGINT for every number (times are Unix
-- milliseconds, as in SQLite), BYTEA for sealed bodies and hashes. Keys and
-- region codes sort and compare bytewise (COLLATE "C") whatever the
-- database's locale, so paging by case id and region prefixes behave as in
-- SQLite.

-- The agency registry: who may call, and where messages go.
CREATE TABLE agencies (
    id         TEXT COLLATE "C" PRIMARY KEY,
    kind       TEXT NOT NULL,
    region     TEXT COLLATE "C" NOT NULL,
    name       TEXT NOT NULL,
    enabled    BOOLEAN NOT NULL DEFAULT TRUE,
    created_at BIGINT NOT NULL
);
CREATE INDEX agencies_by_region ON agencies (region, kind);

-- One row per case: columns for lookups and lists; the truth is case_events.
CREATE TABLE cases (
    id               TEXT COLLATE "C" PRIMARY KEY,
    decision_number  TEXT NOT NULL UNIQUE,
    person_key       BYTEA NOT NULL,
    version          BIGINT NOT NULL,
    state            TEXT NOT NULL,
    executing_region TEXT COLLATE "C" NOT NULL,
    household_region TEXT COLLATE "C" NOT NULL,
    responsible      TEXT,
    detox_center     TEXT NOT NULL,
    opened_at        BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    oversight        TEXT,
    unroutable       BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX cases_by_person ON cases (person_key);
CREATE INDEX cases_by_region ON cases (executing_region text_pattern_ops, state);
CREATE INDEX cases_by_household ON cases (household_region text_pattern_ops);

-- Bodies are sealed (see src/storage/seal.rs): a copy of the database
-- alone does not say who is on file.
CREATE TABLE case_events (
    case_id     TEXT COLLATE "C" NOT NULL REFERENCES cases (id),
    sequence    BIGINT NOT NULL,
    recorded_at BIGINT NOT NULL,
    agency_id   TEXT NOT NULL,
    body        BYTEA NOT NULL,
    PRIMARY KEY (case_id, sequence)
);

-- Idempotency: a request id per agency, the digest of its content, and the
-- answer it got.
CREATE TABLE requests (
    agency_id   TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    digest      BYTEA NOT NULL,
    outcome     TEXT NOT NULL,
    accepted_at BIGINT NOT NULL,
    PRIMARY KEY (agency_id, request_id)
);

-- Per-recipient inbox: head is the last position written (gapless),
-- acknowledged how far the agency has processed. The row lock on a
-- recipient's head orders concurrent writers to the same inbox.
CREATE TABLE inboxes (
    agency_id    TEXT PRIMARY KEY,
    head         BIGINT NOT NULL DEFAULT 0,
    acknowledged BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE inbox_messages (
    agency_id  TEXT NOT NULL,
    position   BIGINT NOT NULL,
    case_id    TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    body       BYTEA NOT NULL,
    PRIMARY KEY (agency_id, position)
);

-- The deadlines each case has pending, for the escalation scan and the
-- "overdue" list.
CREATE TABLE deadlines (
    case_id   TEXT COLLATE "C" NOT NULL REFERENCES cases (id),
    kind      TEXT NOT NULL,
    anchor    BIGINT NOT NULL,
    starts_at BIGINT NOT NULL,
    escalated BOOLEAN NOT NULL,
    PRIMARY KEY (case_id, kind, anchor)
);
CREATE INDEX deadlines_pending ON deadlines (kind, escalated, starts_at);

-- The tamper-evident audit log, chained as in SQLite (src/domain/audit.rs).
-- Appenders take `LOCK TABLE audit_log IN EXCLUSIVE MODE` before reading
-- the last hash, which readers do not wait for but every other appender,
-- in any gateway process, does.
CREATE TABLE audit_log (
    sequence BIGINT PRIMARY KEY,
    entry    TEXT NOT NULL,
    hash     BYTEA NOT NULL
);

-- Append-only as far as the gateway is concerned: these guard against a
-- bug, not an intruder (who can drop them; the chain catches that).
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END;
$$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
