-- The statements inside write_batch() and audit_append() are the same for
-- every batch; only the arrays they are given change. Under the default
-- plan_cache_mode (auto) PostgreSQL compares their generic plans with
-- custom ones, and once the tables are large it kept planning them again
-- on every call: with a million cases, a submission at concurrency 1 spent
-- about a fifth of its server time in the planner (BENCHMARKS.md,
-- "Generic plans for the write functions"). Their generic plans (index
-- lookups by key, inserts from UNNEST) are the ones wanted at any size.
ALTER FUNCTION write_batch SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION audit_append SET plan_cache_mode = force_generic_plan;
