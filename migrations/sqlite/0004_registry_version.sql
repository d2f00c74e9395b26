-- A number that moves with every change to the registry, whoever makes it
-- (the gateway, `certs issue`, an operator's SQL), so a gateway can keep
-- the registry in memory and read one row to know it is current.
CREATE TABLE registry_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO registry_version (id, version) VALUES (1, 0);

CREATE TRIGGER agencies_inserted AFTER INSERT ON agencies
BEGIN
    UPDATE registry_version SET version = version + 1;
END;
CREATE TRIGGER agencies_updated AFTER UPDATE ON agencies
BEGIN
    UPDATE registry_version SET version = version + 1;
END;
CREATE TRIGGER agencies_deleted AFTER DELETE ON agencies
BEGIN
    UPDATE registry_version SET version = version + 1;
END;
