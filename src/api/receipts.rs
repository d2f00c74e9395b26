//! Signed receipts on the wire: the content the gateway signs, the receipt
//! that carries it, and the check anyone with the public key runs offline.
//!
//! The signed bytes are the protobuf encoding of [`pb::ReceiptContent`],
//! made once here and carried as they are. A verifier checks the signature
//! over the bytes it received and decodes those, so nothing depends on two
//! encoders agreeing byte for byte, and any protobuf library can read them.
//! Re-signing a replayed answer still gives identical bytes: prost writes
//! fields in number order and lists in their order (the content has no
//! maps), and Ed25519 signatures are deterministic.

use prost::Message;

use super::convert::receipt_content;
use super::pb;
use crate::gateway::{ReceiptError, ReceiptPublicKey, ReceiptSigner, Submitted};

/// The receipt of an accepted submission, signed by the gateway.
pub fn signed_receipt(submitted: &Submitted, signer: &ReceiptSigner) -> pb::Receipt {
    let content = receipt_content(submitted);
    let signed_content = content.encode_to_vec();
    let signature = signer.sign(&signed_content);
    pb::Receipt {
        signed_content,
        signature: signature.bytes,
        signing_key_id: signature.key_id,
        ..shown(content)
    }
}

/// The receipt's readable fields, as the signed content states them; the
/// signature fields are left empty.
pub fn shown(content: pb::ReceiptContent) -> pb::Receipt {
    pb::Receipt {
        request_id: content.request_id,
        case_id: content.case_id,
        state: content.state,
        executing_region: content.executing_region,
        responsible_project_id: content.responsible_project_id,
        unroutable: content.unroutable,
        late_notice: content.late_notice,
        deliveries: content.deliveries,
        accepted_at: content.accepted_at,
        version: content.version,
        signed_content: Vec::new(),
        signature: Vec::new(),
        signing_key_id: String::new(),
    }
}

/// Checks `signature` over `signed_content` with `key` and only then
/// decodes the content.
///
/// # Errors
/// As [`ReceiptPublicKey::verify`], and [`ReceiptError::Unreadable`] when
/// correctly signed bytes are not a receipt's content.
pub fn open_signed(
    key: &ReceiptPublicKey,
    key_id: &str,
    signed_content: &[u8],
    signature: &[u8],
) -> Result<pb::ReceiptContent, ReceiptError> {
    key.verify(key_id, signed_content, signature)?;
    pb::ReceiptContent::decode(signed_content).map_err(|e| ReceiptError::Unreadable(e.to_string()))
}

/// Checks a receipt as the gateway sent it: the signature, then that every
/// readable field repeats the signed content, so nobody can be shown one
/// thing while the signature covers another. Returns what was verified.
///
/// # Errors
/// As [`open_signed`], and [`ReceiptError::Mismatch`] naming the first
/// field that differs from the signed content.
pub fn verify_receipt(
    receipt: &pb::Receipt,
    key: &ReceiptPublicKey,
) -> Result<pb::ReceiptContent, ReceiptError> {
    let content = open_signed(
        key,
        &receipt.signing_key_id,
        &receipt.signed_content,
        &receipt.signature,
    )?;
    let expected = pb::Receipt {
        signed_content: receipt.signed_content.clone(),
        signature: receipt.signature.clone(),
        signing_key_id: receipt.signing_key_id.clone(),
        ..shown(content.clone())
    };
    let (shown_fields, signed_fields) = (fields(receipt), fields(&expected));
    for ((field, shown), (_, signed)) in shown_fields.into_iter().zip(signed_fields) {
        if shown != signed {
            return Err(ReceiptError::Mismatch {
                field: field.into(),
                shown,
                signed,
            });
        }
    }
    // A field added to `Receipt` later and missing from `fields` still
    // cannot differ unnoticed.
    if *receipt != expected {
        return Err(ReceiptError::Mismatch {
            field: "receipt".into(),
            shown: format!("{receipt:?}"),
            signed: format!("{expected:?}"),
        });
    }
    Ok(content)
}

/// The readable fields by name, for saying which one was changed.
fn fields(receipt: &pb::Receipt) -> [(&'static str, String); 10] {
    [
        ("request_id", receipt.request_id.clone()),
        ("case_id", receipt.case_id.clone()),
        ("state", format!("{:?}", receipt.state())),
        ("executing_region", receipt.executing_region.clone()),
        (
            "responsible_project_id",
            receipt.responsible_project_id.clone(),
        ),
        ("unroutable", receipt.unroutable.to_string()),
        ("late_notice", receipt.late_notice.to_string()),
        ("deliveries", format!("{:?}", receipt.deliveries)),
        ("accepted_at", format!("{:?}", receipt.accepted_at)),
        ("version", receipt.version.to_string()),
    ]
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::domain::agency::AgencyId;
    use crate::domain::case::{CaseId, CaseState};
    use crate::domain::region::RegionCode;
    use crate::domain::routing::RecipientRole;
    use crate::domain::submission::{Delivery, SubmissionOutcome};
    use crate::gateway::MasterKey;

    pub(crate) fn submitted() -> Submitted {
        let agency = |id: &str| AgencyId::parse(id).unwrap();
        Submitted {
            request_id: "r-1".into(),
            agency: agency("taiyuan-detox"),
            content_digest: [9; 32],
            outcome: SubmissionOutcome {
                case_id: CaseId::new(uuid::Uuid::nil()),
                state: CaseState::AwaitingPickup,
                executing_region: RegionCode::parse("140106").unwrap(),
                responsible: Some(agency("yingze-project")),
                late_notice: true,
                version: 1,
                deliveries: vec![Delivery {
                    agency: agency("yingze-project"),
                    role: RecipientRole::ResponsibleProject,
                    position: 4,
                }],
                accepted_at: time::macros::datetime!(2026-11-28 02:00:00.123 UTC),
            },
            replayed: false,
        }
    }

    fn signer() -> ReceiptSigner {
        MasterKey::from_bytes([5; 32]).receipt_signer()
    }

    #[test]
    fn a_receipt_verifies_and_states_who_sent_what() {
        let receipt = signed_receipt(&submitted(), &signer());
        let content = verify_receipt(&receipt, &signer().public_key()).unwrap();
        assert_eq!(content.agency_id, "taiyuan-detox");
        assert_eq!(content.content_digest, [9; 32]);
        assert_eq!(content.deliveries[0].position, 4);
        assert_eq!(receipt.case_id, content.case_id);
    }

    #[test]
    fn signing_the_same_answer_again_gives_the_identical_receipt() {
        let again = Submitted {
            replayed: true,
            ..submitted()
        };
        assert_eq!(
            signed_receipt(&submitted(), &signer()),
            signed_receipt(&again, &signer())
        );
    }

    #[test]
    fn a_changed_field_byte_or_key_fails() {
        let receipt = signed_receipt(&submitted(), &signer());
        let key = signer().public_key();

        let mut shown = receipt.clone();
        shown.version = 2;
        let error = verify_receipt(&shown, &key).unwrap_err();
        assert!(
            matches!(&error, ReceiptError::Mismatch { field, .. } if field == "version"),
            "{error}"
        );

        let mut content = receipt.clone();
        content.signed_content[10] ^= 1;
        assert_eq!(
            verify_receipt(&content, &key),
            Err(ReceiptError::BadSignature)
        );

        let other = MasterKey::from_bytes([6; 32]).receipt_signer().public_key();
        assert!(matches!(
            verify_receipt(&receipt, &other),
            Err(ReceiptError::OtherKey { .. })
        ));
    }
}
