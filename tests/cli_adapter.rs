//! Choosing the adapter from the command line: `--adapter INDEX|NAME`, wgpu's `WGPU_BACKEND`
//! and `WGPU_ADAPTER_NAME`, and `GENGPU_LIMITS`; mistakes refused with an `error:` line.

mod common;

use std::process::Command;

/// Runs `gengpu args` with the environment variables `env` set; returns whether it succeeded
/// and everything it printed.
fn run(args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_gengpu"))
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("run gengpu");
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), printed)
}

/// Fails unless `gengpu args` exits non-zero with an `error:` line that contains every one of
/// `needles`, and without a panic.
#[track_caller]
fn refused(args: &[&str], env: &[(&str, &str)], needles: &[&str]) {
    let (ok, printed) = run(args, env);
    assert!(!ok, "gengpu {args:?} should fail:\n{printed}");
    assert!(!printed.contains("panicked"), "{printed}");
    let error = printed
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_else(|| panic!("no error line:\n{printed}"));
    for needle in needles {
        assert!(error.contains(needle), "{needle:?} not in {error:?}");
    }
}

/// A tiny VAE run (one epoch of 128 examples) with `extra` arguments; returns what it printed.
fn tiny_run(name: &str, extra: &[&str]) -> String {
    let out = std::env::temp_dir().join(format!("gengpu-adapter-{}-{name}", std::process::id()));
    let out_s = out.to_str().expect("utf-8 path");
    let tiny = "train vae --epochs 1 --limit 128 --batch-size 64 --hidden 16 --latent 2 --out";
    let mut args: Vec<&str> = tiny.split_whitespace().collect();
    args.push(out_s);
    args.extend(extra);
    let (ok, printed) = run(&args, &[]);
    std::fs::remove_dir_all(&out).ok();
    assert!(ok, "gengpu {args:?} failed:\n{printed}");
    printed
}

#[test]
fn adapter_zero_trains_on_the_gpu() {
    if common::gpu("adapter_zero_trains_on_the_gpu").is_none() {
        return;
    }
    let printed = tiny_run("zero", &["--adapter", "0"]);
    assert!(
        printed.contains("backend: gpu:") && printed.contains("(--adapter 0)"),
        "{printed}"
    );
}

#[test]
fn an_adapter_is_found_by_part_of_its_name_in_any_case() {
    let Some(gpu) = common::gpu("an_adapter_is_found_by_part_of_its_name_in_any_case") else {
        return;
    };
    let name = gpu.adapter().name.clone();
    drop(gpu);
    let part: String = name.chars().take(4).collect::<String>().to_uppercase();
    let printed = tiny_run("name", &["--adapter", &part, "--backend", "gpu"]);
    assert!(
        printed.contains(&format!("backend: gpu: {name}")),
        "{printed}"
    );
}

#[test]
fn an_unknown_adapter_is_refused_with_the_list() {
    let bench = ["bench", "--steps", "1", "--reps", "1", "--adapter"];
    refused(
        &[&bench[..], &["99"]].concat(),
        &[],
        &["--adapter 99", "matches no adapter"],
    );
    refused(
        &[&bench[..], &["no-such-gpu"]].concat(),
        &[],
        &["--adapter no-such-gpu", "matches no adapter"],
    );
    refused(
        &["bench", "--backend", "gpu"],
        &[("WGPU_ADAPTER_NAME", "no-such-gpu")],
        &["WGPU_ADAPTER_NAME=no-such-gpu", "matches no adapter"],
    );
}

#[test]
fn adapter_with_the_cpu_backend_is_a_contradiction() {
    refused(
        &["bench", "--adapter", "0", "--backend", "cpu"],
        &[],
        &["--adapter 0", "--backend cpu"],
    );
}

#[test]
fn info_honours_wgpu_backend() {
    let (ok, printed) = run(&["info"], &[("WGPU_BACKEND", "vulkan")]);
    assert!(ok, "{printed}");
    assert!(printed.contains("APIs: WGPU_BACKEND=vulkan"), "{printed}");
    assert!(printed.contains("--backend auto uses"), "{printed}");
    assert!(
        printed
            .lines()
            .filter(|l| l.starts_with('['))
            .all(|l| l.contains("Vulkan")),
        "{printed}"
    );
}

#[test]
fn info_shows_needs_against_offers() {
    let (ok, printed) = run(&["info"], &[]);
    assert!(ok, "{printed}");
    if printed.contains("no GPU adapter found") {
        return;
    }
    let row = printed
        .lines()
        .find(|l| {
            l.trim_start()
                .starts_with("max_storage_buffers_per_shader_stage")
        })
        .unwrap_or_else(|| panic!("no storage-buffer row:\n{printed}"));
    let numbers: Vec<&str> = row.split_whitespace().skip(1).collect();
    assert_eq!(
        &numbers[..3],
        ["4", "4", "4"],
        "downlevel, needs, asks: {row}"
    );
}

#[test]
fn environment_variables_gengpu_does_not_understand_are_refused() {
    refused(
        &["info"],
        &[("WGPU_BACKEND", "vulkan,nonsense")],
        &["WGPU_BACKEND"],
    );
    refused(
        &["info"],
        &[("GENGPU_LIMITS", "tiny")],
        &["GENGPU_LIMITS", "downlevel"],
    );
}
