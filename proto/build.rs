//! Compiles `helpdesk/**/*.proto` with protox (pure Rust, no system protoc) and writes the encoded
//! descriptor set next to the generated code, because server reflection needs it and
//! `compile_fds` does not write it.

use std::{env, fs, path::PathBuf};

use prost::Message;

const PROTOS: &[&str] = &[
    "helpdesk/identity/v1/identity.proto",
    "helpdesk/tickets/v1/tickets.proto",
    "helpdesk/kb/v1/kb.proto",
    "helpdesk/mail/v1/mail.proto",
    "helpdesk/events/v1/events.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={proto}");
    }
    let descriptors = protox::compile(PROTOS, ["."])?;
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(out_dir.join("helpdesk_descriptor.bin"), descriptors.encode_to_vec())?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(descriptors)?;
    Ok(())
}
