//! One audit append for many calls. Every call waits for its entry to be
//! durable before it is answered; appended one by one, those entries would
//! each take the log's lock (PostgreSQL orders appenders across replicas)
//! and a commit of their own, so calls would queue behind one another's
//! disk flushes. A single task takes whatever entries are waiting and
//! appends them in one transaction, in arrival order, so the chain stays
//! linear and concurrent calls share one flush.

use std::sync::{Arc, OnceLock};

use tokio::sync::{mpsc, oneshot};

use crate::domain::audit::AuditRecord;
use crate::storage::{Storage, StorageError};

/// Entries appended in one transaction at most.
const BATCH: usize = 256;
/// Entries waiting at most; further calls wait for room.
const QUEUE: usize = 4096;

type Reply = oneshot::Sender<Result<(), String>>;

#[derive(Default)]
pub(super) struct AuditQueue {
    /// Started on first use, inside the runtime.
    sender: OnceLock<mpsc::Sender<(AuditRecord, Reply)>>,
}

impl AuditQueue {
    /// Appends `record` with whatever else is waiting; the error text when
    /// the log could not be written. Once queued, the entry is written even
    /// if the caller stops waiting.
    pub(super) async fn append(
        &self,
        storage: &Arc<dyn Storage>,
        record: AuditRecord,
    ) -> Result<(), String> {
        let sender = self.sender.get_or_init(|| {
            let (sender, receiver) = mpsc::channel(QUEUE);
            tokio::spawn(run(storage.clone(), receiver));
            sender
        });
        let (reply, answer) = oneshot::channel();
        sender
            .send((record, reply))
            .await
            .map_err(|_| "the audit queue stopped".to_owned())?;
        answer
            .await
            .map_err(|_| "the audit queue stopped".to_owned())?
    }
}

async fn run(storage: Arc<dyn Storage>, mut receiver: mpsc::Receiver<(AuditRecord, Reply)>) {
    let mut batch = Vec::with_capacity(BATCH);
    while receiver.recv_many(&mut batch, BATCH).await > 0 {
        let (records, replies): (Vec<_>, Vec<_>) = batch.drain(..).unzip();
        let appended = storage
            .append_audit(&records)
            .await
            .map(|_| ())
            .map_err(|error: StorageError| error.to_string());
        for reply in replies {
            let _ = reply.send(appended.clone());
        }
    }
}
