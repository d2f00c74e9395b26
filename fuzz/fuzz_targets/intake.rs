//! Intake requests as a detox center could encode them: any bytes decode
//! to a request or fail to decode; a decoded request converts to a draft
//! that validation accepts or refuses by field, never a panic.
#![no_main]

use handover_gateway::api::pb;
use handover_gateway::domain::intake::{AnnouncementDraft, DischargeDraft};
use handover_gateway::domain::validation;
use libfuzzer_sys::fuzz_target;
use prost::Message;
use time::macros::{date, datetime};

fuzz_target!(|data: &[u8]| {
    let Some((which, bytes)) = data.split_first() else {
        return;
    };
    let now = datetime!(2026-11-28 02:00 UTC);
    let today = date!(2026 - 11 - 28);
    let fields = if which % 2 == 0 {
        let Ok(request) = pb::SubmitDischargeRequest::decode(bytes) else {
            return;
        };
        let _ = validation::request_id(&request.request_id);
        DischargeDraft::from(request).parse(now, today).err()
    } else {
        let Ok(request) = pb::AnnounceReleaseRequest::decode(bytes) else {
            return;
        };
        let _ = validation::request_id(&request.request_id);
        AnnouncementDraft::from(request).parse(today).err()
    };
    if let Some(invalid) = fields {
        assert!(!invalid.violations.is_empty());
        assert!(invalid.violations.iter().all(|v| !v.field.is_empty()));
    }
});
