//! Compiles `proto/` without a system `protoc`: protox parses the files in
//! pure Rust and tonic-prost-build generates the code from the descriptors.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "proto/handover/v1/case.proto",
        "proto/handover/v1/intake.proto",
        "proto/handover/v1/inbox.proto",
        "proto/handover/v1/cases.proto",
        "proto/handover/v1/supervision.proto",
        "proto/handover/v1/audit.proto",
    ];
    println!("cargo:rerun-if-changed=proto");
    // sqlx::migrate! reads migrations/ at compile time, and a new file
    // alone would not make cargo compile again.
    println!("cargo:rerun-if-changed=migrations");
    let descriptors = protox::compile(files, ["proto"])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let descriptor_path = out.join("handover_descriptor.bin");
    std::fs::write(
        &descriptor_path,
        prost::Message::encode_to_vec(&descriptors),
    )?;
    tonic_prost_build::configure()
        .file_descriptor_set_path(&descriptor_path)
        .skip_protoc_run()
        .compile_fds(descriptors)?;
    Ok(())
}
