//! Reading cases and submissions' answers (writing them: [`super::write`]).

use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row, ValueRef};

use super::{corrupt, unavailable};
use crate::domain::agency::AgencyId;
use crate::domain::case::{Case, CaseId, EarlierCase};
use crate::domain::submission::SubmissionOutcome;
use crate::storage::seal::{Sealer, open_case};
use crate::storage::{
    CaseKey, Looked, Lookup, PersonKey, Result, Seen, StoredAnswer, earlier_case,
};

pub(super) async fn answer(
    pool: &PgPool,
    agency: &AgencyId,
    request_id: &str,
) -> Result<Option<StoredAnswer>> {
    let row = sqlx::query(
        "SELECT digest, outcome, positions FROM requests
         WHERE agency_id = $1 AND request_id = $2",
    )
    .bind(agency.as_str())
    .bind(request_id)
    .fetch_optional(pool)
    .await
    .map_err(|e| unavailable(&e))?;
    row.as_ref().map(stored_answer).transpose()
}

/// The stored answer and, when there is none, the case's events, as rows
/// of one shape: the one-row `VALUES` keeps a row when neither exists, the
/// answer's columns are NULL when there is none, and the events are
/// returned only then. One round trip instead of two before every write.
const ANSWER_OR_CASE_BY_ID: &str = "
    SELECT r.digest, r.outcome, r.positions, e.case_id, e.sequence, e.body,
        (SELECT version FROM registry_version WHERE id = 1) AS registry_version,
        NULL::text AS open_of_person
    FROM (VALUES (1)) AS one (x)
    LEFT JOIN requests r ON r.agency_id = $1 AND r.request_id = $2
    LEFT JOIN case_events e ON e.case_id = $3 AND r.agency_id IS NULL
    ORDER BY e.sequence";

/// The same, for the case of decision `$3`, with the person's (`$4`) other
/// cases that are discharged and not closed, as one JSON array of
/// `[id, executing_region, responsible, oversight while unroutable]`,
/// oldest first, in every row: the one statement an announcement or a
/// discharge makes before its write reads them too.
const ANSWER_OR_CASE_BY_DECISION: &str = "
    SELECT r.digest, r.outcome, r.positions, e.case_id, e.sequence, e.body,
        (SELECT version FROM registry_version WHERE id = 1) AS registry_version,
        (SELECT json_agg(json_build_array(o.id, o.executing_region, o.responsible,
                    CASE WHEN o.unroutable THEN o.oversight END)
                ORDER BY o.opened_at, o.id)::text
            FROM cases o
            WHERE o.person_key = $4 AND o.decision_number <> $3
                AND o.state NOT IN ('announced', 'closed')) AS open_of_person
    FROM (VALUES (1)) AS one (x)
    LEFT JOIN requests r ON r.agency_id = $1 AND r.request_id = $2
    LEFT JOIN (cases c JOIN case_events e ON e.case_id = c.id)
        ON c.decision_number = $3 AND r.agency_id IS NULL
    ORDER BY e.sequence";

/// The rows of [`lookup_from_rows`], in one round trip on `connection`.
pub(super) async fn answer_or_case(
    connection: &mut PgConnection,
    agency: &AgencyId,
    request_id: &str,
    key: &CaseKey,
) -> sqlx::Result<Vec<PgRow>> {
    let (sql, case, person) = match key {
        CaseKey::Id(id) => (ANSWER_OR_CASE_BY_ID, id.as_str(), None),
        CaseKey::Decision(decision, person) => {
            (ANSWER_OR_CASE_BY_DECISION, decision.as_str(), Some(person))
        }
    };
    let mut query = sqlx::query(sql)
        .bind(agency.as_str())
        .bind(request_id)
        .bind(case);
    if let Some(person) = person {
        query = query.bind(person.as_slice());
    }
    query.fetch_all(connection).await
}

