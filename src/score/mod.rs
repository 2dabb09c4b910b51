//! Scores of generated images, with a classifier trained by gengpu (see
//! `gengpu train classifier`) run by gengpu's own kernels on either backend: the Fréchet
//! distance between its features of generated and real images, its Inception Score, and the
//! histogram of the classes it sees (mode coverage).

mod frechet;
mod images;
mod inception;
mod stats;

pub use frechet::frechet_distance;
pub use images::{ReadImages, read_images};
pub use inception::{histogram, inception_score, probabilities};
pub use stats::FeatureStats;

use thiserror::Error;

use crate::backend::{Backend, BackendError};
use crate::checkpoint::Checkpoint;
use crate::data::Dataset;
use crate::model::classifier::{Classifier, predicted};
use crate::model::{Generative, sample};
use crate::train::TrainError;

/// The scoring classifier shipped with gengpu: trained by `gengpu train classifier` on the
/// 9,000 bundled training digits (see `assets/README.md` for its accuracy).
static BUNDLED_CLASSIFIER: &[u8] = include_bytes!("../../assets/classifier-mnist.safetensors");
/// What messages call it.
pub const BUNDLED_CLASSIFIER_NAME: &str = "the bundled MNIST classifier";

/// Images the classifier takes per batch.
const BATCH: usize = 500;

/// What can stop scoring.
#[derive(Debug, Error)]
pub enum ScoreError {
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error(transparent)]
    Load(#[from] TrainError),
    #[error("the classifier takes {classifier_h}×{classifier_w} images but {what} has {h}×{w}")]
    ImageShape {
        classifier_h: usize,
        classifier_w: usize,
        what: String,
        h: usize,
        w: usize,
    },
    #[error("cannot read the images: {0}")]
    Images(String),
    #[error("scoring needs at least 2 images, and {what} has {n}")]
    TooFew { what: String, n: usize },
}

/// The scores of one set of images against the real ones.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Scores {
    /// Fréchet distance of the classifier's features (lower is better; 0 for the real set).
    pub frechet_distance: f64,
    /// Classifier-based Inception Score (higher is better; at most the number of classes).
    pub inception_score: f64,
    /// Images the classifier puts in each class.
    pub class_histogram: Vec<usize>,
    /// Images scored.
    pub n: usize,
}

/// What the classifier makes of a set of images.
struct Seen {
    features: Vec<f32>,
    probabilities: Vec<Vec<f64>>,
    predictions: Vec<usize>,
}

/// A classifier with the feature statistics of the real images it compares others with.
pub struct Scorer {
    classifier: Classifier,
    /// Where the classifier came from.
    pub classifier_name: String,
    real: FeatureStats,
    /// The real images' own scores (their Fréchet distance is 0).
    pub real_scores: Scores,
    /// The classifier's accuracy on the real images, if they are labelled.
    pub real_accuracy: Option<f64>,
}

impl Scorer {
    /// Loads the classifier of `path` (the bundled one for `None`) and runs it on `real`.
    pub fn new(
        backend: &mut dyn Backend,
        path: Option<&std::path::Path>,
        real: &Dataset,
    ) -> Result<Scorer, ScoreError> {
        let (file, classifier_name) = match path {
            Some(path) => (
                Checkpoint::open(path).map_err(TrainError::from)?,
                path.display().to_string(),
            ),
            None => (
                Checkpoint::from_bytes(BUNDLED_CLASSIFIER, BUNDLED_CLASSIFIER_NAME.as_ref())
                    .map_err(TrainError::from)?,
                BUNDLED_CLASSIFIER_NAME.to_string(),
            ),
        };
        let (mut classifier, _) = crate::train::classifier_of(backend, &file, BATCH)?;
        check_shape(
            &classifier,
            (real.rows, real.cols, real.channels),
            &real.name,
        )?;
        let images: Vec<f32> = real.images.iter().map(|&b| f32::from(b) / 255.0).collect();
        let seen = see(backend, &mut classifier, &images, &real.name)?;
        let real_accuracy = (real.labels.len() == real.count).then(|| {
            let right = seen
                .predictions
                .iter()
                .zip(&real.labels)
                .filter(|&(&p, &l)| p == usize::from(l))
                .count();
            right as f64 / real.count as f64
        });
        let real_stats = FeatureStats::of(&seen.features, classifier.config.features());
        Ok(Scorer {
            real_scores: scores_of(&classifier, &seen, &real_stats),
            real: real_stats,
            classifier,
            classifier_name,
            real_accuracy,
        })
    }

