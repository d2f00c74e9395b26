//! `handover.v1.AuditService`: the audit log's head, signed by the gateway,
//! and the check anyone with the public key runs offline.
//!
//! A head is signed with the receipt key, over [`HEAD_CONTEXT`] followed by
//! the protobuf encoding of [`pb::AuditHeadContent`]. The prefix starts
//! with a zero byte, which no protobuf message can start with: a head's
//! signed bytes never decode as a receipt's content, and a receipt's
//! signature never covers a head, so one key serves both.

use prost::Message;
use time::OffsetDateTime;
use tonic::{Request, Response, Status};

use super::audit::audited;
use super::convert::timestamp;
use super::pb::audit_service_server::AuditService;
use super::pb::{self, GetAuditHeadRequest, GetAuditHeadResponse};
use super::to_status;
use crate::domain::agency::AgencyId;
use crate::domain::audit::{GENESIS, Head};
use crate::gateway::{Gateway, ReceiptError, ReceiptPublicKey, ReceiptSigner};

/// What a head's signature covers before its content.
pub const HEAD_CONTEXT: &[u8] = b"\0handover-gateway audit head v1\0";

pub struct AuditApi {
    gateway: Gateway,
}

impl AuditApi {
    pub fn new(gateway: Gateway) -> Self {
        Self { gateway }
    }
}

#[tonic::async_trait]
impl AuditService for AuditApi {
    async fn get_audit_head(
        &self,
        request: Request<GetAuditHeadRequest>,
    ) -> Result<Response<GetAuditHeadResponse>, Status> {
        audited(&self.gateway, request, |caller, _request| async move {
            let (head, at) = self.gateway.audit_head(&caller).await.map_err(to_status)?;
            let signer = self.gateway.receipt_signer();
            Ok(GetAuditHeadResponse {
                head: Some(signed_audit_head(head, at, &caller.id, signer)),
            })
        })
        .await
    }
}

/// `head` as read at `at` for `requested_by`, signed.
pub fn signed_audit_head(
    head: Head,
    at: OffsetDateTime,
    requested_by: &AgencyId,
    signer: &ReceiptSigner,
) -> pb::SignedAuditHead {
    let content = pb::AuditHeadContent {
        entries: head.entries,
        hash: head.hash.to_vec(),
        signed_at: Some(timestamp(at)),
        requested_by: requested_by.to_string(),
    };
    let signed_content = content.encode_to_vec();
    let signature = signer.sign(&[HEAD_CONTEXT, &signed_content].concat());
    pb::SignedAuditHead {
        signed_content,
        signature: signature.bytes,
        signing_key_id: signature.key_id,
        ..shown_head(content)
    }
}

/// The head's readable fields, as the signed content states them; the
/// signature fields are left empty.
pub fn shown_head(content: pb::AuditHeadContent) -> pb::SignedAuditHead {
    pb::SignedAuditHead {
        entries: content.entries,
        hash: content.hash,
        signed_at: content.signed_at,
        requested_by: content.requested_by,
        signed_content: Vec::new(),
        signature: Vec::new(),
        signing_key_id: String::new(),
    }
}

/// Checks `signature` over the head context and `signed_content` with
/// `key`, and only then decodes the content, which must name a head.
///
/// # Errors
/// As [`ReceiptPublicKey::verify`], and [`ReceiptError::Unreadable`] when
/// correctly signed bytes are not a head.
pub fn open_signed_head(
    key: &ReceiptPublicKey,
    key_id: &str,
    signed_content: &[u8],
    signature: &[u8],
) -> Result<(pb::AuditHeadContent, Head), ReceiptError> {
    key.verify(key_id, &[HEAD_CONTEXT, signed_content].concat(), signature)?;
    let content = pb::AuditHeadContent::decode(signed_content)
        .map_err(|e| ReceiptError::Unreadable(e.to_string()))?;
    let hash = <[u8; 32]>::try_from(content.hash.as_slice())
        .map_err(|_| ReceiptError::Unreadable("the hash is not 32 bytes".into()))?;
    if content.entries == 0 && hash != GENESIS {
        return Err(ReceiptError::Unreadable(
            "a head of no entries must have the chain's start as its hash".into(),
        ));
    }
    let head = Head {
        entries: content.entries,
        hash,
    };
    Ok((content, head))
}

/// Checks a head as the gateway sent it: the signature, then that every
/// readable field repeats the signed content.
///
/// # Errors
/// As [`open_signed_head`], and [`ReceiptError::Mismatch`] naming the first
/// field that differs from the signed content.
pub fn verify_audit_head(
    signed: &pb::SignedAuditHead,
    key: &ReceiptPublicKey,
) -> Result<Head, ReceiptError> {
    let (content, head) = open_signed_head(
        key,
        &signed.signing_key_id,
        &signed.signed_content,
        &signed.signature,
    )?;
    let expected = pb::SignedAuditHead {
        signed_content: signed.signed_content.clone(),
        signature: signed.signature.clone(),
        signing_key_id: signed.signing_key_id.clone(),
        ..shown_head(content)
    };
    let mismatch = |field: &str, shown: String, signed: String| ReceiptError::Mismatch {
        field: field.into(),
        shown,
        signed,
    };
    if signed.entries != expected.entries {
        return Err(mismatch(
            "entries",
            signed.entries.to_string(),
            expected.entries.to_string(),
        ));
    }
    if signed.hash != expected.hash {
        let hex = |bytes: &[u8]| crate::domain::audit::hex(bytes);
        return Err(mismatch("hash", hex(&signed.hash), hex(&expected.hash)));
    }
    // Any other field, including one added later.
    if *signed != expected {
        return Err(mismatch(
            "head",
            format!("{signed:?}"),
            format!("{expected:?}"),
        ));
    }
    Ok(head)
}

#[cfg(test)]
#[path = "audit_head_tests.rs"]
mod tests;
