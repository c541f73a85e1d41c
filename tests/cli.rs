//! The command line: help, version, init, config errors and exit codes.

mod common;

use std::process::Command;

fn zgnode(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_zgnode")).args(args).output().expect("runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).to_string(),
        String::from_utf8_lossy(&output.stderr).to_string(),
    )
}

#[test]
fn help_and_version_work_on_every_command() {
    for args in [vec!["--help"], vec!["dev", "--help"], vec!["run", "--help"], vec!["init", "--help"], vec!["testnet", "--help"], vec!["bench", "consensus", "--help"], vec!["version", "--help"]] {
        let (code, stdout, _) = zgnode(&args);
        assert_eq!(code, 0, "{args:?}");
        assert!(stdout.contains("Usage"), "{args:?}: {stdout}");
    }
    let (code, stdout, _) = zgnode(&["version"]);
    let lines: Vec<&str> = stdout.trim().lines().collect();
    assert_eq!((code, lines[0]), (0, concat!("zgnode ", env!("CARGO_PKG_VERSION"))));
    // The GPU it found, or why there is none (this machine: none) and that the CPU path runs.
    assert!(lines.len() == 2 && lines[1].starts_with("GPU: ") && (lines[1].contains("CPU path") || lines[1].contains("NVRTC")), "{stdout}");
}

