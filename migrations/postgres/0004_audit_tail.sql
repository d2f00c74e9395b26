-- The audit log's last entry, read after the lock that orders appenders:
-- one round trip where `LOCK TABLE` and a `SELECT` were two. The function
-- is VOLATILE (the default), so at READ COMMITTED its SELECT takes its
-- snapshot after the lock is granted and sees the entries of the appender
-- that held it before. The lock is held until the caller's transaction
-- ends, as before.
CREATE FUNCTION audit_tail() RETURNS TABLE (sequence BIGINT, hash BYTEA)
LANGUAGE plpgsql AS $$
BEGIN
    LOCK TABLE audit_log IN EXCLUSIVE MODE;
    RETURN QUERY SELECT a.sequence, a.hash FROM audit_log a ORDER BY a.sequence DESC LIMIT 1;
END
$$;
