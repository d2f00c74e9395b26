//! A PostgreSQL server that goes silent instead of away: its host crashed
//! or its address moved to another host in a failover, so nothing resets
//! the connections and TCP would wait some 15 minutes before it gave up.
//! A proxy between the storage and the server stands for that network: it
//! can stop passing bytes on the connections it has, leaving them open.
//! The replica's one writer and one audit task must answer `Unavailable`
//! after the answer timeout rather than hang, and write again once the
//! database answers, with nothing half written.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use handover_gateway::domain::audit::verify;
use handover_gateway::domain::case::Case;
use handover_gateway::storage::{PostgresStorage, Sealer, Storage, StorageError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::support::{
    Db, KEY, Kind, audit_positions, audit_record, discharged, person, run, write,
};

/// The storage's answer timeout here: short, so that the test is quick.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(2);

/// Not a measure of speed: a bound on a wait that, without the answer
/// timeout, would last as long as TCP's retries.
const HANG: Duration = Duration::from_secs(30);

/// Passes bytes between its clients and `server` until silenced; the
/// connections it has then stay open and pass nothing for good, while
/// connections made after [`Proxy::restore`] pass bytes again.
struct Proxy {
    address: String,
    /// Set for the connections accepted since the last restore.
    silenced: Arc<std::sync::Mutex<Arc<AtomicBool>>>,
    /// Connections accepted so far.
    accepted: Arc<AtomicUsize>,
}

impl Proxy {
    async fn start(server: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let silenced = Arc::new(std::sync::Mutex::new(Arc::new(AtomicBool::new(false))));
        let current = Arc::clone(&silenced);
        let accepted = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&accepted);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                let Ok(upstream) = TcpStream::connect(&server).await else {
                    continue;
                };
                let silenced = Arc::clone(&current.lock().unwrap());
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = upstream.into_split();
                tokio::spawn(pass(client_read, server_write, Arc::clone(&silenced)));
                tokio::spawn(pass(server_read, client_write, silenced));
            }
        });
        Self {
            address,
            silenced,
            accepted,
        }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    fn silence(&self) {
        self.silenced.lock().unwrap().store(true, Ordering::SeqCst);
    }

    fn restore(&self) {
        *self.silenced.lock().unwrap() = Arc::new(AtomicBool::new(false));
    }
}

/// Copies `from` to `to` until either closes, or for ever once silenced:
/// what was read then is held back and the sockets are kept open.
async fn pass(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    silenced: Arc<AtomicBool>,
) {
    let mut buffer = vec![0; 64 * 1024];
    loop {
        let read = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(read) => read,
        };
        if silenced.load(Ordering::SeqCst) {
            let _kept_open = (from, to);
            std::future::pending::<()>().await;
            return;
        }
        if to.write_all(&buffer[..read]).await.is_err() {
            return;
        }
    }
}

/// `url` as its prefix up to the host, its `host:port`, and the rest.
fn split(url: &str) -> (&str, String, &str) {
    let start = url.find("://").unwrap() + 3;
    let start = start + url[start..].find('@').map_or(0, |at| at + 1);
    let end = start + url[start..].find('/').unwrap();
    let host = &url[start..end];
    let server = if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:5432")
    };
    (&url[..start], server, &url[end..])
}

async fn open_through(db: &Db) -> (Proxy, Arc<dyn Storage>) {
    // Migrated first, directly, so that only the calls go through the proxy.
    db.open().await.close().await;
    let (prefix, server, rest) = split(db.setting.to_str().unwrap());
    let proxy = Proxy::start(server).await;
    let proxied = format!("{prefix}{}{rest}", proxy.address);
    let storage = PostgresStorage::open_answering_within(&proxied, ANSWER_TIMEOUT)
        .await
        .unwrap()
        .sealed(Sealer::new(KEY));
    (proxy, Arc::new(storage))
}

/// [`open_through`], with case D-1 written through the proxy.
async fn open_with_a_case(db: &Db) -> (Proxy, Arc<dyn Storage>, Case) {
    let (proxy, storage) = open_through(db).await;
    let first = discharged("D-1", "140106", person(1, "140106"), Some("yingze-project"));
    storage
        .write_case(write(&first, 0, "r-1", &["yingze-project"]))
        .await
        .unwrap();
    (proxy, storage, first)
}

/// Closes `storage`, whose pool still holds a connection through the
/// silence: closing must not wait on it for ever.
async fn closed(storage: &Arc<dyn Storage>) {
    tokio::time::timeout(HANG, storage.close())
        .await
        .expect("closing waited on a connection to a silent database");
}

