-- The highest revocation list number any replica put in force, per CA
-- (CRL numbers count per issuer; `issuer` is the SHA-256 of the CA
-- certificate). A replica whose certificate folder holds an older list of
-- the same CA (a copy missed on one host, a backup put back) would let
-- back in the certificates revoked since: it does not start, and a reload
-- refuses such a list; replicas that run learn the number within a reload
-- period. A new CA starts from nothing.
-- `revoked`: the serials that list revokes (hex, space-separated), which
-- every later list of the CA must revoke too.
CREATE TABLE crl_floor (
    issuer  TEXT PRIMARY KEY,
    number  BIGINT NOT NULL,
    revoked TEXT NOT NULL
);
