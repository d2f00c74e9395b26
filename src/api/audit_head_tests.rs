use super::*;
use crate::api::{open_signed, signed_receipt};
use crate::gateway::MasterKey;

fn signer() -> ReceiptSigner {
    MasterKey::from_bytes([5; 32]).receipt_signer()
}

fn head() -> Head {
    Head {
        entries: 42,
        hash: [7; 32],
    }
}

fn signed() -> pb::SignedAuditHead {
    let office = AgencyId::parse("shanxi-office").unwrap();
    let at = time::macros::datetime!(2026-12-01 02:00:00.5 UTC);
    signed_audit_head(head(), at, &office, &signer())
}

#[test]
fn a_signed_head_verifies_to_its_head_and_says_who_asked_when() {
    let signed = signed();
    assert_eq!(
        verify_audit_head(&signed, &signer().public_key()),
        Ok(head())
    );
    assert_eq!(signed.entries, 42);
    assert_eq!(signed.requested_by, "shanxi-office");
    assert_eq!(signed.signed_at.unwrap().seconds, 1_796_090_400);
    assert_eq!(signed.signing_key_id, signer().public_key().key_id());
}

#[test]
fn a_changed_field_byte_or_key_fails() {
    let key = signer().public_key();

    let mut shown = signed();
    shown.entries = 41;
    let error = verify_audit_head(&shown, &key).unwrap_err();
    assert!(
        matches!(&error, ReceiptError::Mismatch { field, .. } if field == "entries"),
        "{error}"
    );
    let mut shown = signed();
    shown.requested_by = "yingze-police".into();
    assert!(matches!(
        verify_audit_head(&shown, &key),
        Err(ReceiptError::Mismatch { .. })
    ));

    let mut content = signed();
    content.signed_content[3] ^= 1;
    assert_eq!(
        verify_audit_head(&content, &key),
        Err(ReceiptError::BadSignature)
    );

    let other = MasterKey::from_bytes([6; 32]).receipt_signer().public_key();
    assert!(matches!(
        verify_audit_head(&signed(), &other),
        Err(ReceiptError::OtherKey { .. })
    ));
}

#[test]
fn a_head_never_passes_as_a_receipt_nor_a_receipt_as_a_head() {
    let key = signer().public_key();
    let head = signed();
    // The bytes the head's signature covers, offered as a receipt.
    let covered = [HEAD_CONTEXT, &head.signed_content].concat();
    let as_receipt = open_signed(&key, &head.signing_key_id, &covered, &head.signature);
    assert!(
        matches!(as_receipt, Err(ReceiptError::Unreadable(_))),
        "{as_receipt:?}"
    );
    let as_receipt = open_signed(
        &key,
        &head.signing_key_id,
        &head.signed_content,
        &head.signature,
    );
    assert_eq!(as_receipt, Err(ReceiptError::BadSignature));

    let receipt = signed_receipt(&crate::api::receipts::tests::submitted(), &signer());
    let as_head = open_signed_head(
        &key,
        &receipt.signing_key_id,
        &receipt.signed_content,
        &receipt.signature,
    );
    assert_eq!(as_head, Err(ReceiptError::BadSignature));
}

#[test]
fn a_signed_head_must_name_a_hash_of_32_bytes_and_an_empty_log_the_start() {
    let office = AgencyId::parse("shanxi-office").unwrap();
    let at = time::macros::datetime!(2026-12-01 02:00 UTC);
    let empty = Head {
        entries: 0,
        hash: GENESIS,
    };
    let key = signer().public_key();
    let signed = signed_audit_head(empty, at, &office, &signer());
    assert_eq!(verify_audit_head(&signed, &key), Ok(empty));

    let forged = |content: pb::AuditHeadContent| {
        let bytes = content.encode_to_vec();
        let signature = signer().sign(&[HEAD_CONTEXT, &bytes].concat());
        open_signed_head(&key, &signature.key_id, &bytes, &signature.bytes)
    };
    let short = pb::AuditHeadContent {
        entries: 3,
        hash: vec![1; 31],
        ..Default::default()
    };
    assert!(matches!(forged(short), Err(ReceiptError::Unreadable(_))));
    let bogus = pb::AuditHeadContent {
        entries: 0,
        hash: vec![1; 32],
        ..Default::default()
    };
    assert!(matches!(forged(bogus), Err(ReceiptError::Unreadable(_))));
}
