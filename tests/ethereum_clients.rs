//! Real Ethereum clients (ethers v6 and viem, from npm) drive a `zgnode dev` process: deploy an
//! ERC-20, transfer, read reverts and events, subscribe over WebSocket. See clients/erc20.mjs.

mod common;

use std::path::Path;
use std::process::Command;

/// Installs the clients from the committed lock file when they are missing.
fn ensure_clients(dir: &Path) {
    if dir.join("node_modules/ethers").exists() && dir.join("node_modules/viem").exists() {
        return;
    }
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(dir)
        .status()
        .expect("npm is needed for the client tests (Node.js 18+)");
    assert!(status.success(), "npm ci failed in {}", dir.display());
}

#[test]
fn ethers_and_viem_work_unchanged() {
    let clients = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients");
    ensure_clients(&clients);
    let dir = tempfile::tempdir().unwrap();
    let args = common::dev_args(dir.path());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let node = common::NodeProcess::spawn(&args);
    let output = Command::new("node")
        .arg(clients.join("erc20.mjs"))
        .arg(format!("http://{}", node.addr))
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "client checks failed\n{stdout}\n{stderr}");
    assert!(stdout.contains("all client checks passed"), "{stdout}");
}