#[test]
fn unknown_commands_and_bad_flags_fail_with_usage() {
    let (code, _, stderr) = zgnode(&["frobnicate"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("unrecognized subcommand"), "{stderr}");
    let (code, _, stderr) = zgnode(&["dev", "--rpc-addr", "not-an-address"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--rpc-addr"), "{stderr}");
}

#[test]
fn init_writes_a_runnable_home_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let home_arg = home.to_str().unwrap();
    let (code, stdout, stderr) = zgnode(&["init", "--dir", home_arg, "--chain-id", "16600"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("zgnode run --config"));
    let config = zgnode::NodeConfig::load(&home.join("config.toml")).expect("config loads");
    assert_eq!(config.node.data_dir, home.join("data"));
    let genesis = zgnode::local_files::load_genesis(&home.join("genesis.json")).expect("genesis loads");
    assert_eq!(genesis.chain_id, 16600);
    let key = std::fs::read_to_string(home.join("node.key")).unwrap();
    assert_eq!(key.trim().len(), 66);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(home.join("node.key")).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let (code, _, stderr) = zgnode(&["init", "--dir", home_arg]);
    assert_eq!(code, 1);
    assert!(stderr.contains("exists; pass --force"), "{stderr}");

    // The home it wrote runs as it is.
    let config_arg = home.join("config.toml").display().to_string();
    let node = common::NodeProcess::spawn(&["run", "--config", &config_arg, "--rpc-addr", "127.0.0.1:0"]);
    assert_eq!(common::ok(node.addr, "eth_chainId", serde_json::json!([])), "0x40d8");
    drop(node);
    assert!(home.join("data/chain.redb").exists(), "the data dir is relative to the config file");
}

#[test]
fn bad_config_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = zgnode(&["run", "--config", dir.path().join("missing.toml").to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(stderr.contains("cannot read config"), "{stderr}");
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[node]\ntick_ms = \"fast\"\n").unwrap();
    let (code, _, stderr) = zgnode(&["run", "--config", bad.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(stderr.contains("invalid config") && stderr.contains("tick_ms"), "{stderr}");
    let genesis = dir.path().join("genesis.json");
    std::fs::write(&genesis, "{\"chainId\": 1}").unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "[chain]\ngenesis = \"genesis.json\"\n").unwrap();
    let (code, _, stderr) = zgnode(&["run", "--config", config.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(stderr.contains("invalid genesis"), "{stderr}");
}

#[test]
fn a_busy_rpc_port_is_reported() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (code, _, stderr) = zgnode(&["dev", "--ephemeral", "--rpc-addr", &addr, "--storage-addr", "127.0.0.1:0", "--da-grpc-addr", "127.0.0.1:0"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("cannot start JSON-RPC") && stderr.contains("cannot listen"), "{stderr}");
}

#[test]
fn metrics_are_served_for_prometheus() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let metrics_addr = format!("127.0.0.1:{port}");
    let mut args: Vec<String> =
        vec!["dev".into(), "--ephemeral".into(), "--rpc-addr".into(), "127.0.0.1:0".into(), "--storage-addr".into(), "127.0.0.1:0".into()];
    args.extend(["--da-grpc-addr".into(), "127.0.0.1:0".into(), "--compute-addr".into(), "127.0.0.1:0".into()]);
    args.extend(["--metrics-addr".into(), metrics_addr.clone(), "--data-dir".into(), dir.path().display().to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let node = common::NodeProcess::spawn(&args);
    let gpu = node.gpu.clone().unwrap_or_default();
    assert!(gpu.contains("CPU path") || gpu.contains("erasure coding of batches"), "the banner says what the node uses: {gpu:?}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let body = std::net::TcpStream::connect(&metrics_addr).ok().and_then(|mut stream| {
            use std::io::{Read, Write};
            stream.write_all(format!("GET /metrics HTTP/1.1\r\nHost: {metrics_addr}\r\nConnection: close\r\n\r\n").as_bytes()).ok()?;
            let mut text = String::new();
            stream.read_to_string(&mut text).ok()?;
            Some(text)
        });
        if let Some(body) = body.filter(|b| b.contains("zgnode_system_seconds") && b.contains("seal_block")) {
            assert!(body.contains("zgnode_tick_seconds"), "{body}");
            // 1 on a GPU host, 0 here: the node looked for a GPU once at start.
            assert!(body.contains("zgnode_gpu_present"), "{body}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no tick metrics at {metrics_addr}");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

#[test]
fn sigterm_stops_the_node_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let args = common::dev_args(dir.path());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut node = common::NodeProcess::spawn(&args);
    common::wait_for_block(node.addr, 2, std::time::Duration::from_secs(20));
    let status = Command::new("kill").args(["-TERM", &node.child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let exit = loop {
        if let Some(exit) = node.child.try_wait().unwrap() {
            break exit;
        }
        assert!(std::time::Instant::now() < deadline, "zgnode did not stop within 10 s of SIGTERM");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(exit.success(), "exit status {exit}");
    // What it sealed before stopping is all there on restart.
    let node = common::NodeProcess::spawn(&args);
    assert!(common::quantity(&common::ok(node.addr, "eth_blockNumber", serde_json::json!([]))) >= 2);
}

#[test]
fn bench_arguments_are_checked() {
    let (code, _, stderr) = zgnode(&["bench", "execution", "--txs", "0"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("must be positive"), "{stderr}");
    let (code, _, stderr) = zgnode(&["bench", "execution", "--txs", "1000000"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("at most"), "{stderr}");
    let (code, stdout, stderr) = zgnode(&["bench", "execution", "--txs", "20", "--senders", "4", "--rounds", "1", "--sustained-blocks", "3"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("ratio node / bare revm"), "{stdout}");
    assert!(stdout.contains("commit overlapped (dev chain)"), "{stdout}");
    let (code, _, stderr) = zgnode(&["bench", "execution", "--txs", "2000", "--sustained-blocks", "1000"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("at most 200,000"), "{stderr}");
    // The game frame: every part the game thread pays is in the table.
    let (code, stdout, stderr) = zgnode(&["bench", "embed", "--loads", "10", "--frames", "5", "--warmup", "2"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("game thread p50 / p99 ms") && stdout.contains("memory, thread"), "{stdout}");
    // The WAN simulation: a plan out of range is refused before anything runs; a small one runs.
    for (args, says) in [(vec!["--loss", "0.9"], "--loss"), (vec!["--validators", "0"], "--validators"), (vec!["--validators", "4,300"], "--validators")] {
        let (code, _, stderr) = zgnode(&[&["bench", "wan"][..], &args[..]].concat());
        assert_eq!(code, 1, "{args:?}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
    let (code, _, stderr) = zgnode(&["bench", "wan", "--loss", "lots"]);
    assert_eq!(code, 2, "{stderr}");
    let (code, stdout, stderr) = zgnode(&["bench", "wan", "--validators", "4", "--seconds", "2", "--warmup", "2"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("finality p50/p99 ms") && stdout.contains("fingerprint 0x"), "{stdout}");
    // EZKL named but absent: said before any proving, not after.
    let (code, _, stderr) = zgnode(&["bench", "proofs", "--ezkl", "/nonexistent/python"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("cannot import ezkl") && stderr.contains("pip install ezkl"), "{stderr}");
    let (code, _, stderr) = zgnode(&["bench", "proofs", "--ezkl", "python3", "--no-ezkl"]);
    assert_eq!(code, 2, "{stderr}");
    let (code, _, stderr) = zgnode(&["bench", "training", "--tasks", "101"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("--tasks must be at most 100"), "{stderr}");
    // The provider's overhead per task, end to end: a dev chain, its storage, the provider's log.
    let (code, stdout, stderr) = zgnode(&["bench", "training", "--examples", "4", "--epochs", "1", "--tasks", "1", "--python", "/nonexistent/python"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("PyTorch + PEFT: not run") && stdout.contains("provider overhead per task"), "{stdout}");
    let settlement = stdout.lines().find(|l| l.contains("settlement (settleFees)")).unwrap_or_default();
    let gas: u64 = settlement.rsplit("gas ").next().and_then(|g| g.trim().parse().ok()).unwrap_or_default();
    assert!(gas > 21_000, "settleFees costs gas: {stdout}");
    let (code, _, stderr) = zgnode(&["bench", "da", "--blob-bytes", "32505853"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("at most 32505852"), "{stderr}");
    let charts = tempfile::tempdir().unwrap();
    let chart = charts.path().join("da.svg");
    let (code, stdout, stderr) = zgnode(&["bench", "da", "--blob-bytes", "200000,400000", "--rounds", "1", "--plot", chart.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("bare reed-solomon-simd") && stdout.contains("fraud proof"), "{stdout}");
    assert_eq!(stdout.matches("da: a ").count(), 2, "a run a size: {stdout}");
    let svg = std::fs::read_to_string(&chart).expect("the chart");
    assert!(svg.contains("blob size (MiB)") && svg.contains("(baseline)"), "{svg:.300}");
    for (args, says) in [
        (&["--runs", "0"][..], "--runs must be 1..=100"),
        (&["--runs", "101"][..], "--runs must be 1..=100"),
        (&["--sizes", "0"][..], "each size must be 1..=32505852"),
        (&["--sizes", "32505853"][..], "each size must be 1..=32505852"),
        (&["--runs", "many"][..], "invalid value"),
    ] {
        let (code, _, stderr) = zgnode(&[&["bench", "da-network"][..], args].concat());
        assert_ne!(code, 0, "{args:?}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
    for (flag, value, says) in [("--erasure-mib", "100000", "at most 16384"), ("--llm-layers", "80", "at most 22"), ("--llm-tokens", "0", "1 to 2048"), ("--batch", "99999999999", "at most 10,000,000")] {
        let (code, _, stderr) = zgnode(&["bench", "gpu", flag, value]);
        assert_eq!(code, 1);
        assert!(stderr.contains(says), "{flag} {value}: {stderr}");
    }
    // Without a GPU: this machine's reed-solomon-simd figures, then why the GPU ones are missing.
    let (code, stdout, stderr) = zgnode(&["bench", "gpu", "--erasure-mib", "1", "--batch", "0", "--llm-layers", "0"]);
    if stderr.contains("no GPU") {
        assert_eq!(code, 1);
        assert!(stdout.contains("storage segments") && stdout.contains("all cores"), "{stdout}");
        assert!(stderr.contains("need a GPU host"), "{stderr}");
    }
}

#[test]
fn the_side_by_side_rpc_bench_runs_against_anvil_or_says_why_not() {
    let (code, _, stderr) = zgnode(&["bench", "rpc", "--against", "geth"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("--against takes"), "{stderr}");
    let (code, stdout, stderr) =
        zgnode(&["bench", "rpc", "--against", "anvil", "--txs", "300", "--senders", "10", "--batch", "20", "--connections", "2"]);
    assert_eq!(code, 0, "{stderr}");
    for mode in [" automine:", " 1 s blocks:"] {
        assert!(stdout.contains(mode), "{mode} {stdout}");
    }
    assert_eq!(stdout.matches("zgnode dev, in memory").count(), 2, "{stdout}");
    assert_eq!(stdout.matches("zgnode dev, on disk (redb, fsync)").count(), 2, "{stdout}");
    // anvil comes from npm (.ci/run installs it); without it the bench says so and still runs.
    // In each mode anvil gives a ratio or, when it stalls (its automine leaves ready
    // transactions pending under concurrent senders, foundry#10122; seen in CI), says so.
    let ratios = stdout.matches("ratio zgnode (on disk) / anvil").count();
    let stalled = stdout.matches("anvil 1.7.1 (in memory)              did not finish").count();
    assert!(ratios + stalled == 2 || stdout.contains("anvil: not run"), "{stdout}");
    let (code, _, stderr) = zgnode(&["bench", "history", "--blocks", "0"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("must be positive"), "{stderr}");
    let (code, stdout, stderr) = zgnode(&["bench", "history", "--blocks", "5", "--txs-per-block", "10", "--senders", "10"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("archive adds"), "{stdout}");
}

#[test]
fn init_validators_writes_a_network_and_refuses_bad_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("net");
    let out_arg = out.to_str().unwrap();
    let (code, stdout, stderr) = zgnode(&["init", "--validators", "3", "--out", out_arg, "--rpc-port", "28545", "--p2p-port", "38300"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("zgnode testnet --nodes 3"), "{stdout}");
    for i in 0..3 {
        let config = zgnode::NodeConfig::load(&out.join(format!("node{i}/config.toml"))).expect("config loads");
        assert_eq!(config.rpc.addr.port(), 28545 + i);
        assert_eq!(config.network.listen.port(), 38300 + i);
        assert_eq!(config.peers().len(), 2);
    }
    let (code, _, stderr) = zgnode(&["init", "--validators", "3", "--out", out_arg]);
    assert_eq!(code, 1);
    assert!(stderr.contains("--force"), "{stderr}");
    let (code, _, stderr) = zgnode(&["init", "--validators", "0", "--out", dir.path().join("zero").to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(stderr.contains("at least 1"), "{stderr}");
    let (code, _, stderr) = zgnode(&["init", "--validators", "3", "--out", dir.path().join("x").to_str().unwrap(), "--rpc-port", "65535"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("do not fit"), "{stderr}");
    let (code, _, stderr) = zgnode(&["init", "--validators", "2", "--out", dir.path().join("y").to_str().unwrap(), "--epoch-length", "0"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("epoch-length"), "{stderr}");
    // A validator's blocks follow consensus rounds: automine is refused at start, with why.
    let config = out.join("node0/config.toml");
    let (code, _, stderr) = zgnode(&["run", "--config", config.to_str().unwrap(), "--block-time-ms", "0"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("automine") && stderr.contains("validator network"), "{stderr}");
}

#[test]
fn bad_network_settings_in_a_config_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    for (text, expected) in [
        ("[network]\npeers = [\"nothex@127.0.0.1:1\"]\n", "network.peers"),
        ("[network]\npeers = [\"00@127.0.0.1:1\"]\n", "network.peers"),
        ("[network]\nlisten = \"nowhere\"\n", "invalid"),
        ("[consensus]\ntimeout_propose_ms = 100\n", "timeout_propose_ms"),
        ("[consensus]\ntimeout_prevote_ms = 0\n", "at least 1 ms"),
    ] {
        std::fs::write(&path, text).unwrap();
        let (code, _, stderr) = zgnode(&["run", "--config", path.to_str().unwrap()]);
        assert_eq!(code, 1, "{text}");
        assert!(stderr.contains(expected), "{text}: {stderr}");
    }
}

/// `zgnode testnet`: every node up; one killed with SIGKILL is reported while the others go on
/// making blocks; `restart <i>` on stdin brings it back and it catches up; SIGTERM stops all.
#[test]
fn testnet_keeps_the_others_running_when_one_dies_restarts_it_and_stops_them_on_sigterm() {
    use std::io::Write;
    const NODES: u16 = 4;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tn");
    // The command places node i at base + i: find bases whose next ports are free too.
    let free_from = |base: u16| {
        (0..NODES).all(|i| {
            base.checked_add(i).is_some_and(|port| {
                std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() && std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok()
            })
        })
    };
    let pick = || loop {
        let base = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        if free_from(base) {
            return base;
        }
    };
    let (rpc, p2p, storage) = (pick(), pick(), pick());
    let mut child = Command::new(env!("CARGO_BIN_EXE_zgnode"))
        .args(["testnet", "--nodes", &NODES.to_string(), "--out", out.to_str().unwrap()])
        .args(["--rpc-port", &rpc.to_string(), "--p2p-port", &p2p.to_string(), "--storage-port", &storage.to_string()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout)).map(|l| l.unwrap());
    let mut nodes: Vec<(std::net::SocketAddr, i32)> = Vec::new();
    for line in lines.by_ref() {
        if let Some(rest) = line.trim().strip_prefix("node").and_then(|l| l.split_once("JSON-RPC ")) {
            let addr = rest.1.split_whitespace().next().unwrap().trim_start_matches("http://").parse().unwrap();
            let pid = rest.1.rsplit_once("pid ").unwrap().1.trim().parse().unwrap();
            nodes.push((addr, pid));
        }
        if line.starts_with("ready") {
            break;
        }
    }
    assert_eq!(nodes.len(), NODES as usize, "{nodes:?}");
    for (addr, _) in &nodes {
        common::wait_for_block(*addr, 2, std::time::Duration::from_secs(60));
    }
    // Every node is a storage node too, on its own port.
    for i in 0..NODES {
        let addr: std::net::SocketAddr = format!("127.0.0.1:{}", storage + i).parse().unwrap();
        let status = common::ok(addr, "zgs_getStatus", serde_json::json!([]));
        assert_eq!(status["networkIdentity"]["chainId"], 31337);
    }
    // SAFETY: kill(2) on a node process the testnet spawned for this test.
    #[allow(unsafe_code)]
    unsafe {
        libc::kill(nodes[1].1, libc::SIGKILL);
    }
    let exited = lines.by_ref().find(|line| line.starts_with("node1 exited")).expect("the exit is reported");
    assert!(exited.contains("3 of 4 nodes carry on"), "{exited}");
    let head = common::quantity(&common::ok(nodes[0].0, "eth_blockNumber", serde_json::json!([])));
    common::wait_for_block(nodes[0].0, head + 3, std::time::Duration::from_secs(60));
    writeln!(stdin, "restart 1").unwrap();
    let restarted = lines.by_ref().find(|line| line.starts_with("node1 ")).unwrap();
    assert!(restarted.starts_with("node1 restarted"), "{restarted}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::net::TcpStream::connect(nodes[1].0).is_err() {
        assert!(std::time::Instant::now() < deadline, "the restarted node1 does not answer");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    common::wait_for_block(nodes[1].0, head + 3, std::time::Duration::from_secs(60));
    // SAFETY: kill(2) on the child we spawned.
    #[allow(unsafe_code)]
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    for (addr, _) in &nodes {
        assert!(std::net::TcpStream::connect(addr).is_err(), "node at {addr} still serving");
    }
}

#[test]
fn da_commands_refuse_malformed_roots_and_sample_counts() {
    let (code, _, stderr) = zgnode(&["da", "sample", "0x1234", "--rpc", "http://127.0.0.1:9"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("expected a 32-byte data root or a 40-byte request id"), "{stderr}");
    let root = format!("0x{}", "ab".repeat(32));
    let (code, _, stderr) = zgnode(&["da", "sample", &root, "--samples", "0", "--rpc", "http://127.0.0.1:9"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("--samples must be 1..=64"), "{stderr}");
    let (code, _, stderr) = zgnode(&["da", "status", "not-hex", "--rpc", "http://127.0.0.1:9"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("is not hex"), "{stderr}");
    let (code, _, stderr) = zgnode(&["da", "submit", "/nonexistent/blob", "--rpc", "http://127.0.0.1:9"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("cannot read /nonexistent/blob"), "{stderr}");
}

#[test]
fn alignment_commands_refuse_bad_input_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = zgnode(&["alignment", "--config", dir.path().join("missing.toml").to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(stderr.contains("missing.toml"), "{stderr}");
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "rpc_url = \"http://127.0.0.1:1\"\noperator_key = \"0x12\"\nlicences = [6]\n").unwrap();
    let (code, _, stderr) = zgnode(&["alignment", "--config", bad.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(stderr.contains("operator_key: not a private key"), "{stderr}");
    for loads in ["1", "1:x", "1:501", ":"] {
        let (code, _, stderr) = zgnode(&["bench", "alignment", "--loads", loads]);
        assert_ne!(code, 0, "{loads}");
        assert!(stderr.contains("--loads"), "{loads}: {stderr}");
    }
    let (code, _, stderr) = zgnode(&["bench", "alignment", "--epochs", "0"]);
    assert!(code != 0 && stderr.contains("--epochs"), "{stderr}");
}

#[test]
fn a_bench_draws_its_chart_where_asked_and_a_bad_plot_path_is_refused_before_it_runs() {
    let dir = tempfile::tempdir().unwrap();
    let chart = dir.path().join("execution.svg");
    let (code, stdout, stderr) = zgnode(&["bench", "execution", "--txs", "40", "--senders", "4", "--rounds", "1", "--plot", chart.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("chart: "), "{stdout}");
    let svg = std::fs::read_to_string(&chart).expect("the chart");
    assert!(svg.contains("<svg") && svg.contains("bare revm (baseline)") && svg.contains("transactions/s"), "{svg:.400}");
    for (path, words) in [("/no/such/folder/x.svg", "no folder"), ("chart.png", "must end in .svg")] {
        let (code, stdout, stderr) = zgnode(&["bench", "execution", "--txs", "40", "--plot", path]);
        assert_eq!(code, 2, "{stdout}{stderr}");
        assert!(stderr.contains(words) && !stdout.contains("execution"), "{stderr}");
    }
    // Proving time is drawn only beside EZKL's: without it the bench refuses before proving.
    let proofs_chart = dir.path().join("proofs.svg");
    let (code, _, stderr) = zgnode(&["bench", "proofs", "--no-ezkl", "--plot", proofs_chart.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--no-ezkl") && stderr.contains("--plot"), "{stderr}");
    let (code, stdout, stderr) = zgnode(&["bench", "proofs", "--ezkl", "/no/such/python", "--plot", proofs_chart.to_str().unwrap()]);
    assert_ne!(code, 0, "{stdout}");
    assert!(stderr.contains("/no/such/python") && !stdout.contains("keygen"), "{stderr}");
    assert!(!proofs_chart.exists());
}
