//! Wake-up hints between gateway processes sharing one database. A write
//! that grows an inbox calls `pg_notify` inside its transaction, so the
//! hint goes out on commit and never for a write that rolled back. Nothing
//! depends on a hint arriving: streams re-read storage at every heartbeat.

use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::mpsc;

use crate::domain::agency::AgencyId;
use crate::storage::InboxChange;

/// The channel of the hints. A write sends `"{head} {agency}"` on it for
/// each inbox it grows (`pg_notify` in `write_batch()`,
/// `migrations/postgres/0005`).
pub(super) const CHANNEL: &str = "handover_inbox";

/// How long to wait before listening again after the database refused.
const RETRY: Duration = Duration::from_secs(1);

/// Forwards every hint to `changes` until it closes, listening again
/// whenever the connection drops; each time it may have missed hints, it
/// says so with [`InboxChange::Unknown`].
pub(super) async fn follow(pool: &PgPool, changes: mpsc::Sender<InboxChange>) {
    loop {
        let mut listener = match listen(pool).await {
            Ok(listener) => listener,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for inbox hints; streams fall back to heartbeats");
                tokio::select! {
                    () = tokio::time::sleep(RETRY) => continue,
                    () = changes.closed() => return,
                }
            }
        };
        if changes.send(InboxChange::Unknown).await.is_err() {
            return;
        }
        loop {
            let received = tokio::select! {
                received = listener.try_recv() => received,
                () = changes.closed() => return,
            };
            let change = match received {
                Ok(Some(notification)) => match parse(notification.payload()) {
                    Some(change) => change,
                    None => continue,
                },
                // The connection dropped, and hints sent until it listens
                // again are gone: listen anew, then say so (above), so
                // that streams re-read after the gap, not before its end.
                Ok(None) => break,
                Err(error) => {
                    tracing::warn!(%error, "inbox hints interrupted; listening again");
                    break;
                }
            };
            if changes.send(change).await.is_err() {
                return;
            }
        }
    }
}

async fn listen(pool: &PgPool) -> std::result::Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

fn parse(payload: &str) -> Option<InboxChange> {
    let (head, agency) = payload.split_once(' ')?;
    Some(InboxChange::Moved(
        AgencyId::parse(agency).ok()?,
        head.parse().ok()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_a_write_sends() {
        assert_eq!(
            parse("42 yingze-project"),
            Some(InboxChange::Moved(
                AgencyId::parse("yingze-project").unwrap(),
                42
            ))
        );
        assert_eq!(parse("x yingze-project"), None);
        assert_eq!(parse("42"), None);
    }
}
