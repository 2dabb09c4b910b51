//! The per-epoch progress bar (drawn only on a terminal; hidden in logs and CI).

use indicatif::{ProgressBar, ProgressStyle};

/// A bar of `steps` steps labelled `epoch k/n`.
pub fn epoch_bar(epoch: usize, epochs: usize, steps: usize) -> ProgressBar {
    let bar = ProgressBar::new(steps as u64);
    let style = ProgressStyle::with_template(
        "{prefix} [{bar:30.cyan/blue}] {pos}/{len} steps  {msg}  {per_sec} ({eta} left)",
    )
    .expect("the template is valid")
    .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(format!("epoch {epoch}/{epochs}"));
    bar
}
