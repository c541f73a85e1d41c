//! The status page (`GET /status` on the JSON-RPC port): served with its own assets and a strict
//! policy, read-only, fed by the node's own JSON-RPC answers, off when configured off, and
//! JSON-RPC untouched beside it; then in a real browser (headless Chromium over the DevTools
//! protocol, `tests/clients/status_page.mjs`) on `zgnode dev`: it updates live, shows a DA blob
//! and an uploaded file once they are submitted, fits a phone, and logs no error. Screenshots go
//! to the test's target folder (`status-page-desktop.png`, `status-page-phone.png`).

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use serde_json::{Value, json};

#[test]
fn the_page_is_served_read_only_from_the_nodes_own_answers_and_json_rpc_is_untouched() {
    let node = start_node(&test_config());
    wait_for_block(node.addr, 2, Duration::from_secs(20));

    let (status, head, page) = http(node.addr, "GET", "/status", "");
    assert_eq!(status, 200, "{head}");
    assert!(head.contains("content-type: text/html") && head.contains("content-security-policy: default-src 'none'"), "{head}");
    assert!(page.contains("status/app.js") && page.contains("status/app.css"));
    for asset in ["/status/app.js", "/status/app.css"] {
        assert_eq!(http(node.addr, "GET", asset, "").0, 200, "{asset}");
    }
    let (status, head, _) = http(node.addr, "GET", "/", "Accept: text/html\r\n");
    assert!(status == 302 && head.contains("location: status"), "a browser at / is sent to the page: {head}");

    // The snapshot is the RPC's own answers: the height is eth_blockNumber's (give or take the
    // blocks sealed between the two asks), the validator set is the Staking contract's.
    let (status, _, body) = http(node.addr, "GET", "/status/snapshot", "");
    assert_eq!(status, 200);
    let snapshot: Value = serde_json::from_str(&body).expect("JSON");
    let height = snapshot["chain"]["height"].as_u64().expect("a height");
    let rpc_height = quantity(&ok(node.addr, "eth_blockNumber", json!([])));
    assert!(height <= rpc_height && rpc_height <= height + 20, "page {height}, RPC {rpc_height}");
    assert_eq!(snapshot["chain"]["chainId"], json!(CHAIN_ID));
    assert!(!snapshot["chain"]["blocks"].as_array().expect("recent blocks").is_empty());
    assert_eq!(snapshot["validators"]["members"].as_array().map(Vec::len), Some(4), "the dev genesis stakes four validators");
    assert_eq!(snapshot["errors"], json!([]));
    let status_rpc = ok(node.addr, "zgnode_status", json!([]));
    assert!(status_rpc["gpu"]["line"].is_string(), "{status_rpc}");
    // No secrets: none of the dev accounts' private keys appears anywhere on it.
    for account in zgnode::dev::dev_accounts() {
        let key = alloy_primitives::hex::encode(account.private_key);
        assert!(!body.contains(&key) && !page.contains(&key));
    }

    // Read-only and bounded: other methods and paths under /status are refused.
    for (method, path) in [("POST", "/status/snapshot"), ("PUT", "/status"), ("DELETE", "/status/events"), ("GET", "/status/nothing"), ("GET", "/status/../../etc/passwd")] {
        assert_eq!(http(node.addr, method, path, "").0, 404, "{method} {path}");
    }
    // Server-sent events: a snapshot at once.
    let mut stream = TcpStream::connect(node.addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(stream, "GET /status/events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n").unwrap();
    let mut reader = BufReader::new(stream);
    let mut seen = String::new();
    while !seen.contains("data: {") {
        let mut line = String::new();
        assert!(reader.read_line(&mut line).expect("an event") > 0, "the stream ended: {seen}");
        seen += &line;
    }
    assert!(seen.to_ascii_lowercase().contains("content-type: text/event-stream") && seen.contains("event: snapshot"), "{seen}");

    // JSON-RPC beside it, unchanged.
    assert_eq!(quantity(&ok(node.addr, "eth_chainId", json!([]))), CHAIN_ID);
    // A browser still watching does not keep the node from stopping: its stream ends.
    let stopping = std::time::Instant::now();
    node.stop();
    assert!(stopping.elapsed() < Duration::from_secs(10), "stopping took {:?} with a page open", stopping.elapsed());
    drop(reader);

    let mut config = test_config();
    config.rpc.status_page = false;
    let node = start_node(&config);
    assert_ne!(http(node.addr, "GET", "/status", "").0, 200, "status_page = false serves no page");
    let (status, head, _) = http(node.addr, "GET", "/", "Accept: text/html\r\n");
    assert!(status != 302 && !head.contains("location"), "{head}");
    assert_eq!(quantity(&ok(node.addr, "eth_chainId", json!([]))), CHAIN_ID);
    node.stop();
}

/// Chromium, or None (skip) where it is not installed, except in CI (ZG_REQUIRE_BROWSER).
fn chromium() -> Option<String> {
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        if Command::new(name).arg("--version").output().is_ok_and(|o| o.status.success()) {
            return Some(name.to_string());
        }
    }
    assert!(std::env::var("ZG_REQUIRE_BROWSER").is_err(), "Chromium is required here (ZG_REQUIRE_BROWSER is set)");
    eprintln!("skipped: no Chromium");
    None
}

