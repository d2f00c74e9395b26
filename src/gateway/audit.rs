//! Appending to the audit log, and checking it, for any transport.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::{Caller, Gateway, GatewayError, Result, Standing};
use crate::domain::agency::{Agency, AgencyRef};
use crate::domain::audit::{self, AuditCaller, AuditRecord, AuditText, Break, Head, Verifier};
use crate::domain::case::CaseId;
use crate::domain::id_number::IdNumber;
use crate::storage::{Storage, StorageError};

/// Rows read at a time when checking the log.
const VERIFY_PAGE: u32 = 1024;

tokio::task_local! {
    /// The call a transport is handling, set by [`Gateway::recording`].
    /// A task-local rather than a parameter of every submission: the
    /// record and the caller's registry belong to the transport's wrapper,
    /// and the write path only carries them into the transaction.
    static CALL: Recording;
}

struct Recording {
    /// The call's entry as it reads if the call is answered OK.
    entry: AuditRecord,
    written: Arc<AtomicBool>,
    /// The registry the caller was authenticated with, or the one it was
    /// checked against again when the registry had changed.
    registry: Mutex<Arc<[Agency]>>,
    caller: AgencyRef,
    /// Shared with the [`Caller`] (see [`Gateway::confirm_caller`]).
    standing: Arc<Mutex<Standing>>,
}

/// The registry the call being handled was authenticated with (or
/// confirmed against), if any.
pub(super) fn registry_of_call() -> Option<Arc<[Agency]>> {
    CALL.try_with(|call| Arc::clone(&lock(&call.registry))).ok()
}

/// Where the caller of the call being handled stands, and who it is.
pub(super) fn caller_of_call() -> Option<(Standing, AgencyRef)> {
    CALL.try_with(|call| (lock(&call.standing).clone(), call.caller.clone()))
        .ok()
}

/// The call being handled plans with `registry`, which admitted its caller.
pub(super) fn replace_call_registry(registry: Arc<[Agency]>) {
    let _ = CALL.try_with(|call| *lock(&call.registry) = registry);
}

/// Where the caller of the call being handled stands as of now.
pub(super) fn caller_stands(standing: Standing) {
    let _ = CALL.try_with(|call| *lock(&call.standing) = standing);
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poison| poison.into_inner())
}

impl Gateway {
    /// Appends one call's record to the audit log.
    ///
    /// The append runs in the audit queue's task, with other calls'
    /// entries: a client that hangs up drops the call's future, and the
    /// entry of what already happened must be written all the same.
    ///
    /// # Errors
    /// `Unavailable` when the log cannot be written; the caller must not
    /// answer the call as if it were recorded.
    pub async fn audit(&self, record: AuditRecord) -> Result<()> {
        let call = record.call.clone();
        let appended = self.audit_queue.append(&self.storage, record).await;
        // Logged here, once, because the abandoned-call path has nobody
        // else to log it.
        appended.map_err(|error| {
            tracing::error!(%error, %call, "the audit log cannot be written");
            GatewayError::Unavailable(None)
        })
    }

    /// Runs `call` for `caller`, whose first committed submission writes
    /// `entry` (the call's record, as if answered OK) in the write's own
    /// transaction and plans with the registry `caller` was checked
    /// against (or confirmed against, when it had changed). Returns
    /// `call`'s output, whether the entry was written, and whether the
    /// caller stands confirmed: if the entry was written and the call is
    /// answered OK, the call is recorded; otherwise its outcome still needs
    /// an entry. A caller checked against the registry held in
    /// memory ([`Gateway::authenticate_held`]) that no read of `call`
    /// confirmed is confirmed once `call` is over, and its output must not
    /// be answered unless that succeeded.
    pub(crate) async fn recording<F: Future>(
        &self,
        caller: &Caller,
        entry: AuditRecord,
        call: F,
    ) -> (F::Output, bool, Result<()>) {
        let written = Arc::new(AtomicBool::new(false));
        let recording = Recording {
            entry,
            written: Arc::clone(&written),
            registry: Mutex::new(Arc::clone(&caller.registry)),
            caller: caller.agency.clone(),
            standing: Arc::clone(&caller.standing),
        };
        let (output, confirmed) = CALL
            .scope(recording, async {
                let output = call.await;
                (output, self.confirm_caller(None).await)
            })
            .await;
        (output, written.load(Ordering::Acquire), confirmed)
    }

