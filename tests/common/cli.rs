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
