//! `gengpu score`: the Fréchet distance, Inception Score and class histogram of a model's
//! samples, or of images from any tool, against real test images.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::args::{BackendArgs, DataArgs};
use super::{open_backend, test_data_for, with_generator};
use gengpu::score::{Scorer, Scores, read_images};

/// What `gengpu score` is asked to score.
pub enum Scored {
    /// `n` samples of a checkpoint's model from the latents of `seed`.
    Checkpoint { path: PathBuf, n: usize, seed: u32 },
    /// The images of an IDX file or a folder of PNGs.
    Images(PathBuf),
}

pub fn run(
    scored: &Scored,
    classifier: Option<&Path>,
    data: &DataArgs,
    choice: &BackendArgs,
    json: bool,
) -> Result<()> {
    let checkpoint = match scored {
        Scored::Checkpoint { path, n, .. } => {
            if *n < 2 {
                bail!("--n must be at least 2 (a covariance needs two images)");
            }
            Some(path.as_path())
        }
        Scored::Images(_) => None,
    };
    let (real, description) = test_data_for(checkpoint, data)?;
    eprintln!("real images: {description}");
    let mut backend = open_backend(choice)?;
    let mut scorer = Scorer::new(backend.as_mut(), classifier, &real)?;
    let (scores, what) = match scored {
        Scored::Checkpoint { path, n, seed } => {
            let scores = with_generator(backend.as_mut(), path, |backend, model, shape| {
                Ok(scorer.score_model(backend, model, *n, *seed, shape)?)
            })?;
            (
                scores,
                format!("{n} samples of {} (seed {seed})", path.display()),
            )
        }
        Scored::Images(path) => {
            let read = read_images(path, scorer.image_shape())
                .with_context(|| format!("cannot score {}", path.display()))?;
            for (file, why) in &read.skipped {
                eprintln!("skipped {}: {why}", file.display());
            }
            if !read.skipped.is_empty() {
                eprintln!("skipped {} unreadable files", read.skipped.len());
            }
            let what = format!("{} images of {}", read.count, path.display());
            (
                scorer.score_images(backend.as_mut(), &read.pixels, &what)?,
                what,
            )
        }
    };
    if json {
        let report = serde_json::json!({
            "frechet_distance": scores.frechet_distance,
            "inception_score": scores.inception_score,
            "class_histogram": scores.class_histogram,
            "n": scores.n,
            "classifier": scorer.classifier_name,
            "scored": what,
            "real": {
                "data": description,
                "n": scorer.real_scores.n,
                "inception_score": scorer.real_scores.inception_score,
                "class_histogram": scorer.real_scores.class_histogram,
                "classifier_accuracy": scorer.real_accuracy,
            },
        });
        outln!("{report}");
    } else {
        print_table(&scores, &scorer, &what, &description)?;
    }
    Ok(())
}

/// The scores beside the real images' own, and both class histograms.
fn print_table(scores: &Scores, scorer: &Scorer, what: &str, real: &str) -> Result<()> {
    let real_scores = &scorer.real_scores;
    outln!("scored:     {what}");
    outln!("real:       {} images of {real}", real_scores.n);
    match scorer.real_accuracy {
        Some(a) => outln!(
            "classifier: {} ({:.2}% right on the real images)",
            scorer.classifier_name,
            100.0 * a
        ),
        None => outln!("classifier: {}", scorer.classifier_name),
    }
    outln!();
    outln!("{:<18} {:>10} {:>10}", "", "scored", "real");
    outln!(
        "{:<18} {:>10.3} {:>10.3}",
        "Fréchet distance",
        scores.frechet_distance,
        0.0
    );
    outln!(
        "{:<18} {:>10.3} {:>10.3}",
        "Inception Score",
        scores.inception_score,
        real_scores.inception_score
    );
    outln!();
    outln!("{:<18} {:>10} {:>10}", "class", "scored %", "real %");
    let share = |counts: &[usize], c: usize| {
        100.0 * counts[c] as f64 / counts.iter().sum::<usize>().max(1) as f64
    };
    for c in 0..scores.class_histogram.len() {
        outln!(
            "{c:<18} {:>10.1} {:>10.1}",
            share(&scores.class_histogram, c),
            share(&real_scores.class_histogram, c)
        );
    }
    Ok(())
}
