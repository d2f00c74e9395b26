//! `handover-gateway receipt`: check a saved receipt offline with the
//! gateway's public key, and print that key for publishing.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::{Value, json};

use super::output;
use crate::api::{open_signed, pb, shown};
use crate::gateway::{MasterKey, ReceiptError, ReceiptPublicKey, from_hex, to_hex};

#[derive(clap::Subcommand, Debug)]
pub enum ReceiptCommand {
    /// Check a receipt saved from a client command's --json output, offline.
    Verify(VerifyArgs),
    /// Print the gateway's receipt public key, from its master key.
    PublicKey(PublicKeyArgs),
}

#[derive(clap::Args, Debug)]
pub struct VerifyArgs {
    /// The receipt, as a client command printed it with --json.
    #[arg(long)]
    file: PathBuf,
    /// The gateway's receipt public key (the server writes it to
    /// <certs-dir>/receipt-signing.pub).
    #[arg(
        long,
        env = "HANDOVER_RECEIPT_KEY",
        default_value = "certs/receipt-signing.pub"
    )]
    public_key: PathBuf,
    /// Print what was verified as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args, Debug)]
pub struct PublicKeyArgs {
    /// The gateway's master key file; it is only read.
    #[arg(long, env = "HANDOVER_MASTER_KEY", default_value = "data/master.key")]
    master_key: PathBuf,
}

/// # Errors
/// When the files cannot be read, or the receipt does not verify.
pub fn run(command: ReceiptCommand) -> anyhow::Result<()> {
    match command {
        ReceiptCommand::Verify(args) => verify(&args),
        ReceiptCommand::PublicKey(args) => {
            let key = MasterKey::load(&args.master_key)
                .with_context(|| format!("master key {}", args.master_key.display()))?
                .receipt_signer()
                .public_key();
            // The key alone on stdout, so it can be redirected into a file.
            println!("{key}");
            eprintln!("key id {}", key.key_id());
            Ok(())
        }
    }
}

pub(super) fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

fn refused(error: ReceiptError) -> anyhow::Error {
    anyhow::anyhow!("the receipt does NOT verify: {error}")
}

/// The signature first, over the signed bytes as saved; then every field
/// of the saved receipt against the signed content, as the client would
/// have printed it. Text a person reads can therefore not differ from what
/// is signed.
fn verify(args: &VerifyArgs) -> anyhow::Result<()> {
    let what = "a receipt saved from a client's --json output";
    let (key, saved, signed) = read_saved(&args.file, &args.public_key, what, refused)?;
    let Signed {
        key_id,
        signed_content,
        signature,
    } = signed;
    let content = open_signed(&key, &key_id, &signed_content, &signature).map_err(refused)?;
    let expected = output::receipt_json(&pb::Receipt {
        signed_content,
        signature,
        signing_key_id: key_id.clone(),
        ..shown(content.clone())
    });
    same_fields(&saved, &expected).map_err(refused)?;
    report(&content, &key_id, &expected, args.json)
}

/// The key in `public_key`, and the JSON in `file`, `what` the caller
/// expects, with its signature fields.
pub(super) fn read_saved(
    file: &Path,
    public_key: &Path,
    what: &str,
    refused: impl Fn(ReceiptError) -> anyhow::Error,
) -> anyhow::Result<(ReceiptPublicKey, Value, Signed)> {
    let key = ReceiptPublicKey::parse(&read(public_key)?)
        .map_err(|e| anyhow::anyhow!("{}: {e}", public_key.display()))?;
    let saved: Value = serde_json::from_str(&read(file)?)
        .with_context(|| format!("{} is not {what}", file.display()))?;
    let signed = signed_fields(&saved).map_err(refused)?;
    Ok((key, saved, signed))
}

/// The signature fields of a receipt or a head saved from `--json`.
pub(super) struct Signed {
    pub key_id: String,
    pub signed_content: Vec<u8>,
    pub signature: Vec<u8>,
}

pub(super) fn signed_fields(saved: &Value) -> Result<Signed, ReceiptError> {
    let text = |name: &str| saved.get(name).and_then(Value::as_str).unwrap_or_default();
    let bytes = |name: &str| match from_hex(text(name)) {
        Some(bytes) if bytes.is_empty() => Err(ReceiptError::Unsigned),
        Some(bytes) => Ok(bytes),
        None => Err(ReceiptError::Unreadable(format!("{name} is not hex"))),
    };
    Ok(Signed {
        key_id: text("signing_key_id").to_owned(),
        signed_content: bytes("signed_content")?,
        signature: bytes("signature")?,
    })
}

/// The first field where the saved receipt and the signed content differ,
/// including a field either one lacks.
pub(super) fn same_fields(saved: &Value, expected: &Value) -> Result<(), ReceiptError> {
    let (Some(saved), Some(expected)) = (saved.as_object(), expected.as_object()) else {
        return Err(ReceiptError::Unreadable(
            "the receipt is not a JSON object".into(),
        ));
    };
    let names = saved.keys().chain(expected.keys());
    for name in names {
        let (shown, signed) = (saved.get(name), expected.get(name));
        if shown != signed {
            let text = |value: Option<&Value>| value.map_or("nothing".into(), Value::to_string);
            return Err(ReceiptError::Mismatch {
                field: name.clone(),
                shown: text(shown),
                signed: text(signed),
            });
        }
    }
    Ok(())
}

fn report(
    content: &pb::ReceiptContent,
    key_id: &str,
    receipt: &Value,
    json: bool,
) -> anyhow::Result<()> {
    let digest = to_hex(&content.content_digest);
    if json {
        return output::print_json(&json!({
            "verified": true,
            "signing_key_id": key_id,
            "agency_id": content.agency_id,
            "content_digest": digest,
            "receipt": receipt,
        }));
    }
    println!("verified: signed by the gateway's receipt key {key_id}");
    println!(
        "  request {} from {}, content SHA-256 {digest}",
        content.request_id, content.agency_id
    );
    println!(
        "  case {} ({}), version {}, accepted {}",
        content.case_id,
        output::state(content.state),
        content.version,
        output::at(content.accepted_at.as_ref())
    );
    for delivery in &content.deliveries {
        println!(
            "  delivered to {} at #{} ({})",
            delivery.agency_id,
            delivery.position,
            output::role(delivery.role)
        );
    }
    println!("  every field of the saved receipt matches the signed content");
    Ok(())
}
