use proptest::prelude::*;
use time::macros::datetime;

use super::*;

fn record(n: u64) -> AuditRecord {
    AuditRecord {
        at: datetime!(2026-11-28 02:00 UTC) + time::Duration::seconds(n as i64),
        caller: AuditCaller::Agency {
            id: format!("agency-{}", n % 3),
        },
        call: "handover.v1.CaseService/GetCase".into(),
        outcome: if n.is_multiple_of(2) {
            "OK"
        } else {
            "NOT_FOUND"
        }
        .into(),
        reason: None,
        details: AuditDetails {
            purpose: Some(AuditText::new(&format!("purpose {n}"))),
            ..AuditDetails::default()
        },
    }
}

fn chain(len: u64) -> Vec<SealedEntry> {
    let mut chain = Chain::new();
    (1..=len).map(|n| chain.seal(&record(n)).unwrap()).collect()
}

fn broken(rows: Vec<SealedEntry>) -> (u64, BreakKind) {
    let found = verify(rows).unwrap_err();
    (found.sequence, found.kind)
}

/// The rows after `from` move one place on, as a careful intruder would
/// renumber them.
fn shift(rows: &mut [SealedEntry], from: usize, by: i64) {
    for row in rows.iter_mut().skip(from) {
        row.sequence = row.sequence.checked_add_signed(by).unwrap();
    }
}

#[test]
fn an_untouched_log_verifies_to_its_head() {
    let rows = chain(5);
    let head = verify(rows.clone()).unwrap();
    assert_eq!(head.entries, 5);
    assert_eq!(head.hash, rows[4].hash);
    assert_eq!(verify(Vec::new()).unwrap().hash, GENESIS);
}

#[test]
fn the_first_hash_chains_from_zeros_and_each_entry_names_its_place() {
    let rows = chain(2);
    assert_eq!(rows[0].hash, link(&GENESIS, &rows[0].entry));
    assert_eq!(rows[1].hash, link(&rows[0].hash, &rows[1].entry));
    let second = rows[1].parse().unwrap();
    assert_eq!(second.sequence, 2);
    assert_eq!(parse_hash(&second.prev), Some(rows[0].hash));
    assert_eq!(second.record, record(2));
}

#[test]
fn a_chain_resumes_where_storage_left_it() {
    let rows = chain(3);
    let mut resumed = Chain::resume(2, rows[1].hash);
    assert_eq!(resumed.seal(&record(3)).unwrap(), rows[2]);
}

#[test]
fn a_changed_entry_is_named() {
    let mut rows = chain(4);
    rows[1].entry = rows[1].entry.replace("\"OK\"", "\"NOT_FOUND\"");
    assert_ne!(rows[1].entry, chain(4)[1].entry);
    assert_eq!(broken(rows), (2, BreakKind::Changed));
}

#[test]
fn a_changed_entry_with_a_recomputed_hash_is_named_by_its_successor() {
    let mut rows = chain(4);
    let mut forged = Chain::resume(1, rows[0].hash);
    let mut other = record(2);
    other.outcome = "PERMISSION_DENIED".into();
    rows[1] = forged.seal(&other).unwrap();
    assert_eq!(broken(rows), (2, BreakKind::Changed));
}

#[test]
fn an_altered_sequence_column_is_a_change() {
    let mut rows = chain(3);
    rows[2].sequence = 7;
    assert_eq!(broken(rows), (3, BreakKind::Changed));
}

#[test]
fn a_removed_entry_is_named_whether_or_not_the_rest_were_renumbered() {
    let mut rows = chain(5);
    rows.remove(2);
    assert_eq!(broken(rows.clone()), (3, BreakKind::Removed));
    shift(&mut rows, 2, -1);
    assert_eq!(broken(rows), (3, BreakKind::Removed));
}

#[test]
fn an_inserted_entry_is_named() {
    let rows = chain(4);
    let mut forged = Chain::resume(2, rows[1].hash);
    let mut inserted = rows.clone();
    inserted.insert(2, forged.seal(&record(99)).unwrap());
    shift(&mut inserted, 3, 1);
    assert_eq!(broken(inserted), (3, BreakKind::Inserted));
}

#[test]
fn a_kept_head_finds_the_tail_cut_and_the_log_rewritten_up_to_it() {
    let rows = chain(6);
    let kept = verify(rows[..4].to_vec()).unwrap();
    assert_eq!(verify_keeping(rows.clone(), Some(kept)).unwrap().entries, 6);

    let cut = verify_keeping(rows[..3].to_vec(), Some(kept)).unwrap_err();
    assert_eq!((cut.sequence, cut.kind), (4, BreakKind::Removed));
    assert_eq!(verify(rows[..3].to_vec()).unwrap().entries, 3);

    let mut forger = Chain::new();
    let forged: Vec<_> = (1..=6)
        .map(|n| forger.seal(&record(n + 100)).unwrap())
        .collect();
    assert_eq!(verify(forged.clone()).unwrap().entries, 6, "it chains");
    let found = verify_keeping(forged, Some(kept)).unwrap_err();
    assert_eq!((found.sequence, found.kind), (4, BreakKind::Changed));

    let empty = verify(Vec::new()).unwrap();
    assert_eq!(
        verify_keeping(rows.clone(), Some(empty)).unwrap().entries,
        6
    );
    let bogus = Head {
        entries: 0,
        hash: kept.hash,
    };
    assert!(verify_keeping(rows, Some(bogus)).is_err());
}