    /// The classifier's image shape.
    pub fn image_shape(&self) -> (usize, usize) {
        (self.classifier.config.height, self.classifier.config.width)
    }

    /// Fails unless the classifier takes images of `shape` (`what` has them).
    pub fn takes(&self, shape: (usize, usize, usize), what: &str) -> Result<(), ScoreError> {
        check_shape(&self.classifier, shape, what)
    }

    /// Scores `images` (row after row, values in [0, 1], of the classifier's shape).
    pub fn score_images(
        &mut self,
        backend: &mut dyn Backend,
        images: &[f32],
        what: &str,
    ) -> Result<Scores, ScoreError> {
        let seen = see(backend, &mut self.classifier, images, what)?;
        Ok(scores_of(&self.classifier, &seen, &self.real))
    }

    /// Scores `n` images drawn by `model` from the standard normal latents of `seed`.
    pub fn score_model(
        &mut self,
        backend: &mut dyn Backend,
        model: &mut dyn Generative,
        n: usize,
        seed: u32,
        shape: (usize, usize, usize),
    ) -> Result<Scores, ScoreError> {
        check_shape(&self.classifier, shape, "the model")?;
        let images = sample(backend, model, n, seed)?;
        self.score_images(backend, &images, "the model's samples")
    }
}

/// The classifier's features, class probabilities and predictions for `images`.
fn see(
    backend: &mut dyn Backend,
    classifier: &mut Classifier,
    images: &[f32],
    what: &str,
) -> Result<Seen, ScoreError> {
    let c = &classifier.config;
    let (p, classes) = (c.pixels(), c.classes);
    let n = images.len() / p;
    if n < 2 {
        return Err(ScoreError::TooFew {
            what: what.to_string(),
            n,
        });
    }
    let mut seen = Seen {
        features: Vec::with_capacity(n * c.features()),
        probabilities: Vec::with_capacity(n),
        predictions: Vec::with_capacity(n),
    };
    for part in images.chunks(BATCH * p) {
        let rows = part.len() / p;
        backend.upload(&classifier.input(rows), part)?;
        let (logits, features) = classifier.logits_and_features(backend, rows)?;
        seen.features.extend(features);
        for row in logits.chunks_exact(classes) {
            seen.predictions.push(predicted(row));
            seen.probabilities.push(probabilities(row));
        }
    }
    Ok(seen)
}

/// The scores of what the classifier saw, against the real images' `real` statistics.
fn scores_of(classifier: &Classifier, seen: &Seen, real: &FeatureStats) -> Scores {
    let classes = classifier.config.classes;
    let stats = FeatureStats::of(&seen.features, classifier.config.features());
    Scores {
        frechet_distance: frechet_distance(&stats, real),
        inception_score: inception_score(&seen.probabilities, classes),
        class_histogram: histogram(&seen.predictions, classes),
        n: seen.predictions.len(),
    }
}

/// Fails unless the classifier takes images of `(h, w)` with `c` channels (it takes grey ones).
fn check_shape(
    classifier: &Classifier,
    (h, w, c): (usize, usize, usize),
    what: &str,
) -> Result<(), ScoreError> {
    if c != 1 {
        return Err(ScoreError::Images(format!(
            "the scoring classifier takes grey images; {what} has {c} channels"
        )));
    }
    let (classifier_h, classifier_w) = (classifier.config.height, classifier.config.width);
    if (h, w) == (classifier_h, classifier_w) {
        return Ok(());
    }
    Err(ScoreError::ImageShape {
        classifier_h,
        classifier_w,
        what: what.to_string(),
        h,
        w,
    })
}
