//! `zgnode init` and `zgnode testnet`: a node's directory, or a local validator network written
//! and run as processes.

use super::*;

pub(super) fn init(args: &InitArgs) -> anyhow::Result<()> {
    let config_path = args.dir.join("config.toml");
    let genesis_path = args.dir.join("genesis.json");
    let key_path = args.dir.join("node.key");
    if !args.force {
        for path in [&config_path, &genesis_path, &key_path] {
            if path.exists() {
                bail!("{} exists; pass --force to overwrite", path.display());
            }
        }
    }
    std::fs::create_dir_all(&args.dir).with_context(|| format!("cannot create {}", args.dir.display()))?;
    let genesis = if args.dev_accounts { dev_genesis(args.chain_id) } else { Genesis::zero_gravity(args.chain_id) };
    genesis.validate()?;
    let signer = alloy_signer_local::PrivateKeySigner::random();
    let coinbase = signer.address();
    let config = CONFIG_TEMPLATE.replace(
        "coinbase = \"0x00000000000000000000000000000000000000c0\"",
        &format!("coinbase = \"{coinbase}\""),
    );
    write_file(&config_path, config.as_bytes(), false)?;
    write_file(&genesis_path, genesis.to_json().as_bytes(), false)?;
    write_file(&key_path, format!("{}\n", alloy_primitives::hex::encode_prefixed(signer.to_bytes())).as_bytes(), true)?;
    println!("wrote {}", config_path.display());
    println!("wrote {} (chain id {})", genesis_path.display(), genesis.chain_id);
    println!("wrote {} (node address {coinbase}, the block producer's coinbase)", key_path.display());
    println!("start it with: zgnode run --config {}", config_path.display());
    Ok(())
}

fn network_plan(validators: usize, chain_id: u64, network: &NetworkArgs) -> anyhow::Result<crate::tools::testnet::NetworkPlan> {
    if network.epoch_length == 0 {
        bail!("--epoch-length must be at least 1");
    }
    Ok(crate::tools::testnet::NetworkPlan {
        block_time_ms: network.network_block_time_ms,
        epoch_length: network.epoch_length,
        storage_port: (!network.no_storage).then_some(network.storage_port),
        ..crate::tools::testnet::NetworkPlan::consecutive(validators, chain_id, network.rpc_port, network.p2p_port)?
    })
}

pub(super) fn init_network(args: &InitArgs, validators: usize) -> anyhow::Result<()> {
    let plan = network_plan(validators, args.chain_id, &args.network)?;
    let layout = crate::tools::testnet::write_network(&args.out, &plan, args.force)?;
    println!("wrote a {validators}-validator network (chain id {}) to {}", args.chain_id, args.out.display());
    for (i, node) in layout.iter().enumerate() {
        println!("  node{i}: {}  rpc {}  p2p {}  operator {}", node.config.display(), node.rpc_url, node.peer.addr, node.operator);
    }
    println!("start it with: zgnode testnet --nodes {validators} --out {}", args.out.display());
    Ok(())
}

