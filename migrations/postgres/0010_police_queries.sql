-- Case queries by each police agency per calendar day (China time), counted
-- in one place for every replica: a daily quota that each replica kept on
-- its own gave an agency up to `replicas ×` its quota, and a restart gave
-- it a fresh one. UNLOGGED: a count writes no WAL, so it waits for no
-- flush; a crash of the database, or a failover to a standby, starts the
-- day's counts again, which errs towards the agency as a restart did.
-- One small row per police agency and day.
CREATE UNLOGGED TABLE police_queries (
    agency_id TEXT NOT NULL,
    day       DATE NOT NULL,
    queries   INTEGER NOT NULL,
    PRIMARY KEY (agency_id, day)
);