/// The stored answer, or else the case, and the registry's version, in
/// the rows of [`answer_or_case`].
pub(super) fn lookup_from_rows(sealer: &Sealer, rows: &[PgRow]) -> Result<Looked> {
    let Some(first) = rows.first() else {
        return Err(corrupt(&"a lookup returned no row"));
    };
    let registry_version = first.try_get("registry_version").map_err(|e| corrupt(&e))?;
    let lookup = lookup_from(sealer, first, rows)?;
    Ok(Looked {
        found: lookup,
        registry_version,
    })
}

fn lookup_from(sealer: &Sealer, first: &PgRow, rows: &[PgRow]) -> Result<Lookup> {
    let digest: Option<&[u8]> = first.try_get("digest").map_err(|e| corrupt(&e))?;
    if digest.is_some() {
        return stored_answer(first).map(Lookup::Answered);
    }
    let open = open_of_person(first)?;
    let id: Option<&str> = first.try_get("case_id").map_err(|e| corrupt(&e))?;
    let Some(id) = id else {
        return Ok(Lookup::Unanswered(None, open));
    };
    let id = CaseId::parse(id).map_err(|e| corrupt(&e))?;
    Ok(Lookup::Unanswered(
        open_rows(sealer, &id, rows)?.map(Box::new),
        open,
    ))
}

/// The person's other open cases in a row of [`ANSWER_OR_CASE_BY_DECISION`]
/// (none in a lookup by id).
fn open_of_person(row: &PgRow) -> Result<Vec<EarlierCase>> {
    type Columns = (String, String, Option<String>, Option<String>);
    let json: Option<&str> = row.try_get("open_of_person").map_err(|e| corrupt(&e))?;
    let Some(json) = json else {
        return Ok(Vec::new());
    };
    let cases: Vec<Columns> = serde_json::from_str(json).map_err(|e| corrupt(&e))?;
    cases
        .iter()
        .map(|(id, region, project, oversight)| {
            earlier_case(id, region, project.as_deref(), oversight.as_deref())
        })
        .collect()
}

/// The answer in a row of `digest`, `outcome` and `positions`, with the
/// positions (stored beside it) put back into its deliveries.
fn stored_answer(row: &PgRow) -> Result<StoredAnswer> {
    let digest: Vec<u8> = row.try_get("digest").map_err(|e| corrupt(&e))?;
    let outcome: String = row.try_get("outcome").map_err(|e| corrupt(&e))?;
    let mut outcome: SubmissionOutcome = serde_json::from_str(&outcome).map_err(|e| corrupt(&e))?;
    let positions: Option<Vec<i64>> = row.try_get("positions").map_err(|e| corrupt(&e))?;
    if let Some(positions) = positions {
        if positions.len() != outcome.deliveries.len() {
            return Err(corrupt(
                &"a stored answer's positions do not match its deliveries",
            ));
        }
        for (delivery, position) in outcome.deliveries.iter_mut().zip(positions) {
            delivery.position = u64::try_from(position).map_err(|e| corrupt(&e))?;
        }
    }
    Ok(StoredAnswer {
        digest: digest
            .try_into()
            .map_err(|_| corrupt(&"request digest is not 32 bytes"))?,
        outcome,
    })
}

/// The events of case `id`, in order, and the registry's version: one row
/// of NULL events when there is no such case.
pub(super) async fn case_rows_seen(
    connection: &mut PgConnection,
    id: &CaseId,
) -> sqlx::Result<Vec<PgRow>> {
    sqlx::query(
        "SELECT e.sequence, e.body,
             (SELECT version FROM registry_version WHERE id = 1) AS registry_version
         FROM (VALUES (1)) AS one (x)
         LEFT JOIN case_events e ON e.case_id = $1
         ORDER BY e.sequence",
    )
    .bind(id.as_str())
    .fetch_all(connection)
    .await
}

/// The case and the registry's version in the rows of [`case_rows_seen`].
pub(super) fn case_seen_from_rows(
    sealer: &Sealer,
    id: &CaseId,
    rows: &[PgRow],
) -> Result<Seen<Option<Case>>> {
    let (registry_version, rows) = seen(rows, "sequence")?;
    Ok(Seen {
        found: open_rows(sealer, id, rows)?,
        registry_version,
    })
}

