//! The Grafana dashboard (`assets/grafana/zgnode.json`) against a running `zgnode dev`'s
//! `/metrics`: every metric a panel queries exists there, every metric the node records
//! (`zgnode::metrics::CATALOG`) is on some panel, one row per role, and the JSON is a dashboard
//! Grafana imports (a Prometheus datasource input, panels on its 24-column grid, unique ids); and
//! every panel's query run by a real Prometheus (Debian's `prometheus`, installed by `.ci/run`)
//! scraping a `zgnode dev`: valid PromQL, and a series for each.

mod common;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::time::Duration;

use common::*;
use serde_json::Value;

/// Metric names in a PromQL expression: zgnode's prefixes, up to the first non-name character.
fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    for prefix in ["zgnode_", "compute_"] {
        for (at, _) in expr.match_indices(prefix) {
            if at > 0 && expr[..at].chars().last().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
                continue;
            }
            let name: String = expr[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            names.push(name);
        }
    }
    names
}

fn dashboard() -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/grafana/zgnode.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("the dashboard")).expect("JSON")
}

fn queried(dashboard: &Value) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().into_iter().flatten() {
            names.extend(metric_names(target["expr"].as_str().expect("an expression")));
        }
    }
    names
}

#[test]
fn the_dashboard_is_one_row_a_role_on_a_grid_grafana_imports() {
    let dashboard = dashboard();
    assert_eq!(dashboard["__inputs"][0]["pluginId"], "prometheus");
    let panels = dashboard["panels"].as_array().expect("panels");
    let rows: Vec<&str> = panels.iter().filter(|p| p["type"] == "row").map(|p| p["title"].as_str().expect("a title")).collect();
    assert_eq!(rows, ["Node", "Chain", "Validator network", "Storage", "Data availability", "Compute", "GPU"]);
    let mut ids = BTreeSet::new();
    for panel in panels {
        assert!(ids.insert(panel["id"].as_u64().expect("an id")), "ids are unique: {}", panel["id"]);
        let grid = &panel["gridPos"];
        assert!(grid["x"].as_u64().unwrap() + grid["w"].as_u64().unwrap() <= 24, "{}", panel["title"]);
        if panel["type"] != "row" {
            assert_eq!(panel["datasource"]["uid"], "${DS_PROMETHEUS}", "{}", panel["title"]);
            let targets = panel["targets"].as_array().expect("targets");
            assert!(!targets.is_empty() && targets.iter().all(|t| t["expr"].as_str().is_some_and(|e| e.contains("$instance"))), "{}", panel["title"]);
        }
    }
    let catalog: BTreeSet<String> = zgnode::metrics::CATALOG.iter().map(|(name, _, _)| name.to_string()).collect();
    let queried = queried(&dashboard);
    let missing: Vec<_> = catalog.difference(&queried).collect();
    assert!(missing.is_empty(), "metrics the node records that no panel shows: {missing:?}");
}

/// A `zgnode dev` in `dir` serving `/metrics` on the returned port, at block `blocks` or past it.
fn dev_node_with_metrics(dir: &std::path::Path, blocks: u64) -> (NodeProcess, u16) {
    let port = free_port();
    let mut args = dev_args(dir);
    args.extend(["--metrics-addr".to_string(), format!("127.0.0.1:{port}")]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let node = NodeProcess::spawn(&args);
    wait_for_block(node.addr, blocks, Duration::from_secs(30));
    (node, port)
}

#[test]
fn every_metric_the_dashboard_queries_is_in_a_dev_nodes_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let (node, port) = dev_node_with_metrics(dir.path(), 3);
    let (status, text) = get(port, "/metrics");
    assert_eq!(status, 200, "{text:.400}");
    let exported: BTreeSet<String> = text
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty() && line.contains(' '))
        .filter_map(|line| line.split(['{', ' ']).next().map(str::to_string))
        .collect();
    assert!(exported.contains("zgnode_chain_height"), "the chain's metrics: {text:.2000}");
    for name in queried(&dashboard()) {
        assert!(exported.contains(&name), "the dashboard queries {name}, which /metrics does not have");
    }
    for (name, _, _) in zgnode::metrics::CATALOG {
        assert!(exported.contains(*name), "{name} is not exported from the start");
    }
    node.kill();
}

/// A GET over HTTP/1.0 (so Go's server answers without chunking): status and body.
fn get(port: u16, path: &str) -> (u16, String) {
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else { return (0, String::new()) };
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let mut text = String::new();
    let _ = stream.read_to_string(&mut text);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0), body.to_string())
}

fn url_encoded(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn every_panel_query_runs_on_a_real_prometheus_scraping_a_dev_node() {
    let Some(binary) = which_prometheus() else {
        assert!(std::env::var("ZG_REQUIRE_PROMETHEUS").is_err(), "ZG_REQUIRE_PROMETHEUS is set but there is no prometheus binary");
        eprintln!("skipped: no prometheus binary (apt-get install prometheus)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (node, metrics_port) = dev_node_with_metrics(&dir.path().join("node"), 2);
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: zgnode\n    static_configs:\n      - targets: ['127.0.0.1:{metrics_port}']\n"),
    )
    .unwrap();
    let port = free_port();
    let mut prometheus = std::process::Command::new(binary)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", dir.path().join("tsdb").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--log.level=warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("prometheus starts");
    let query = |expr: &str| -> Value {
        let (status, body) = get(port, &format!("/api/v1/query?query={}", url_encoded(expr)));
        serde_json::from_str(&body).unwrap_or_else(|_| panic!("{expr}: HTTP {status}: {body:.400}"))
    };
    // At least three scrapes in: rate() and increase() need two samples in their window.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let scraped = get(port, "/-/ready").0 == 200 && {
            let answer = query("count_over_time(up[1m])");
            answer["data"]["result"][0]["value"][1].as_str().and_then(|v| v.parse::<f64>().ok()).is_some_and(|n| n >= 3.0)
        };
        if scraped {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "prometheus did not scrape the node three times in 60 s");
        std::thread::sleep(Duration::from_millis(250));
    }
    assert_eq!(query("up")["data"]["result"][0]["value"][1], "1", "the node's /metrics is up for prometheus");
    let mut ran = 0;
    for panel in dashboard()["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().into_iter().flatten() {
            // Grafana's $instance variable, as "All" expands it.
            let expr = target["expr"].as_str().expect("an expression").replace("$instance", ".+");
            let answer = query(&expr);
            assert_eq!(answer["status"], "success", "{}: {expr}: {answer}", panel["title"]);
            let series = answer["data"]["result"].as_array().map_or(0, Vec::len);
            assert!(series > 0, "{}: {expr} has no series: {answer}", panel["title"]);
            ran += 1;
        }
    }
    assert!(ran >= 40, "every target ran: {ran}");
    let _ = prometheus.kill();
    let _ = prometheus.wait();
    node.kill();
}

fn which_prometheus() -> Option<std::path::PathBuf> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join("prometheus"))
        .find(|path| path.is_file())
}

#[test]
fn metric_names_are_read_whole_from_expressions() {
    assert_eq!(metric_names(r#"sum by (kind) (rate(zgnode_net_sent_total{instance=~"$instance"}[1m]))"#), ["zgnode_net_sent_total"]);
    assert_eq!(metric_names("compute_tokens_total + my_zgnode_x"), ["compute_tokens_total"]);
}
