-- A fixed text sealed with the master key at the first start that had
-- one: every later start opens it, so a replica given another key (one
-- that made its own on an empty database, a key file from the wrong
-- backup) refuses to start instead of sealing new data under a key the
-- other replicas cannot open.
CREATE TABLE master_key_check (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    sealed BYTEA NOT NULL
);