/// Rows from the entry of `checked` on, through a verifier resuming there.
fn resumed(checked: Head, rows: &[SealedEntry]) -> Result<Head, (u64, BreakKind)> {
    let mut verifier = Verifier::resuming(checked);
    let from = usize::try_from(checked.entries.saturating_sub(1)).unwrap();
    for row in rows.iter().skip(from).cloned() {
        verifier.push(row).map_err(|b| (b.sequence, b.kind))?;
    }
    verifier.finish().map_err(|b| (b.sequence, b.kind))
}

#[test]
fn resuming_at_a_checked_head_reads_from_its_entry_on() {
    let rows = chain(6);
    let checked = verify(rows[..4].to_vec()).unwrap();
    assert_eq!(
        resumed(checked, &rows).unwrap(),
        verify(rows.clone()).unwrap()
    );
    assert_eq!(
        resumed(checked, &rows[..4]).unwrap(),
        checked,
        "nothing new"
    );
    let empty = verify(Vec::new()).unwrap();
    assert_eq!(resumed(empty, &rows).unwrap().entries, 6);

    assert_eq!(resumed(checked, &rows[..3]), Err((4, BreakKind::Removed)));
    let mut gone = rows.clone();
    gone.remove(3);
    assert_eq!(resumed(checked, &gone), Err((4, BreakKind::Removed)));

    let mut forger = Chain::new();
    let forged: Vec<_> = (1..=6)
        .map(|n| forger.seal(&record(n + 100)).unwrap())
        .collect();
    assert_eq!(resumed(checked, &forged), Err((4, BreakKind::Changed)));

    let mut edited = rows.clone();
    edited[3].entry = edited[3].entry.replace("purpose 4", "purpose 5");
    assert_eq!(resumed(checked, &edited), Err((4, BreakKind::Changed)));

    let mut after = rows.clone();
    after[4].entry = after[4].entry.replace("purpose 5", "purpose 6");
    assert_eq!(resumed(checked, &after), Err((5, BreakKind::Changed)));
}

#[test]
fn a_head_is_kept_as_its_entries_and_hash() {
    let head = verify(chain(3)).unwrap();
    assert_eq!(head.token().parse::<Head>().unwrap(), head);
    assert!(head.token().starts_with("3:"));
    let empty = verify(Vec::new()).unwrap();
    assert_eq!(empty.token().parse::<Head>().unwrap(), empty);
    let hash = hex(&head.hash);
    for bad in [
        String::new(),
        "3".into(),
        "3:abc".into(),
        ":".into(),
        format!("x:{hash}"),
        format!("-1:{hash}"),
        format!(":{hash}"),
        format!("3:{hash}0"),
        format!("0:{hash}"),
    ] {
        assert!(bad.parse::<Head>().is_err(), "{bad}");
    }
}

#[test]
fn identity_numbers_are_masked_in_any_form() {
    let text = "查 11010519491231002X and 110105194912310021, old 110105491231002 \
                and １１０１０５１９４９１２３１００２ｘ; phone 13800138000 stays";
    let masked = mask_identity_numbers(text);
    assert_eq!(
        masked,
        "查 [id number] and [id number], old [id number] \
         and [id number]; phone 13800138000 stays"
    );
}

#[test]
fn audit_text_is_masked_and_cut() {
    let long = "a".repeat(TEXT_MAX_CHARS + 10);
    let text = AuditText::new(&long);
    assert_eq!(text.as_str().chars().count(), TEXT_MAX_CHARS + 1);
    let cut = AuditText::new(&format!("{}110105194912310021", "汉".repeat(250)));
    assert!(!cut.as_str().contains("1101051949"), "{}", cut.as_str());
}

#[test]
fn an_entry_reads_the_same_as_it_was_written() {
    let mut chain = Chain::new();
    let mut full = record(1);
    full.caller = AuditCaller::Unauthenticated {
        claimed: Some("ghost-detox".into()),
    };
    full.reason = Some(AuditText::new("agency ghost-detox is not registered"));
    full.details = AuditDetails {
        request_id: Some(AuditText::new("r-1")),
        case_id: Some(AuditText::new("01900000-0000-7000-8000-000000000000")),
        lookup: Some(Lookup::IdNumber {
            person: Some(hex(&[7; 32])),
        }),
        purpose: Some(AuditText::new("review")),
        position: Some(3),
    };
    let sealed = chain.seal(&full).unwrap();
    assert_eq!(sealed.parse().unwrap().record, full);
}