fn unavailable<T: std::fmt::Debug>(result: Result<T, StorageError>) -> String {
    match result {
        Err(StorageError::Unavailable(reason)) => reason,
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_postgres_a_silent_database_fails_writes_and_appends_after_the_answer_timeout() {
    run(Kind::Postgres, |db| async move {
        let (proxy, storage, first) = open_with_a_case(&db).await;
        storage.append_audit(&[audit_record(1)]).await.unwrap();

        proxy.silence();
        let second = discharged("D-2", "140106", person(2, "140106"), Some("yingze-project"));
        let mut written = write(&second, 0, "r-2", &["yingze-project"]);
        written.audit = Some(audit_record(2));
        let third = [audit_record(3)];
        let (refused_write, refused_append) = tokio::time::timeout(HANG, async {
            tokio::join!(
                storage.write_case(written.clone()),
                storage.append_audit(&third),
            )
        })
        .await
        .expect("a write waited for a silent database beyond its answer timeout");
        assert!(unavailable(refused_write).contains("not known"));
        assert!(unavailable(refused_append).contains("not known"));

        proxy.restore();
        // The same write again, as its client retries it: the one that went
        // unanswered never reached the server, and the writer writes on a
        // new connection.
        let outcome = tokio::time::timeout(HANG, storage.write_case(written))
            .await
            .expect("the writer kept waiting on its silent connection")
            .unwrap();
        assert_eq!(outcome.case_id, second.id);
        let appended = tokio::time::timeout(HANG, storage.append_audit(&[audit_record(4)]))
            .await
            .expect("the audit writer kept waiting on its silent connection");
        appended.unwrap();
        closed(&storage).await;

        // Read directly: a pool connection of the proxied storage that sat
        // idle through the silence fails its first use after it.
        let stored = db.open().await;
        let entries = stored.audit_entries(0, 10).await.unwrap();
        assert_eq!(audit_positions(&entries), [Some(1), Some(2), Some(4)]);
        assert_eq!(verify(entries).unwrap().entries, 3);
        assert_eq!(stored.case(&first.id).await.unwrap(), Some(first));
        assert_eq!(stored.case(&second.id).await.unwrap(), Some(second));
        stored.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_postgres_writes_queued_behind_one_a_silent_database_left_unanswered_are_not_tried() {
    run(Kind::Postgres, |db| async move {
        let (proxy, storage, _) = open_with_a_case(&db).await;

        proxy.silence();
        let accepted = proxy.accepted();
        let cases: Vec<_> = (2..=4)
            .map(|n| {
                let decision = format!("D-{n}");
                discharged(
                    &decision,
                    "140106",
                    person(n, "140106"),
                    Some("yingze-project"),
                )
            })
            .collect();
        // The last two share a request id, so they cannot share a
        // transaction: the first two go together, the last waits for a
        // transaction of its own.
        let writes = vec![
            write(&cases[0], 0, "r-2", &["yingze-project"]),
            write(&cases[1], 0, "r-3", &["yingze-project"]),
            write(&cases[2], 0, "r-3", &["yingze-project"]),
        ];
        let answers = tokio::time::timeout(HANG, storage.write_cases(writes.clone()))
            .await
            .expect("the writer waited for a silent database beyond its answer timeout");
        let reasons: Vec<String> = answers.into_iter().map(unavailable).collect();
        assert!(reasons[0].contains("not known"), "{reasons:?}");
        assert!(reasons[1].contains("not known"), "{reasons:?}");
        assert!(reasons[2].starts_with("not written"), "{reasons:?}");
        assert_eq!(
            proxy.accepted(),
            accepted,
            "the writer tried a new connection for writes behind the unanswered one"
        );

        proxy.restore();
        // The server never saw the unanswered statement: its backend idles,
        // and the writer does not wait for it.
        let retried = [writes[0].clone(), writes[1].clone()];
        let answers = tokio::time::timeout(HANG, storage.write_cases(retried.to_vec()))
            .await
            .expect("the writer kept waiting on its silent connection");
        assert_eq!(answers[0].as_ref().unwrap().case_id, cases[0].id);
        assert_eq!(answers[1].as_ref().unwrap().case_id, cases[1].id);
        assert_eq!(storage.case(&cases[2].id).await.unwrap(), None);
        closed(&storage).await;
    })
    .await;
}
