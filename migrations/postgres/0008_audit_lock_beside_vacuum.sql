-- Appenders to the audit log are ordered by a transaction-level advisory
-- lock instead of `LOCK TABLE audit_log IN EXCLUSIVE MODE`. That table
-- lock conflicts with the SHARE UPDATE EXCLUSIVE lock VACUUM and ANALYZE
-- hold, so every append (every audited call, case writes among them)
-- waited while autovacuum worked on the log: up to `deadlock_timeout`
-- before the server cancelled the autovacuum, and for as long as the
-- vacuum ran when it was one against wraparound, which is never
-- cancelled. Under steady appends an ordinary autovacuum of the log was
-- skipped (it does not wait for a lock it cannot have) or cancelled, so
-- the log went unvacuumed until that point. The advisory lock orders appenders
-- in every gateway process as the table lock did: taken in a statement of
-- its own, so that at READ COMMITTED the tail is read in a later snapshot
-- that holds the previous appender's commit (the lock is released only
-- after that commit is visible), and held until the caller's transaction
-- ends. Its key is the log table's oid, in the two-key space that sqlx's
-- migration lock (one key) does not use. Readers never took either lock.
--
-- During the upgrade a transaction begun before this migration committed
-- may still run the old body and hold the table lock while a new one
-- holds the advisory lock: the new one's insert waits for the old one's
-- commit, and the sequence primary key refuses its entry if the tail it
-- read was stale, so the chain cannot fork (a case write refused so is
-- planned again, an audited query fails once).
CREATE OR REPLACE FUNCTION audit_append(fields TEXT[]) RETURNS TABLE (sequence BIGINT, hash BYTEA)
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
    PERFORM pg_advisory_xact_lock(0, 'audit_log'::regclass::oid::int);
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

-- CREATE OR REPLACE dropped the setting 0006 gave the function.
DO $$
BEGIN
    IF current_setting('server_version_num')::INT >= 120000 THEN
        EXECUTE 'ALTER FUNCTION audit_append SET plan_cache_mode = force_generic_plan';
    END IF;
END
$$;
