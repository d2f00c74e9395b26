-- The highest revocation list number any replica put in force. A replica
-- whose certificate folder holds an older list (a copy missed on one host,
-- a backup put back) would let back in the certificates revoked since: it
-- does not start, and a reload refuses such a list; replicas that run
-- learn the number within a reload period.
CREATE TABLE crl_floor (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    number BIGINT NOT NULL
);
