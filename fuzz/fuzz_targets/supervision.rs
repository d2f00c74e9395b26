//! Supervision commands as a county project could encode them: the first
//! byte picks the call, the rest decodes to its request or fails to; a
//! decoded request converts to a command draft that validation accepts or
//! refuses by field, never a panic.
#![no_main]

use handover_gateway::api::{CommandRequest, pb};
use handover_gateway::domain::case::CaseId;
use handover_gateway::domain::validation;
use libfuzzer_sys::fuzz_target;
use prost::Message;

fn check<T: Message + Default + CommandRequest>(bytes: &[u8]) {
    let Ok(request) = T::decode(bytes) else {
        return;
    };
    let (request_id, case_id, _) = request.target();
    let _ = validation::request_id(request_id);
    if let Ok(id) = CaseId::parse(case_id) {
        assert_eq!(CaseId::parse(id.as_str()).as_ref(), Ok(&id));
    }
    let draft = request.draft();
    if let Err(invalid) = draft.parse() {
        assert!(!invalid.violations.is_empty());
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((which, bytes)) = data.split_first() else {
        return;
    };
    match which % 15 {
        0 => check::<pb::ConfirmPickupRequest>(bytes),
        1 => check::<pb::ConfirmReportRequest>(bytes),
        2 => check::<pb::RequestTransferRequest>(bytes),
        3 => check::<pb::AcceptTransferRequest>(bytes),
        4 => check::<pb::RejectTransferRequest>(bytes),
        5 => check::<pb::WithdrawTransferRequest>(bytes),
        6 => check::<pb::ConfirmArrivalRequest>(bytes),
        7 => check::<pb::NotifyAbsenceRequest>(bytes),
        8 => check::<pb::ReportLostContactRequest>(bytes),
        9 => check::<pb::RestoreContactRequest>(bytes),
        10 => check::<pb::SuspendCaseRequest>(bytes),
        11 => check::<pb::ResumeCaseRequest>(bytes),
        12 => check::<pb::CloseCaseRequest>(bytes),
        13 => check::<pb::AssignCaseRequest>(bytes),
        _ => check::<pb::WithdrawAnnouncementRequest>(bytes),
    }
});