/// The registry's version in the first of `rows`, and the rows that hold
/// something: none when the first one's `column` is NULL (the one row of
/// `(VALUES (1)) LEFT JOIN` that found nothing).
pub(super) fn seen<'r>(rows: &'r [PgRow], column: &str) -> Result<(i64, &'r [PgRow])> {
    let Some(first) = rows.first() else {
        return Err(corrupt(&"a read of the registry version returned no row"));
    };
    let registry_version = first.try_get("registry_version").map_err(|e| corrupt(&e))?;
    let empty = first
        .try_get_raw(column)
        .map_err(|e| corrupt(&e))?
        .is_null();
    Ok((registry_version, if empty { &[] } else { rows }))
}

/// The events of every case of the person with `key`, newest case first,
/// each case's events in order, and the registry's version: one round
/// trip for a status query by identity number, however many cases the
/// person has had.
///
/// Each `OFFSET 0` keeps its subquery from being merged into the rest, so
/// the plan stays a loop over the person's cases (found by
/// `cases_by_person` whenever the planner's estimate is anything like a
/// person's handful) with each case's events read by `case_events`'
/// primary key. Merged, the planner scanned the whole of `cases` whenever
/// its statistics were missing (a freshly filled database: 100 ms a query
/// at 100,000 cases). The one-row `VALUES` keeps a row, of NULL events,
/// when the person has no case, so that the registry's version comes back
/// whatever the read finds.
pub(super) async fn person_rows(
    connection: &mut PgConnection,
    key: &PersonKey,
) -> sqlx::Result<Vec<PgRow>> {
    sqlx::query(
        "SELECT x.case_id, x.sequence, x.body,
             (SELECT version FROM registry_version WHERE id = 1) AS registry_version
         FROM (VALUES (1)) AS one (o)
         LEFT JOIN LATERAL (
             SELECT c.id AS case_id, c.opened_at, e.sequence, e.body
             FROM (SELECT id, opened_at FROM cases WHERE person_key = $1 OFFSET 0) c,
             LATERAL (
                 SELECT sequence, body FROM case_events WHERE case_id = c.id OFFSET 0
             ) e
         ) x ON true
         ORDER BY x.opened_at DESC, x.case_id DESC, x.sequence",
    )
    .bind(key.as_slice())
    .fetch_all(connection)
    .await
}

/// The cases in the rows of [`person_rows`], in their order, and the
/// registry's version.
pub(super) fn cases_from_rows(sealer: &Sealer, rows: &[PgRow]) -> Result<Seen<Vec<Case>>> {
    let (registry_version, rows) = seen(rows, "case_id")?;
    Ok(Seen {
        found: cases_in(sealer, rows)?,
        registry_version,
    })
}

fn cases_in(sealer: &Sealer, rows: &[PgRow]) -> Result<Vec<Case>> {
    let mut cases = Vec::new();
    let mut start = 0;
    while start < rows.len() {
        let id: &str = rows[start].try_get("case_id").map_err(|e| corrupt(&e))?;
        let end = rows[start..]
            .iter()
            .position(|row| row.try_get::<&str, _>("case_id").ok() != Some(id))
            .map_or(rows.len(), |length| start + length);
        let id = CaseId::parse(id).map_err(|e| corrupt(&e))?;
        cases.extend(open_rows(sealer, &id, &rows[start..end])?);
        start = end;
    }
    Ok(cases)
}

pub(super) fn open_rows(sealer: &Sealer, id: &CaseId, rows: &[PgRow]) -> Result<Option<Case>> {
    let events = rows
        .iter()
        .map(|row| {
            let sequence: i64 = row.try_get("sequence").map_err(|e| corrupt(&e))?;
            let body: &[u8] = row.try_get("body").map_err(|e| corrupt(&e))?;
            Ok((sequence, body))
        })
        .collect::<Result<Vec<_>>>()?;
    open_case(sealer, id, events)
}
