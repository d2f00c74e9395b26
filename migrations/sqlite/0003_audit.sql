-- The tamper-evident audit log: one row per gRPC call of the gateway's own
-- services and per police query, each chained to the one before it by
-- hash = SHA-256(previous hash || entry), the first to 32 zero bytes (see
-- src/domain/audit.rs). `entry` is hashed exactly as stored, so verifying
-- never re-encodes anything. The sequence is gapless from 1.
CREATE TABLE audit_log (
    sequence INTEGER PRIMARY KEY,
    entry    TEXT NOT NULL,
    hash     BLOB NOT NULL
);

-- Append-only as far as the gateway is concerned: these guard against a
-- bug, not an intruder (who can drop them; the chain catches that).
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
