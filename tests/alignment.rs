//! AI alignment licences and rewards, driven by ethers v6 (tests/clients/alignment.mjs) against
//! a `zgnode dev` process: the soulbound ERC-721 licence, operator and bond, a report for a
//! finished epoch, the launch share and the epoch's vesting part claimed by the holder.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

#[test]
fn a_licence_holder_is_paid_for_the_epoch_its_operator_reported() {
    let clients = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients");
    ensure_npm_dir(&clients, &["ethers", "@openzeppelin/contracts"]);
    let dir = tempfile::tempdir().unwrap();
    let args = dev_args(dir.path());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let node = NodeProcess::spawn(&args);
    let key = |i: usize| format!("0x{}", alloy_primitives::hex::encode(dev_key(i).to_bytes()));
    let output = Command::new("node")
        .arg(clients.join("alignment.mjs"))
        .arg(format!("http://{}", node.addr))
        .arg(key(0))
        .arg(key(6))
        .output()
        .expect("node runs (Node.js 18+)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "alignment checks failed\n{stdout}\n{stderr}");
    assert!(stdout.contains("all alignment checks passed"), "{stdout}");
}
