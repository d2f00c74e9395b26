-- The highest revocation list number put in force on this database. A
-- gateway whose certificate folder holds an older list (a backup put back,
-- a copy missed) would let back in the certificates revoked since: it does
-- not start, and a reload refuses such a list.
CREATE TABLE crl_floor (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    number INTEGER NOT NULL
);
