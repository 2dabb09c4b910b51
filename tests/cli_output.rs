//! What `gengpu` writes where: standard output holds only what was asked (a table, or exactly
//! one JSON document), a closed pipe ends the program quietly, and an error states each cause
//! once.

mod common;

use std::process::{Command, Stdio};

use common::cli::{gengpu, train_vae};

/// Standard output of a command that must succeed, parsed as one JSON document.
#[track_caller]
fn json_of(args: &[&str]) -> serde_json::Value {
    let output = gengpu(args);
    assert!(
        output.status.success(),
        "gengpu {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "gengpu {args:?}: standard output is not one JSON document ({e}):\n{}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

fn scratch(name: &str) -> std::path::PathBuf {
    common::cli::scratch("out", name)
}

#[test]
fn eval_json_is_one_document() {
    let dir = scratch("eval");
    let out = dir.join("run");
    train_vae(
        &out,
        "--backend cpu --epochs 1 --limit 200 --batch-size 50 --hidden 16 --latent 2",
    );
    // metrics.csv: the same records as metrics.jsonl, a header and one row per epoch.
    let csv = std::fs::read_to_string(out.join("metrics.csv")).expect("metrics.csv");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 2, "{csv}");
    let header: Vec<&str> = lines[0].split(',').collect();
    let jsonl = std::fs::read_to_string(out.join("metrics.jsonl")).expect("metrics.jsonl");
    let record: serde_json::Value = serde_json::from_str(jsonl.trim()).expect("JSON");
    let position = header
        .iter()
        .position(|&c| c == "test_loss")
        .expect("test_loss column");
    let value: f64 = lines[1]
        .split(',')
        .nth(position)
        .expect("value")
        .parse()
        .expect("number");
    assert_eq!(Some(value), record["test_loss"].as_f64());
    let checkpoint = out.join("checkpoint.safetensors");
    let report = json_of(&[
        "eval",
        "--checkpoint",
        checkpoint.to_str().expect("utf-8"),
        "--json",
        "--backend",
        "cpu",
    ]);
    assert!(
        report["test_loss"].as_f64().is_some_and(f64::is_finite),
        "{report}"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn info_json_is_one_document() {
    let report = json_of(&["info", "--json"]);
    assert!(report["adapters"].is_array(), "{report}");
    assert!(
        report["backend_auto"]
            .as_str()
            .is_some_and(|s| s.contains("--backend auto"))
    );
}

/// `gengpu info | true`: the reader closes the pipe before gengpu writes (`| head -1` closes it
/// after one line, the same failure as soon as gengpu writes past the pipe's buffer).
#[test]
fn a_closed_pipe_ends_quietly_with_success() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gengpu"))
        .arg("info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run gengpu info");
    // Closed at once: listing the adapters takes far longer than this.
    drop(child.stdout.take());
    let output = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{:?}: {stderr}", output.status);
    assert!(
        !stderr.contains("panicked") && !stderr.contains("error"),
        "{stderr}"
    );
}

#[test]
fn an_error_states_its_cause_once() {
    let missing = std::env::temp_dir().join("gengpu-no-such-checkpoint.safetensors");
    let output = gengpu(&[
        "eval",
        "--checkpoint",
        missing.to_str().expect("utf-8"),
        "--backend",
        "cpu",
    ]);
    assert!(!output.status.success());
    assert!(output.stdout.is_empty(), "nothing on standard output");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let error = stderr
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_else(|| panic!("no error line in {stderr}"));
    assert!(error.contains("gengpu-no-such-checkpoint"), "{error}");
    // The OS's own words ("No such file or directory", "cannot find the file") appear once.
    let cause = error.rsplit(": ").next().expect("a cause");
    assert_eq!(error.matches(cause).count(), 1, "{error}");

    let output = gengpu(&["train", "vae", "--data", "/nonexistent/digits"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.matches("no such folder").count(), 1, "{stderr}");
}

/// Without `--out`, every run gets its own `runs/<model>/version_N` (with its settings and
/// command line in `config.json`), and `runs/latest` points to the newest.
#[test]
fn runs_without_out_are_versioned() {
    let dir = scratch("versions");
    let train = || {
        let output = Command::new(env!("CARGO_BIN_EXE_gengpu"))
            .args([
                "train",
                "vae",
                "--epochs",
                "1",
                "--limit",
                "100",
                "--batch-size",
                "50",
                "--hidden",
                "8",
                "--backend",
                "cpu",
            ])
            .current_dir(&dir)
            .output()
            .expect("run gengpu");
        assert!(output.status.success(), "{output:?}");
    };
    train();
    train();
    let runs = dir.join("runs").join("vae");
    for n in [0, 1] {
        let version = runs.join(format!("version_{n}"));
        assert!(
            version.join("checkpoint.safetensors").is_file(),
            "{version:?}"
        );
        let config: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(version.join("config.json")).expect("config.json"),
        )
        .expect("JSON");
        assert_eq!(config["model"], "vae");
        assert!(
            config["run"]["command"]
                .as_str()
                .is_some_and(|c| c.contains("--hidden 8"))
        );
    }
    #[cfg(unix)]
    assert_eq!(
        std::fs::canonicalize(dir.join("runs/latest")).expect("runs/latest"),
        std::fs::canonicalize(runs.join("version_1")).expect("version_1")
    );
    std::fs::remove_dir_all(dir).ok();
}

/// `eval` without data arguments scores the test data the checkpoint's run was evaluated on.
#[test]
fn eval_uses_the_runs_own_test_data() {
    let Some(t10k) = common::shared_t10k("eval_uses_the_runs_own_test_data") else {
        return;
    };
    let dir = scratch("eval-data");
    let out = dir.join("run");
    let settings = format!(
        "--backend cpu --epochs 1 --limit 100 --batch-size 50 --hidden 8 --test-data {}",
        t10k.to_str().expect("utf-8")
    );
    train_vae(&out, &settings);
    let report = json_of(&[
        "eval",
        "--checkpoint",
        out.join("checkpoint.safetensors").to_str().expect("utf-8"),
        "--json",
        "--backend",
        "cpu",
    ]);
    assert_eq!(report["examples"], 10_000, "{report}");
    assert!(
        report["data"].as_str().is_some_and(|d| d.contains("t10k")),
        "{report}"
    );
    std::fs::remove_dir_all(dir).ok();
}

/// Every `--log-every` steps the running training figures join the epochs' records, in both
/// metrics.jsonl and metrics.csv (Lightning's habit: step rows and epoch rows in one table).
#[test]
fn running_losses_are_logged_every_log_every_steps() {
    let dir = scratch("steps");
    let out = dir.join("run");
    train_vae(
        &out,
        "--backend cpu --epochs 2 --limit 1000 --batch-size 100 --hidden 8 --log-every 5",
    );
    let jsonl = std::fs::read_to_string(out.join("metrics.jsonl")).expect("metrics.jsonl");
    let records: Vec<serde_json::Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    let steps: Vec<u64> = records.iter().filter_map(|r| r["step"].as_u64()).collect();
    assert_eq!(steps, [5, 10, 15, 20]);
    assert!(
        records
            .iter()
            .filter(|r| r.get("step").is_some())
            .all(|r| r["train_loss"].as_f64().is_some_and(f64::is_finite))
    );
    assert_eq!(records.len(), 6, "4 step records and 2 epoch records");
    let csv = std::fs::read_to_string(out.join("metrics.csv")).expect("metrics.csv");
    assert_eq!(csv.lines().count(), 7, "a header and 6 rows");
    assert!(
        csv.lines()
            .next()
            .is_some_and(|h| h.split(',').any(|c| c == "step"))
    );
    std::fs::remove_dir_all(dir).ok();
}
