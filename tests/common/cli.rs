//! Running the `gengpu` binary from the end-to-end tests.

use std::path::PathBuf;
use std::process::{Command, Output};

/// Runs `gengpu args`, whatever its exit.
pub fn gengpu(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gengpu"))
        .args(args)
        .output()
        .expect("run gengpu")
}

/// Runs `gengpu args`, which must succeed (the failure shows its standard error).
#[track_caller]
pub fn succeeds(args: &[&str]) -> Output {
    let output = gengpu(args);
    assert!(
        output.status.success(),
        "gengpu {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// An empty folder for one test, `gengpu-{suite}-{pid}-{name}` in the temporary folder.
pub fn scratch(suite: &str, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gengpu-{suite}-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch folder");
    dir
}

/// Trains a VAE into `out` with `settings` (flags separated by spaces, e.g.
/// `"--epochs 1 --limit 100 --backend cpu"`), which must succeed.
#[track_caller]
pub fn train_vae(out: &std::path::Path, settings: &str) -> Output {
    let out = out.to_str().expect("utf-8 path");
    let mut args = vec!["train", "vae", "--out", out];
    args.extend(settings.split_whitespace());
    succeeds(&args)
}