#[test]
fn a_browser_watches_zgnode_dev_live_and_sees_a_blob_and_a_file_arrive() {
    let Some(browser) = chromium() else { return };
    let clients = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients");
    ensure_npm_dir(&clients, &["ws"]);
    let dir = tempfile::tempdir().unwrap();
    let args = dev_args(dir.path());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let node = NodeProcess::spawn(&args);
    let storage = node.storage_addr.expect("the dev chain is a storage node");
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("status-page");
    let mut page = Command::new("node")
        .arg(clients.join("status_page.mjs"))
        .args([&format!("http://{}/status", node.addr), &shots.display().to_string(), &browser])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node runs the browser driver");
    let mut lines = BufReader::new(page.stdout.take().unwrap()).lines();
    let first = lines.next().expect("a line").expect("readable");
    assert_eq!(first, "watching", "the page did not draw its first update");

    // While the page is open: a file through the storage client, a blob through the DA CLI.
    let file = dir.path().join("file.bin");
    std::fs::write(&file, (0..300 * 1024).map(|i| (i * 13 % 251) as u8).collect::<Vec<u8>>()).unwrap();
    let rpc = format!("http://{}", node.addr);
    let key = format!("0x{}", alloy_primitives::hex::encode(dev_key(1).to_bytes()));
    for args in [
        vec!["storage", "upload", file.to_str().unwrap(), "--rpc", &rpc, "--storage", &format!("http://{storage}"), "--key", &key],
        vec!["da", "submit", file.to_str().unwrap(), "--rpc", &rpc],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_zgnode")).args(&args).output().unwrap();
        assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
    }

    let result: Value = serde_json::from_str(&lines.next().expect("the result").expect("readable")).expect("JSON");
    let _ = page.wait();
    assert!(result.get("failure").is_none(), "{result}");
    let count = |v: &Value| v.as_str().and_then(|s| s.replace(',', "").parse::<u64>().ok());
    assert_eq!((count(&result["first"]["blobs"]), count(&result["first"]["files"])), (Some(0), Some(0)), "a fresh chain: {result}");
    assert!(count(&result["seen"]["blobs"]) >= Some(1) && count(&result["seen"]["files"]) >= Some(1), "{result}");
    assert!(count(&result["advanced"]["height"]) > count(&result["advanced"]["firstHeight"]), "{result}");
    assert_eq!(result["phone"]["fitsWidth"], json!(true), "the page fits a 390 px phone: {result}");
    assert_eq!(result["problems"], json!([]), "console errors, exceptions or failed loads: {result}");
    for shot in ["desktop", "phone"] {
        let path = shots.with_file_name(format!("status-page-{shot}.png"));
        assert!(std::fs::metadata(&path).is_ok_and(|m| m.len() > 10_000), "{}", path.display());
        eprintln!("screenshot: {}", path.display());
    }
    node.kill();
}
