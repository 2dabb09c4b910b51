//! Progress bars, in one style for every long task (drawn only on a terminal; hidden in logs
//! and CI).

use indicatif::{ProgressBar, ProgressStyle};

/// A bar of `len` units, `prefix` on its left, `counts` (an indicatif template part) on its
/// right.
fn bar(len: u64, prefix: String, counts: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    let template = format!("{{prefix}} [{{bar:30.cyan/blue}}] {counts}");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(prefix);
    bar
}

/// A bar of `steps` training steps labelled `epoch k/n`, with a message for running losses.
pub fn steps_bar(epoch: usize, epochs: usize, steps: usize) -> ProgressBar {
    bar(
        steps as u64,
        format!("epoch {epoch}/{epochs}"),
        "{pos}/{len} steps  {msg}  {per_sec} ({eta} left)",
    )
}

/// A bar of a download of `total` bytes (0 when unknown) labelled with the file's name.
pub fn bytes_bar(file: &str, total: u64) -> ProgressBar {
    bar(
        total,
        file.to_string(),
        "{bytes}/{total_bytes} {bytes_per_sec}",
    )
}
