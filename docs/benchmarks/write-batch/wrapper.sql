-- One discharge's write_batch() call, as the bench's discharges make it
-- (three notices, two deadlines, one event of 483 bytes, one answer, one
-- audit entry), with fresh ids on every call. `fn` names write_batch() or
-- a variant of it made from `pg_get_functiondef('write_batch'::regproc)`
-- under another name, so that variants can be compared in one database.
-- Load into a database the gateway has migrated (`bench --keep`); see
-- BENCHMARKS.md, "Where write_batch()'s time goes".
CREATE SEQUENCE IF NOT EXISTS bench_seq;
CREATE OR REPLACE FUNCTION bench_wb(fn TEXT) RETURNS VOID LANGUAGE plpgsql AS $f$
DECLARE
  k BIGINT := nextval('bench_seq');
  id TEXT := 'bench-case-' || k;
  now_ms BIGINT := (extract(epoch from clock_timestamp()) * 1000)::BIGINT;
  body BYTEA := decode(repeat('ab', 483), 'hex');
BEGIN
  EXECUTE format('SELECT * FROM %I($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33, $34, $35, $36, $37, $38, $39, $40, $41, $42, $43, $44, $45)', fn)
  USING now_ms, ARRAY[id], ARRAY['dec-' || k], ARRAY[sha256(convert_to(id, 'UTF8'))], ARRAY[1::BIGINT],
    ARRAY['awaiting-pickup'], ARRAY['140201'], ARRAY['140201'], ARRAY['project-140201'], ARRAY['detox-140200'], ARRAY[NULL::TEXT], ARRAY[false],
    '{}'::TEXT[], '{}'::BIGINT[], '{}'::BIGINT[], '{}'::TEXT[], '{}'::TEXT[], '{}'::TEXT[], '{}'::TEXT[], '{}'::BYTEA[], '{}'::TEXT[], '{}'::BOOLEAN[],
    ARRAY[id], ARRAY[1::BIGINT], ARRAY[now_ms], ARRAY['detox-140200'], ARRAY[body],
    ARRAY[id, id], ARRAY['pickup', 'report'], ARRAY[1::BIGINT, 1], ARRAY[now_ms, now_ms], ARRAY[false, false],
    ARRAY['project-140201', 'police-140201', 'office-140200'], ARRAY[id, id, id], ARRAY[now_ms, now_ms, now_ms], ARRAY[1::BIGINT, 1, 1],
    ARRAY['responsible-project', 'executing-police', 'oversight'], 'handover_inbox',
    ARRAY[id], ARRAY['detox-140200'], ARRAY['bench-req-' || k], ARRAY[sha256(convert_to(id, 'UTF8'))],
    ARRAY['{"case_id":"' || id || '","state":"awaiting-pickup","executing_region":"140201","responsible":"project-140201","late_notice":true,"version":1,"deliveries":[{"agency":"project-140201","role":"responsible-project","position":0},{"agency":"police-140201","role":"executing-police","position":0},{"agency":"office-140200","role":"oversight","position":0}],"accepted_at":"2026-11-30T20:56:42.888944505Z"}'],
    ARRAY[now_ms],
    ARRAY['"at":"2026-11-30T20:56:42.888985101Z","caller":{"kind":"agency","id":"detox-140200"},"call":"handover.v1.IntakeService/SubmitDischarge","outcome":"OK","reason":null,"request_id":"bench-req-' || k || '","case_id":"' || id || '","lookup":null,"purpose":null,"position":null}'];
END
$f$;
