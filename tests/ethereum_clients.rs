//! Real Ethereum clients drive a `zgnode dev` process: ethers v6 and viem from npm
//! (clients/erc20.mjs) and web3.py from PyPI (clients/erc20_web3.py) deploy an ERC-20, transfer,
//! read reverts and events, and (ethers) subscribe over WebSocket.

mod common;

use std::path::Path;
use std::process::Command;

/// Installs the clients from the committed lock file when they are missing.
fn ensure_clients(dir: &Path) {
    if dir.join("node_modules/ethers").exists()
        && dir.join("node_modules/viem").exists()
        && dir.join("node_modules/@uniswap/v2-core").exists()
    {
        return;
    }
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(dir)
        .status()
        .expect("npm is needed for the client tests (Node.js 18+)");
    assert!(status.success(), "npm ci failed in {}", dir.display());
}

/// Installs web3.py into tests/clients/.venv when it is missing.
fn ensure_web3py(dir: &Path) -> std::path::PathBuf {
    let python = dir.join(".venv/bin/python");
    let has_web3 = Command::new(&python).args(["-c", "import web3"]).status().is_ok_and(|s| s.success());
    if !has_web3 {
        let status = Command::new("python3").args(["-m", "venv", ".venv"]).current_dir(dir).status().expect("python3 runs");
        assert!(status.success(), "python3 -m venv failed");
        let status = Command::new(&python)
            .args(["-m", "pip", "install", "-q", "-r", "requirements.txt"])
            .current_dir(dir)
            .status()
            .expect("pip runs");
        assert!(status.success(), "pip install -r requirements.txt failed");
    }
    python
}

/// Runs a client script against a fresh dev chain and checks it passed every step.
fn run_client(program: &Path, script: &Path, done: &str) {
    let dir = tempfile::tempdir().unwrap();
    let args = common::dev_args(dir.path());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let node = common::NodeProcess::spawn(&args);
    let output = Command::new(program)
        .arg(script)
        .arg(format!("http://{}", node.addr))
        .output()
        .unwrap_or_else(|e| panic!("{} runs: {e}", program.display()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "client checks failed\n{stdout}\n{stderr}");
    assert!(stdout.contains(done), "{stdout}");
}

fn clients_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients")
}

#[test]
fn ethers_and_viem_work_unchanged() {
    let clients = clients_dir();
    ensure_clients(&clients);
    run_client(Path::new("node"), &clients.join("erc20.mjs"), "all client checks passed");
}

#[test]
fn web3py_works_unchanged() {
    let clients = clients_dir();
    let python = ensure_web3py(&clients);
    run_client(&python, &clients.join("erc20_web3.py"), "all web3.py checks passed");
}

#[test]
fn ethers_and_viem_get_what_anvil_gives_them() {
    let clients = clients_dir();
    ensure_clients(&clients);
    run_client(Path::new("node"), &clients.join("parity.mjs"), "all parity checks passed");
}

#[test]
fn web3py_gets_what_anvil_gives_it() {
    let clients = clients_dir();
    let python = ensure_web3py(&clients);
    run_client(&python, &clients.join("parity_web3.py"), "all web3.py parity checks passed");
}
