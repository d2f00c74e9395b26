-- A case write (a whole batch of them) and an audit append each become one
-- statement, so that outside a transaction block one round trip runs and
-- commits them. Before, a batch took six round trips (BEGIN; the cases and
-- events; the deadlines and deliveries; the audit tail; the answers and
-- audit entries; COMMIT) because the gateway computed the answers'
-- inbox positions and the audit entries' chain between them. These
-- functions compute both next to the rows.
--
-- The statements run in the order they had, so the locks are taken as
-- before: case rows (moved ones in the caller's id order), inbox heads in
-- agency order, then the audit log; except the answers, which now go in
-- before the audit lock, not under it, so that a writer waiting for
-- another's request id no longer holds the lock that one needs. At READ COMMITTED (which the gateway
-- asks for) each statement of a function takes a fresh snapshot, so the
-- audit tail read after the lock sees the previous appender's commit.

-- audit_append() below takes the lock and reads the tail itself. A replica
-- of an older version still running would fail every audited call, which
-- is why docs/deployment.md says to stop them all before this upgrade.
DROP FUNCTION audit_tail();

-- The positions of a stored answer's deliveries, in order, where the
-- answer's JSON holds placeholders; NULL where it holds them itself.
ALTER TABLE requests ADD COLUMN positions BIGINT[];

