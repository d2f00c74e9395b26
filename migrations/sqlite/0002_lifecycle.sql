-- The case lifecycle: which oversight office holds an unroutable case, and
-- the deadlines each case has pending, for the escalation scan and the
-- "overdue" list. A deadline falls due `allowance(kind)` after starts_at;
-- the allowance comes from the running configuration, so changing it
-- needs no migration.
ALTER TABLE cases ADD COLUMN oversight TEXT;
ALTER TABLE cases ADD COLUMN unroutable INTEGER NOT NULL DEFAULT 0;

UPDATE cases SET unroutable = 1 WHERE responsible IS NULL AND state <> 'announced';
UPDATE cases SET oversight = (
    SELECT json_extract(e.body, '$.event.oversight') FROM case_events e
    WHERE e.case_id = cases.id AND json_extract(e.body, '$.event.type') = 'discharged'
);

CREATE TABLE deadlines (
    case_id   TEXT NOT NULL REFERENCES cases (id),
    kind      TEXT NOT NULL,
    anchor    INTEGER NOT NULL,
    starts_at INTEGER NOT NULL,
    escalated INTEGER NOT NULL,
    PRIMARY KEY (case_id, kind, anchor)
) WITHOUT ROWID;
CREATE INDEX deadlines_pending ON deadlines (kind, escalated, starts_at);

-- Cases discharged before this migration get their pickup and report
-- deadlines, counted from the release.
INSERT INTO deadlines (case_id, kind, anchor, starts_at, escalated)
SELECT e.case_id, k.kind, e.sequence,
       CAST(ROUND((julianday(json_extract(e.body, '$.event.released_at')) - 2440587.5) * 86400000) AS INTEGER),
       0
FROM case_events e
JOIN cases c ON c.id = e.case_id
CROSS JOIN (SELECT 'pickup' AS kind UNION ALL SELECT 'report') k
WHERE c.state = 'awaiting-pickup' AND json_extract(e.body, '$.event.type') = 'discharged';
