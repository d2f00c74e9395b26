-- The statements inside write_batch() and audit_append() are the same for
-- every batch; only the arrays they are given change, and their plans
-- (inserts from UNNEST, lookups by key) are the ones wanted at any size.
-- Under the default plan_cache_mode (auto) the server may plan them again
-- on every call instead: with a million cases stored, profiles of a
-- submission at concurrency 1 showed the planner inside write_batch(),
-- and forcing generic plans took its p50 down by 13-14% (BENCHMARKS.md,
-- "Generic plans for the write functions"). plan_cache_mode exists from
-- PostgreSQL 12 on; an older server keeps planning as before.
DO $$
BEGIN
    IF current_setting('server_version_num')::INT >= 120000 THEN
        EXECUTE 'ALTER FUNCTION write_batch SET plan_cache_mode = force_generic_plan';
        EXECUTE 'ALTER FUNCTION audit_append SET plan_cache_mode = force_generic_plan';
    END IF;
END
$$;
