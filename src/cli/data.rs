//! `gengpu data fetch`: the standard dataset files, downloaded into the cache and verified.

use anyhow::{Context, Result};

use gengpu::data::{self, FetchEvent};
use gengpu::progress::bytes_bar;

pub fn fetch(
    name: &str,
    base_url: Option<&str>,
    cache_dir: Option<&std::path::Path>,
) -> Result<()> {
    // One byte-count bar per download (drawn only on a terminal).
    let mut bar: Option<indicatif::ProgressBar> = None;
    let report = data::fetch(name, base_url, cache_dir, |event| match event {
        FetchEvent::Verified { file } => eprintln!("{file}: already present, checksum verified"),
        FetchEvent::Started { file, total } => {
            bar = Some(bytes_bar(file, total.unwrap_or(0)));
        }
        FetchEvent::Progress { received, .. } => {
            if let Some(b) = &bar {
                b.set_position(received);
            }
        }
        FetchEvent::Done { file, bytes } => {
            if let Some(b) = bar.take() {
                b.finish_and_clear();
            }
            eprintln!("{file}: {bytes} bytes, checksum verified");
        }
    })
    .with_context(|| format!("cannot fetch {name}"))?;
    eprintln!(
        "{name} is in {}; train on it with --data {name}",
        report.dir.display()
    );
    Ok(())
}
