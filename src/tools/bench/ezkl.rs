//! EZKL beside `zgnode bench proofs`, in the same run: the harness
//! (`assets/models/digits/ezkl_bench.py`, embedded) proves the same reference models with EZKL
//! from PyPI, at the smallest scale whose circuit reproduces the int8 model's class on every
//! held-out digit, over the same held-out digits zgnode proves. Files go to a RAM disk when there
//! is one (`/dev/shm`), since EZKL's Python API reads its keys from files on every call.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;

const HARNESS: &str = include_str!("../../../assets/models/digits/ezkl_bench.py");

/// What EZKL reported for one model.
#[derive(Clone, Debug, Deserialize)]
pub struct EzklFigures {
    pub model: String,
    pub ezkl: String,
    pub logrows: u32,
    pub input_scale: i64,
    pub param_scale: i64,
    pub lookup_range: Option<serde_json::Value>,
    pub num_inner_cols: Option<u64>,
    /// Each scale tried: its rows and how many held-out classes matched the int8 model's.
    pub searched: Vec<serde_json::Value>,
    pub setup_s: f64,
    pub proved: usize,
    pub prove_p50_s: f64,
    pub prove_max_s: f64,
    pub verify_p50_s: f64,
    pub proof_bytes: usize,
    pub pk_bytes: u64,
}

/// Why EZKL did not run.
#[derive(Debug, thiserror::Error)]
pub enum EzklError {
    #[error("EZKL not present: {python} cannot import ezkl (pip install ezkl onnx numpy, then --ezkl PATH/TO/python)")]
    NotPresent { python: String },
    #[error("the EZKL harness failed for {model}: {reason}")]
    Failed { model: String, reason: String },
    #[error("cannot run {python}: {source}")]
    Spawn { python: String, source: std::io::Error },
}

/// Whether `python` can import ezkl (and what the harness needs beside it).
pub fn check(python: &Path) -> Result<(), EzklError> {
    let importable = Command::new(python).args(["-c", "import ezkl, onnx, numpy"]).output().is_ok_and(|out| out.status.success());
    if importable { Ok(()) } else { Err(EzklError::NotPresent { python: python.display().to_string() }) }
}

/// Runs the harness for `model_file` (a digits model JSON), proving its first `inputs` held-out
/// digits, with a `python` that passed [`check`].
pub fn run(python: &Path, model_file: &str, inputs: usize) -> Result<EzklFigures, EzklError> {
    let python_name = python.display().to_string();
    let model_name = serde_json::from_str::<serde_json::Value>(model_file).ok().and_then(|v| v["name"].as_str().map(str::to_string)).unwrap_or_default();
    let failed = |reason: String| EzklError::Failed { model: model_name.clone(), reason };
    let shm = PathBuf::from("/dev/shm");
    let work = if shm.is_dir() { tempfile::tempdir_in(&shm) } else { tempfile::tempdir() }.map_err(|e| failed(format!("no work folder: {e}")))?;
    let harness = work.path().join("ezkl_bench.py");
    let model = work.path().join("model.json");
    std::fs::write(&harness, HARNESS).and_then(|()| std::fs::write(&model, model_file)).map_err(|e| failed(format!("cannot write the harness: {e}")))?;
    let out = Command::new(python)
        .arg(&harness)
        .arg(&model)
        .arg(inputs.to_string())
        .arg(work.path())
        .output()
        .map_err(|source| EzklError::Spawn { python: python_name.clone(), source })?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(failed(format!("exit {}: {}", out.status, stderr.lines().rev().take(5).collect::<Vec<_>>().join(" | "))));
    }
    parse(&stdout).map_err(failed)
}

/// The harness's report: the last line of its output that is a JSON object.
fn parse(stdout: &str) -> Result<EzklFigures, String> {
    let line = stdout.lines().rev().find(|l| l.trim_start().starts_with('{')).ok_or("no report in its output")?;
    let value: serde_json::Value = serde_json::from_str(line).map_err(|e| format!("unreadable report: {e}"))?;
    if let Some(error) = value["error"].as_str() {
        return Err(format!("{error}; searched {}", value["searched"]));
    }
    serde_json::from_value(value).map_err(|e| format!("unexpected report: {e}"))
}

/// The side-by-side lines `zgnode bench proofs` prints.
pub fn print(ours: &super::proofs::ProofFigures, theirs: &EzklFigures) {
    println!(
        "  EZKL {} on {} (KZG over BN254, input hashed, logits public, params fixed; scale {} in / {} params, lookup range {}, {} inner cols, 2^{} rows: the smallest scale, then the fewest rows, giving the int8 class on every held-out digit; searched {}): setup {:.2} s, prove p50 {:.2} s (max {:.2}) over {} digits, verify {:.1} ms, proof {} bytes; its proving key ({:.1} MB) is read from a RAM disk on every proof, as its API does",
        theirs.ezkl,
        theirs.model,
        theirs.input_scale,
        theirs.param_scale,
        theirs.lookup_range.as_ref().map_or("?".into(), |v| v.to_string()),
        theirs.num_inner_cols.unwrap_or(0),
        theirs.logrows,
        serde_json::Value::Array(theirs.searched.clone()),
        theirs.setup_s,
        theirs.prove_p50_s,
        theirs.prove_max_s,
        theirs.proved,
        theirs.verify_p50_s * 1e3,
        theirs.proof_bytes,
        theirs.pk_bytes as f64 / 1e6,
    );
    println!(
        "  {} zgnode / EZKL: rows 2^{} / 2^{}; prove {:.2} s / {:.2} s = {:.2}x; verify {:.1} ms / {:.1} ms = {:.2}x; proof {} / {} bytes",
        ours.model,
        ours.k,
        theirs.logrows,
        ours.prove.as_secs_f64(),
        theirs.prove_p50_s,
        ours.prove.as_secs_f64() / theirs.prove_p50_s,
        ours.verify.as_secs_f64() * 1e3,
        theirs.verify_p50_s * 1e3,
        ours.verify.as_secs_f64() / theirs.verify_p50_s,
        ours.proof_bytes,
        theirs.proof_bytes
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_is_read_and_a_bad_one_says_why() {
        let good = r#"noise
low scale values (<8) may impact precision
{"model": "m", "ezkl": "23.0.5", "logrows": 15, "input_scale": 5, "param_scale": 5, "lookup_range": [0, 0], "num_inner_cols": 2, "searched": [{"scale": 0, "logrows": 15, "agree": 315}], "setup_s": 16.3, "proved": 3, "prove_p50_s": 7.6, "prove_max_s": 9.8, "verify_p50_s": 0.032, "proof_bytes": 4384, "pk_bytes": 360799019, "cores": 2}"#;
        let figures = parse(good).unwrap();
        assert_eq!((figures.logrows, figures.proved, figures.proof_bytes), (15, 3, 4384));
        assert!(parse("").unwrap_err().contains("no report"));
        assert!(parse("{not json").unwrap_err().contains("unreadable"));
        assert!(parse(r#"{"model": "m"}"#).unwrap_err().contains("unexpected report"));
        assert!(parse(r#"{"model": "m", "error": "no scale reproduced the int8 classes", "searched": []}"#).unwrap_err().contains("no scale"));
    }

    #[test]
    fn a_python_without_ezkl_is_reported_not_run() {
        let error = check(Path::new("/nonexistent/python")).unwrap_err();
        assert!(matches!(error, EzklError::NotPresent { .. }), "{error}");
        assert!(error.to_string().contains("pip install ezkl"));
    }
}