pub(super) async fn testnet(args: TestnetArgs) -> anyhow::Result<()> {
    if args.nodes == 0 {
        bail!("--nodes must be at least 1");
    }
    let layout = if args.out.join("genesis.json").exists() {
        crate::tools::testnet::read_network(&args.out, args.nodes)
            .with_context(|| format!("{} holds a network with fewer than {} nodes?", args.out.display(), args.nodes))?
    } else {
        crate::tools::testnet::write_network(&args.out, &network_plan(args.nodes, args.chain_id, &args.network)?, false)?
    };
    let exe = std::env::current_exe().context("cannot find the zgnode executable")?;
    let mut children = Vec::new();
    for (i, node) in layout.iter().enumerate() {
        children.push(spawn_node(&exe, node, false).with_context(|| format!("cannot start node{i}"))?);
    }
    // Ready means every node answers JSON-RPC (opening a database and genesis takes a moment).
    for (i, node) in layout.iter().enumerate() {
        let addr: SocketAddr = node.rpc_url.trim_start_matches("http://").parse().context("node RPC address")?;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while tokio::net::TcpStream::connect(addr).await.is_err() {
            if let Ok(Some(status)) = children[i].try_wait() {
                stop_children(&mut children).await;
                bail!("node{i} exited during start ({status}); see {}", node.dir.join("node.log").display());
            }
            if std::time::Instant::now() > deadline {
                stop_children(&mut children).await;
                bail!("node{i} did not open {addr} within 60 s; see {}", node.dir.join("node.log").display());
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
    println!("zgnode testnet: {} validators, chain id {} ({})", layout.len(), args.chain_id, args.out.display());
    for (i, node) in layout.iter().enumerate() {
        let pid = children[i].id().unwrap_or_default();
        println!("  node{i}: JSON-RPC {}  p2p {}  log {}  pid {pid}", node.rpc_url, node.peer.addr, node.dir.join("node.log").display());
    }
    println!("ready (Ctrl-C stops every node; a node that exits leaves the others running, and `restart <i>` on stdin starts it again)");
    let outcome = supervise(&exe, &layout, &mut children).await;
    stop_children(&mut children).await;
    outcome
}

/// `zgnode run --config` for `node`, its output to `node.log` (appended on a restart).
fn spawn_node(exe: &std::path::Path, node: &crate::tools::testnet::NodeLayout, append: bool) -> anyhow::Result<tokio::process::Child> {
    let log_path = node.dir.join("node.log");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(append)
        .truncate(!append)
        .open(&log_path)
        .with_context(|| format!("cannot open {}", log_path.display()))?;
    Ok(tokio::process::Command::new(exe)
        .arg("run")
        .arg("--config")
        .arg(&node.config)
        .stdout(log.try_clone()?)
        .stderr(log)
        .kill_on_drop(true)
        .spawn()?)
}

/// Runs until a shutdown signal (or every node gone): a node that exits is reported and the
/// others keep running; `restart <i>` on stdin starts node i again on its data directory.
async fn supervise(exe: &std::path::Path, layout: &[crate::tools::testnet::NodeLayout], children: &mut [tokio::process::Child]) -> anyhow::Result<()> {
    // stdin is read on a thread of its own (the runtime has no async stdin here).
    let (lines_tx, mut lines) = tokio::sync::mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut running = vec![true; children.len()];
    loop {
        tokio::select! {
            _ = super::serve::shutdown_signal() => return Ok(()),
            (index, status) = next_exit(children, &running) => {
                running[index] = false;
                let left = running.iter().filter(|r| **r).count();
                println!(
                    "node{index} exited ({status}); see {}; {left} of {} nodes carry on (`restart {index}` starts it again)",
                    layout[index].dir.join("node.log").display(),
                    children.len()
                );
                if left == 0 {
                    bail!("every node exited");
                }
            }
            Some(line) = lines.recv() => {
                let words: Vec<&str> = line.split_whitespace().collect();
                match words.as_slice() {
                    ["restart", index] => match index.parse::<usize>().ok().filter(|i| *i < children.len()) {
                        Some(i) if running[i] => println!("node{i} is running"),
                        Some(i) => match spawn_node(exe, &layout[i], true) {
                            Ok(child) => {
                                children[i] = child;
                                running[i] = true;
                                println!("node{i} restarted (pid {})", children[i].id().unwrap_or_default());
                            }
                            Err(error) => println!("node{i} could not be restarted: {error:#}"),
                        },
                        None => println!("no node {index}: nodes are 0..{}", children.len()),
                    },
                    [] => {}
                    _ => println!("commands: restart <i>"),
                }
            }
        }
    }
}

/// Waits until one of the running children exits; returns its index and status.
async fn next_exit(children: &mut [tokio::process::Child], running: &[bool]) -> (usize, String) {
    loop {
        for (i, child) in children.iter_mut().enumerate().filter(|(i, _)| running[*i]) {
            if let Ok(Some(status)) = child.try_wait() {
                return (i, status.to_string());
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// SIGTERM to each node (a clean stop), then SIGKILL to any still running after 10 s.
async fn stop_children(children: &mut [tokio::process::Child]) {
    for child in children.iter() {
        if let Some(pid) = child.id() {
            #[cfg(unix)]
            // SAFETY: kill(2) on a pid we spawned and still own; no memory is involved.
            #[allow(unsafe_code)] // the one unsafe call in the workspace: sending SIGTERM
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGTERM);
            }
        }
    }
    for child in children.iter_mut() {
        if tokio::time::timeout(std::time::Duration::from_secs(10), child.wait()).await.is_err() {
            let _ = child.kill().await;
        }
    }
}
