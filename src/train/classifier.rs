//! The scoring classifier's part in training ([`ClassifierTrainee`]): digits shifted at random
//! by a few pixels each time they are used (the augmentation that lets a classifier trained on
//! 9,000 digits generalize), and its accuracy on the test split after every epoch.

use std::path::Path;

use super::trainer::{Chart, Figures, Trainee, figure};
use super::vae::PIXEL_SCALE;
use super::{DeviceData, Settings, TrainError, require_image_shape};
use crate::backend::{Augment, Backend, Tensor};
use crate::data::{Dataset, TrainTest};
use crate::model::Step;
use crate::model::classifier::{Classifier, ClassifierConfig, predicted};
use crate::nn::{LoadError, State};
use crate::optim::Adam;
use crate::picture::save_grid;

/// The settings of a classifier run.
pub type ClassifierSettings = Settings<ClassifierConfig>;

/// Test digits shown in `misclassified_{epoch}.png`, at most.
const SHOWN_MISTAKES: usize = 64;

/// A classifier in training, with the test split it is scored on.
pub struct ClassifierTrainee {
    classifier: Classifier,
    batch: usize,
    train_count: usize,
    max_shift: u32,
    test: DeviceData,
    test_labels: Vec<u8>,
    /// The test digits the last evaluation got wrong.
    mistakes: Vec<usize>,
    test_images: Vec<u8>,
}

impl ClassifierTrainee {
    /// Builds the classifier of `settings` for `data`, which must be labelled.
    pub fn new(
        backend: &mut dyn Backend,
        data: &TrainTest,
        settings: &ClassifierSettings,
    ) -> Result<Self, TrainError> {
        let config = &settings.config;
        config.validate()?;
        for set in [&data.train, &data.test] {
            require_image_shape(config.image(), set)?;
            require_labels(set, config.classes)?;
        }
        let batch = settings.run.batch_size;
        Ok(ClassifierTrainee {
            classifier: Classifier::new(backend, config.clone(), batch, settings.run.seed)?,
            batch,
            train_count: data.train.count,
            max_shift: config.max_shift,
            test: DeviceData::upload(backend, &data.test)?,
            test_labels: data.test.labels.clone(),
            mistakes: Vec::new(),
            test_images: data.test.images.clone(),
        })
    }
}

/// Fails unless every example of `set` has a label below `classes`.
fn require_labels(set: &Dataset, classes: usize) -> Result<(), TrainError> {
    if set.labels.len() != set.count {
        return Err(TrainError::Setting(format!(
            "a classifier trains on labelled data, and {} has no labels",
            set.name
        )));
    }
    match set.labels.iter().find(|&&l| usize::from(l) >= classes) {
        Some(label) => Err(TrainError::Setting(format!(
            "{} has label {label}, past the classifier's {classes} classes",
            set.name
        ))),
        None => Ok(()),
    }
}

impl Trainee for ClassifierTrainee {
    fn load_state(&mut self, backend: &mut dyn Backend, state: &State) -> Result<(), LoadError> {
        self.classifier.load_state(backend, state)
    }

    fn epoch_sums(&self) -> Tensor {
        self.classifier.sums()
    }

    fn steps_per_epoch(&self, examples: usize) -> usize {
        examples.div_ceil(self.batch)
    }

    fn start_epoch(&mut self, backend: &mut dyn Backend) -> Result<(), TrainError> {
        Ok(self.classifier.reset_sums(backend)?)
    }

    fn step(
        &mut self,
        backend: &mut dyn Backend,
        data: &DeviceData,
        batch: usize,
        step: Step,
        adam: &Adam,
    ) -> Result<(), TrainError> {
        let first = batch * self.batch;
        let rows = self.batch.min(data.count - first);
        let augment = Augment {
            max_shift: self.max_shift,
            width: self.classifier.config.width as u32,
            seed: step.seed,
            stream: step.stream(),
            ..Augment::NONE
        };
        let input = self.classifier.input(rows);
        data.gather_augmented(backend, first, PIXEL_SCALE, &augment, &input)?;
        data.gather_labels(backend, first, &self.classifier.labels(rows))?;
        Ok(self.classifier.train_step(backend, rows, step, adam)?)
    }

    fn progress(&self, figures: &Figures) -> String {
        format!("loss {:.4}", figure(figures, "train_loss"))
    }

    fn training_figures(&self, sums: &[f32], steps: usize) -> Figures {
        let n = (steps * self.batch).min(self.train_count) as f64;
        vec![("train_loss", f64::from(sums[0]) / n)]
    }

    fn evaluate(&mut self, backend: &mut dyn Backend) -> Result<Option<Figures>, TrainError> {
        let predictions = classify(backend, &mut self.classifier, &self.test)?;
        self.mistakes = predictions
            .iter()
            .zip(&self.test_labels)
            .enumerate()
            .filter(|(_, (p, l))| **p != usize::from(**l))
            .map(|(i, _)| i)
            .collect();
        let n = self.test_labels.len() as f64;
        let accuracy = 1.0 - self.mistakes.len() as f64 / n;
        Ok(Some(vec![("test_accuracy", accuracy)]))
    }

    fn summary(&self, f: &Figures) -> String {
        format!(
            "train loss {:7.4}  test accuracy {:6.2}%",
            figure(f, "train_loss"),
            100.0 * figure(f, "test_accuracy")
        )
    }

    fn chart(&self) -> Chart {
        Chart {
            title: "classifier training loss (cross-entropy per example)",
            y_label: "loss (nats)",
            series: &[("train", "train_loss")],
            file: "loss.png",
        }
    }

    /// `misclassified_{epoch}.png`: the first test digits the classifier got wrong.
    fn write_pictures(
        &mut self,
        _backend: &mut dyn Backend,
        out: &Path,
        epoch: usize,
    ) -> Result<(), TrainError> {
        let config = &self.classifier.config;
        let p = config.pixels();
        let shown: Vec<f32> = self
            .mistakes
            .iter()
            .take(SHOWN_MISTAKES)
            .flat_map(|&i| &self.test_images[i * p..(i + 1) * p])
            .map(|&b| f32::from(b) * PIXEL_SCALE)
            .collect();
        if shown.is_empty() {
            return Ok(());
        }
        let path = out.join(format!("misclassified_{epoch}.png"));
        save_grid(
            &shown,
            shown.len() / p,
            (config.height, config.width, 1),
            8,
            &path,
        )?;
        Ok(())
    }

    fn state(&self, backend: &mut dyn Backend) -> Result<State, TrainError> {
        Ok(self.classifier.state(backend)?)
    }
}

/// The class the classifier predicts for every example of `data`, in order.
pub fn classify(
    backend: &mut dyn Backend,
    classifier: &mut Classifier,
    data: &DeviceData,
) -> Result<Vec<usize>, TrainError> {
    let mut predictions = Vec::with_capacity(data.count);
    let batch = classifier.batch();
    for b in 0..data.batches(batch) {
        let rows = batch.min(data.count - b * batch);
        data.gather(
            backend,
            b * batch,
            PIXEL_SCALE,
            0.0,
            &classifier.input(rows),
        )?;
        let logits = classifier.logits(backend, rows)?;
        predictions.extend(
            logits
                .chunks_exact(classifier.config.classes)
                .map(predicted),
        );
    }
    Ok(predictions)
}
