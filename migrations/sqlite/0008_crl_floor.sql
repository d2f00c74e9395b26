-- The highest revocation list number put in force on this database, per
-- CA (CRL numbers count per issuer; `issuer` is the SHA-256 of the CA
-- certificate). A gateway whose certificate folder holds an older list
-- of the same CA (a backup put back, a copy missed) would let back in the
-- certificates revoked since: it does not start, and a reload refuses
-- such a list. A new CA starts from nothing.
-- `revoked`: the serials that list revokes (hex, space-separated), which
-- every later list of the CA must revoke too.
CREATE TABLE crl_floor (
    issuer  TEXT PRIMARY KEY,
    number  INTEGER NOT NULL,
    revoked TEXT NOT NULL
);