proptest! {
    /// PostgreSQL builds the entry by concatenation (`entry_text`); it
    /// must be the very JSON of the entry, whatever the record holds.
    #[test]
    fn an_entry_spelled_out_is_the_json_of_the_entry(
        sequence in 1u64..u64::MAX,
        prev in any::<[u8; 32]>(),
        unauthenticated in any::<bool>(),
        text in "\\PC{0,40}",
        position in proptest::option::of(any::<u64>()),
    ) {
        let mut full = record(sequence % 7);
        if unauthenticated {
            full.caller = AuditCaller::Unauthenticated { claimed: Some(text.clone()) };
        }
        full.reason = Some(AuditText::new(&format!("\"{text}\" 拒绝")));
        full.details = AuditDetails {
            request_id: Some(AuditText::new(&text)),
            lookup: Some(Lookup::IdNumber { person: None }),
            position,
            ..AuditDetails::default()
        };
        let entry = AuditEntry { sequence, prev: hex(&prev), record: full.clone() };
        let spelled = entry_text(sequence, &prev, &record_fields(&full).unwrap());
        prop_assert_eq!(spelled, serde_json::to_string(&entry).unwrap());
    }
}

/// One way to tamper with a log of `len` entries, and where it must be
/// found.
#[derive(Debug, Clone)]
enum Tamper {
    /// One byte of entry `at` replaced.
    Byte {
        at: usize,
        offset: usize,
        byte: u8,
    },
    /// Entry `at` given another outcome and a correctly recomputed hash.
    Recomputed {
        at: usize,
    },
    Remove {
        at: usize,
        renumber: bool,
    },
    /// A forged row before entry `at`: well chained, with a made-up hash,
    /// or a copy of entry `copy`.
    Insert {
        at: usize,
        how: u8,
        copy: usize,
    },
}

fn tamper(len: usize) -> impl Strategy<Value = Tamper> {
    prop_oneof![
        (0..len, any::<usize>(), any::<u8>()).prop_map(|(at, offset, byte)| Tamper::Byte {
            at,
            offset,
            byte
        }),
        // The last entry's successor is what reveals a recomputed hash or
        // a removal, so neither is visible at the very end.
        (0..len - 1).prop_map(|at| Tamper::Recomputed { at }),
        (0..len - 1, any::<bool>()).prop_map(|(at, renumber)| Tamper::Remove { at, renumber }),
        (0..len, 0..3u8, 0..len).prop_map(|(at, how, copy)| Tamper::Insert { at, how, copy }),
    ]
}

fn apply(rows: &mut Vec<SealedEntry>, tamper: &Tamper) -> Option<(u64, BreakKind)> {
    let place = |at: usize| at as u64 + 1;
    match *tamper {
        Tamper::Byte { at, offset, byte } => {
            let mut bytes = rows[at].entry.clone().into_bytes();
            let offset = offset % bytes.len();
            if bytes[offset] == byte {
                return None;
            }
            bytes[offset] = byte;
            rows[at].entry = String::from_utf8_lossy(&bytes).into_owned();
            Some((place(at), BreakKind::Changed))
        }
        Tamper::Recomputed { at } => {
            let prev = if at == 0 { GENESIS } else { rows[at - 1].hash };
            let mut changed = rows[at].parse().unwrap().record;
            changed.outcome = "INTERNAL".into();
            rows[at] = Chain::resume(at as u64, prev).seal(&changed).unwrap();
            Some((place(at), BreakKind::Changed))
        }
        Tamper::Remove { at, renumber } => {
            rows.remove(at);
            if renumber {
                shift(rows, at, -1);
            }
            Some((place(at), BreakKind::Removed))
        }
        Tamper::Insert { at, how, copy } => {
            let prev = if at == 0 { GENESIS } else { rows[at - 1].hash };
            let mut forged = Chain::resume(at as u64, prev).seal(&record(1000)).unwrap();
            match how {
                0 => {}
                1 => forged.hash = [0xab; 32],
                // A copy of the entry it is put before is a duplicate: either
                // of the two may be called the inserted one.
                _ if copy == at => return None,
                _ => {
                    forged.entry = rows[copy].entry.clone();
                    forged.hash = rows[copy].hash;
                }
            }
            rows.insert(at, forged);
            shift(rows, at + 1, 1);
            Some((place(at), BreakKind::Inserted))
        }
    }
}

proptest! {
    #[test]
    fn any_single_tampering_is_found_at_its_entry(
        (len, tamper) in (2..24usize).prop_flat_map(|len| (Just(len), tamper(len)))
    ) {
        let mut rows = chain(len as u64);
        if let Some(expected) = apply(&mut rows, &tamper) {
            prop_assert_eq!(broken(rows), expected);
        }
    }
}