    /// The entry a submission's write to case `id` carries, if a call is
    /// being recorded and none was written yet.
    pub(super) fn entry_for_write(&self, id: &CaseId) -> Option<AuditRecord> {
        CALL.try_with(|call| {
            if call.written.load(Ordering::Acquire) {
                return None;
            }
            let mut entry = call.entry.clone();
            entry.at = self.clock.now();
            entry
                .details
                .case_id
                .get_or_insert_with(|| AuditText::new(id.as_str()));
            Some(entry)
        })
        .ok()
        .flatten()
    }

    /// Notes that the call's entry was committed with its write.
    pub(super) fn entry_written(&self) {
        let _ = CALL.try_with(|call| call.written.store(true, Ordering::Release));
    }

    /// A guard that records `record` (meant to say `CANCELLED`) if it is
    /// dropped armed: when a client hangs up, its call's future is dropped
    /// mid-way, and a write it started may still have committed. A
    /// `caller` that no read of the call had confirmed by then is recorded
    /// as unauthenticated, with the agency its certificate claimed.
    pub fn audit_unless_finished(&self, record: AuditRecord, caller: &Caller) -> Unfinished {
        Unfinished {
            gateway: self.clone(),
            record: Some(record),
            standing: Arc::clone(&caller.standing),
        }
    }

    /// The keyed person hash (hex) of an identity number as typed, for the
    /// audit log; `None` when the text is not a valid number. The number
    /// itself goes no further.
    pub fn audit_person(&self, number: &str) -> Option<String> {
        let number = IdNumber::parse(number, self.clock.today()).ok()?;
        Some(audit::hex(&self.keyer.key(&number)))
    }
}

/// See [`Gateway::audit_unless_finished`].
pub struct Unfinished {
    gateway: Gateway,
    record: Option<AuditRecord>,
    standing: Arc<Mutex<Standing>>,
}

impl Unfinished {
    /// The call finished and records its own outcome.
    pub fn finished(mut self) {
        self.record = None;
    }
}

impl Drop for Unfinished {
    fn drop(&mut self) {
        let Some(mut record) = self.record.take() else {
            return;
        };
        if !matches!(*lock(&self.standing), Standing::Confirmed)
            && let AuditCaller::Agency { id } = &record.caller
        {
            record.caller = AuditCaller::Unauthenticated {
                claimed: Some(id.clone()),
            };
        }
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let gateway = self.gateway.clone();
                // `audit` logs a failure itself; nobody is left to answer.
                runtime.spawn(async move { gateway.audit(record).await });
            }
            Err(_) => tracing::error!(call = %record.call, "an abandoned call was not audited"),
        }
    }
}

/// Walks the whole audit log in `storage`.
///
/// # Errors
/// The outer error when storage cannot be read; the inner one names the
/// first entry changed, removed or inserted.
pub async fn verify_audit(
    storage: &dyn Storage,
) -> std::result::Result<std::result::Result<Head, Break>, StorageError> {
    verify_audit_keeping(storage, None).await
}

/// [`verify_audit`], requiring also that the log reach `kept`, a head
/// recorded earlier and kept elsewhere: the tail cut, or the log rewritten
/// up to that head, is then found too.
///
/// # Errors
/// As [`verify_audit`].
pub async fn verify_audit_keeping(
    storage: &dyn Storage,
    kept: Option<Head>,
) -> std::result::Result<std::result::Result<Head, Break>, StorageError> {
    let verifier = kept.map_or_else(Verifier::new, Verifier::keeping);
    walk_audit(storage, verifier, 0).await
}

/// Feeds `verifier` the log's rows after sequence `after`, a page at a
/// time, to the end.
///
/// # Errors
/// As [`verify_audit`].
pub(super) async fn walk_audit(
    storage: &dyn Storage,
    mut verifier: Verifier,
    mut after: u64,
) -> std::result::Result<std::result::Result<Head, Break>, StorageError> {
    loop {
        let page = storage.audit_entries(after, VERIFY_PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.sequence;
        for row in page {
            if let Err(found) = verifier.push(row) {
                return Ok(Err(found));
            }
        }
    }
    Ok(verifier.finish())
}