-- Appends entries to the audit log and returns its new tail (the old one
-- when `fields` is empty). Each entry is chained onto the one before:
--   entry = '{"sequence":N,"prev":"<previous hash, hex>",' || fields[i]
--   hash  = SHA-256(previous hash || entry), the first after 32 zero bytes
-- which is `entry_text`, `record_fields` and `link` in src/domain/audit.rs
-- (a property test there checks that this text is the entry's JSON). The
-- table lock orders appenders, in every gateway process, until the
-- caller's transaction ends.
CREATE FUNCTION audit_append(fields TEXT[]) RETURNS TABLE (sequence BIGINT, hash BYTEA)
LANGUAGE plpgsql AS $$
DECLARE
    tail_sequence BIGINT;
    tail_hash BYTEA;
    field TEXT;
    sealed TEXT;
    sequences BIGINT[] := '{}';
    entries TEXT[] := '{}';
    hashes BYTEA[] := '{}';
BEGIN
    LOCK TABLE audit_log IN EXCLUSIVE MODE;
    SELECT a.sequence, a.hash INTO tail_sequence, tail_hash
    FROM audit_log a ORDER BY a.sequence DESC LIMIT 1;
    tail_sequence := coalesce(tail_sequence, 0);
    tail_hash := coalesce(tail_hash, decode(repeat('00', 32), 'hex'));
    FOREACH field IN ARRAY fields LOOP
        tail_sequence := tail_sequence + 1;
        sealed := '{"sequence":' || tail_sequence || ',"prev":"' || encode(tail_hash, 'hex')
            || '",' || field;
        tail_hash := sha256(tail_hash || convert_to(sealed, 'UTF8'));
        sequences := sequences || tail_sequence;
        entries := entries || sealed;
        hashes := hashes || tail_hash;
    END LOOP;
    INSERT INTO audit_log (sequence, entry, hash)
    SELECT * FROM UNNEST(sequences, entries, hashes);
    RETURN QUERY SELECT tail_sequence, tail_hash;
END
$$;

-- Writes a batch of case writes, one array element per row (per case, per
-- event, per deadline, per notice, per answer; see
-- src/storage/postgres/write_sql.rs), and returns the ids of the cases
-- written and, for each of their notices in the order given, its inbox
-- position.
--
-- A new case whose decision number already has one is left out
-- (ON CONFLICT DO NOTHING), and so is a moved case no longer at the version
-- its writer read (a concurrent writer holds the row until it commits, and
-- the update then sees the new version). Nothing of a case left out is
-- written: no event, deadline, notice, answer or audit entry. Anything else
-- the database refuses (a request id stored by another writer, a deadlock)
-- fails the whole statement.
--
-- Positions are gapless per inbox: each head moves once, by its number of
-- notices, under the row lock that orders writers until they commit. An
-- answer's deliveries are stored with placeholder positions and the real
-- ones beside them in `requests.positions` (filling them into the JSON
-- here cost a quarter of the function's time). The batch's rows are
-- matched to the cases written by joins, not `= ANY (written_ids)`, which
-- compares every row with every id: quadratic in the batch's size.
CREATE FUNCTION write_batch(
    now_ms BIGINT,
    new_ids TEXT[], new_decisions TEXT[], new_person_keys BYTEA[], new_versions BIGINT[],
    new_states TEXT[], new_executing TEXT[], new_household TEXT[], new_responsible TEXT[],
    new_centers TEXT[], new_oversight TEXT[], new_unroutable BOOLEAN[],
    old_ids TEXT[], old_expected BIGINT[], old_versions BIGINT[], old_states TEXT[],
    old_executing TEXT[], old_household TEXT[], old_responsible TEXT[],
    old_person_keys BYTEA[], old_oversight TEXT[], old_unroutable BOOLEAN[],
    event_cases TEXT[], event_sequences BIGINT[], event_times BIGINT[],
    event_agencies TEXT[], event_bodies BYTEA[],
    deadline_cases TEXT[], deadline_kinds TEXT[], deadline_anchors BIGINT[],
    deadline_starts BIGINT[], deadline_escalated BOOLEAN[],
    notice_agencies TEXT[], notice_cases TEXT[], notice_times BIGINT[],
    notice_sequences BIGINT[], notice_roles TEXT[], channel TEXT,
    answer_cases TEXT[], answer_agencies TEXT[], answer_request_ids TEXT[],
    answer_digests BYTEA[], answer_outcomes TEXT[], answer_times BIGINT[],
    answer_audit TEXT[]
) RETURNS TABLE (written TEXT[], positions BIGINT[])
LANGUAGE plpgsql AS $$
DECLARE
    written_ids TEXT[];
    moved_ids TEXT[];
    placed_cases TEXT[];
    placed_positions BIGINT[];
    head_agencies TEXT[];
    head_values BIGINT[];
    records TEXT[];
BEGIN
    WITH opened AS (
        INSERT INTO cases (id, decision_number, person_key, version, state, executing_region,
            household_region, responsible, detox_center, opened_at, updated_at, oversight,
            unroutable)
        SELECT c.id, c.decision_number, c.person_key, c.version, c.state, c.executing_region,
            c.household_region, c.responsible, c.detox_center, now_ms, now_ms, c.oversight,
            c.unroutable
        FROM UNNEST(new_ids, new_decisions, new_person_keys, new_versions, new_states,
                new_executing, new_household, new_responsible, new_centers, new_oversight,
                new_unroutable)
            AS c (id, decision_number, person_key, version, state, executing_region,
                household_region, responsible, detox_center, oversight, unroutable)
        ON CONFLICT DO NOTHING
        RETURNING cases.id
    ), moved AS (
        UPDATE cases SET version = u.version, state = u.state,
            executing_region = u.executing_region, household_region = u.household_region,
            responsible = u.responsible, person_key = u.person_key, updated_at = now_ms,
            oversight = u.oversight, unroutable = u.unroutable
        FROM UNNEST(old_ids, old_expected, old_versions, old_states, old_executing,
                old_household, old_responsible, old_person_keys, old_oversight, old_unroutable)
            AS u (id, expected, version, state, executing_region, household_region,
                responsible, person_key, oversight, unroutable)
        WHERE cases.id = u.id AND cases.version = u.expected
        RETURNING cases.id
    )
    SELECT coalesce(array_agg(w.id), '{}'), coalesce(array_agg(w.id) FILTER (WHERE w.moved), '{}')
    INTO written_ids, moved_ids
    FROM (SELECT o.id, false AS moved FROM opened o
          UNION ALL SELECT m.id, true FROM moved m) w;
    IF cardinality(written_ids) = 0 THEN
        RETURN QUERY SELECT written_ids, '{}'::BIGINT[];
        RETURN;
    END IF;

    INSERT INTO case_events (case_id, sequence, recorded_at, agency_id, body)
    SELECT e.case_id, e.sequence, e.recorded_at, e.agency_id, e.body
    FROM UNNEST(event_cases, event_sequences, event_times, event_agencies, event_bodies)
        AS e (case_id, sequence, recorded_at, agency_id, body)
    JOIN UNNEST(written_ids) AS w (id) ON w.id = e.case_id;

    -- A moved case's deadlines are replaced by those pending after it.
    DELETE FROM deadlines d WHERE d.case_id = ANY (moved_ids);
    INSERT INTO deadlines (case_id, kind, anchor, starts_at, escalated)
    SELECT d.case_id, d.kind, d.anchor, d.starts_at, d.escalated
    FROM UNNEST(deadline_cases, deadline_kinds, deadline_anchors, deadline_starts,
            deadline_escalated)
        AS d (case_id, kind, anchor, starts_at, escalated)
    JOIN UNNEST(written_ids) AS w (id) ON w.id = d.case_id;

    -- Heads are locked in agency order, the same in every writer, so two
    -- batches sharing recipients wait for each other instead of
    -- deadlocking; each head's wake-up hint goes out on commit.
    WITH notices AS (
        SELECT n.agency, n.case_id, n.created_at, n.sequence, n.role, n.i,
            row_number() OVER (PARTITION BY n.agency ORDER BY n.i) AS place
        FROM UNNEST(notice_agencies, notice_cases, notice_times, notice_sequences, notice_roles)
            WITH ORDINALITY AS n (agency, case_id, created_at, sequence, role, i)
        JOIN UNNEST(written_ids) AS w (id) ON w.id = n.case_id
    ), counts AS (
        SELECT n.agency, count(*) AS total FROM notices n GROUP BY n.agency
    ), heads AS (
        INSERT INTO inboxes (agency_id, head)
        SELECT c.agency, c.total FROM counts c ORDER BY c.agency COLLATE "C"
        ON CONFLICT (agency_id) DO UPDATE SET head = inboxes.head + excluded.head
        RETURNING inboxes.agency_id, inboxes.head
    ), placed AS (
        SELECT n.*, h.head - c.total + n.place AS position
        FROM notices n
        JOIN heads h ON h.agency_id = n.agency
        JOIN counts c ON c.agency = n.agency
    ), stored AS (
        INSERT INTO inbox_messages (agency_id, position, case_id, created_at, sequence, role)
        SELECT p.agency, p.position, p.case_id, p.created_at, p.sequence, p.role FROM placed p
    )
    SELECT (SELECT coalesce(array_agg(p.case_id ORDER BY p.i), '{}') FROM placed p),
        (SELECT coalesce(array_agg(p.position ORDER BY p.i), '{}') FROM placed p),
        (SELECT array_agg(h.agency_id) FROM heads h),
        (SELECT array_agg(h.head) FROM heads h)
    INTO placed_cases, placed_positions, head_agencies, head_values;
    PERFORM pg_notify(channel, h.head || ' ' || h.agency)
    FROM UNNEST(head_agencies, head_values) AS h (agency, head);

    -- The k-th delivery of an answer is its case's k-th notice.
    WITH places AS (
        SELECT x.case_id, array_agg(x.position ORDER BY x.o) AS places
        FROM UNNEST(placed_cases, placed_positions) WITH ORDINALITY AS x (case_id, position, o)
        GROUP BY x.case_id
    )
    INSERT INTO requests (agency_id, request_id, digest, outcome, accepted_at, positions)
    SELECT a.agency, a.request_id, a.digest, a.outcome, a.accepted_at,
        coalesce(p.places, '{}')
    FROM UNNEST(answer_cases, answer_agencies, answer_request_ids, answer_digests,
            answer_outcomes, answer_times)
        AS a (case_id, agency, request_id, digest, outcome, accepted_at)
    JOIN UNNEST(written_ids) AS w (id) ON w.id = a.case_id
    LEFT JOIN places p ON p.case_id = a.case_id;

    -- Last, because the audit lock orders every appender until the commit.
    SELECT coalesce(array_agg(r.audit ORDER BY r.i), '{}') INTO records
    FROM UNNEST(answer_cases, answer_audit) WITH ORDINALITY AS r (case_id, audit, i)
    JOIN UNNEST(written_ids) AS w (id) ON w.id = r.case_id
    WHERE r.audit IS NOT NULL;
    IF cardinality(records) > 0 THEN
        PERFORM * FROM audit_append(records);
    END IF;

    RETURN QUERY SELECT written_ids, placed_positions;
END
$$;
