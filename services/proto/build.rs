//! Compiles `proto/gridloop/v1/*.proto` with protox (pure Rust, no system protoc).
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../proto");
    let files = ["common", "events", "intake", "dispatch", "mediation", "evaluation"]
        .map(|name| root.join(format!("gridloop/v1/{name}.proto")));
    let descriptors = protox::compile(&files, [&root])?;

    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out_dir.join("gridloop_descriptor.bin"), prost::Message::encode_to_vec(&descriptors))?;
    tonic_prost_build::configure().build_client(true).build_server(true).compile_fds(descriptors)?;
    for file in files {
        println!("cargo:rerun-if-changed={}", file.display());
    }
    Ok(())
}
