//! The one training loop, for every model: shuffle, steps, counters, progress, metrics,
//! pictures, checkpoint. A model takes part through [`Trainee`], which supplies only what is
//! its own: its step, its figures, its pictures and its named state.

use std::path::Path;
use std::time::Instant;

use serde_json::json;

use super::{CheckpointMeta, DeviceData, MetricsLog, ModelSettings, TrainError};
use crate::backend::Backend;
use crate::model::Step;
use crate::nn::State;
use crate::picture::save_chart;
use crate::progress::steps_bar;

/// Named figures of one epoch, in the order they are shown (e.g. `("test_loss", 118.6)`).
pub type Figures = Vec<(&'static str, f64)>;

/// The value of the figure called `name` (NaN if there is none).
pub fn figure(figures: &Figures, name: &str) -> f64 {
    figures
        .iter()
        .find(|(n, _)| *n == name)
        .map_or(f64::NAN, |&(_, v)| v)
}

/// The loss chart of a model: which figures are drawn, under which labels.
pub struct Chart {
    pub title: &'static str,
    pub y_label: &'static str,
    /// `(legend label, figure name)`.
    pub series: &'static [(&'static str, &'static str)],
}

/// A model being trained, as the training loop sees it.
pub trait Trainee {
    /// Training steps in an epoch over `examples` examples.
    fn steps_per_epoch(&self, examples: usize) -> usize;

    /// Zeroes what the model sums on the device over an epoch.
    fn start_epoch(&mut self, backend: &mut dyn Backend) -> Result<(), TrainError>;

    /// Training step `batch` of the epoch: gathers its examples from `data` (in the epoch's
    /// order) and trains on them, the optimizer's update included.
    fn step(
        &mut self,
        backend: &mut dyn Backend,
        data: &DeviceData,
        batch: usize,
        step: Step,
    ) -> Result<(), TrainError>;

    /// The running figures for the progress bar after `steps` steps of the epoch.
    fn progress(&mut self, backend: &mut dyn Backend, steps: usize) -> Result<String, TrainError>;

    /// The epoch's training figures after its `steps` steps: the one read-back of what the
    /// steps summed on the device.
    fn training_figures(
        &mut self,
        backend: &mut dyn Backend,
        steps: usize,
    ) -> Result<Figures, TrainError>;

    /// Figures on the test data after the epoch, for models that have them.
    fn evaluate(&mut self, _backend: &mut dyn Backend) -> Result<Option<Figures>, TrainError> {
        Ok(None)
    }

    /// The console line's middle part for an epoch's figures, e.g.
    /// `train loss  245.260  test loss  194.006`.
    fn summary(&self, figures: &Figures) -> String;

    /// What `loss.png` shows.
    fn chart(&self) -> Chart;

    /// The epoch's pictures in `out`.
    fn write_pictures(
        &mut self,
        backend: &mut dyn Backend,
        out: &Path,
        epoch: usize,
    ) -> Result<(), TrainError>;

    /// Everything the checkpoint holds as tensors.
    fn state(&self, backend: &mut dyn Backend) -> Result<State, TrainError>;
}

/// Trains `trainee` on `data` for the epochs `settings` ask, writing metrics, pictures and a
/// checkpoint into the run's folder after every epoch. Returns each epoch's figures.
pub fn train_epochs(
    backend: &mut dyn Backend,
    trainee: &mut dyn Trainee,
    data: &DeviceData,
    settings: &ModelSettings,
    data_description: &str,
) -> Result<Vec<Figures>, TrainError> {
    let run = settings.run();
    let mut metrics = MetricsLog::create(&run.out)?;
    let seed = run.seed as u32;
    let steps = trainee.steps_per_epoch(data.count);
    let mut history: Vec<Figures> = Vec::new();
    let mut steps_done: u64 = 0;
    for epoch in 1..=run.epochs {
        let started = Instant::now();
        data.shuffle(backend, run.seed, epoch)?;
        trainee.start_epoch(backend)?;
        // The per-step counts in the metrics are those of the steps alone.
        backend.submit()?;
        let before = backend.counters();
        let bar = steps_bar(epoch, run.epochs, steps);
        for batch in 0..steps {
            let step = Step {
                seed,
                index: steps_done,
            };
            trainee.step(backend, data, batch, step)?;
            backend.submit()?;
            steps_done += 1;
            bar.inc(1);
            if (batch + 1) % run.log_every == 0 && !bar.is_hidden() {
                bar.set_message(trainee.progress(backend, batch + 1)?);
            }
        }
        let counts = backend.counters().since(&before);
        let mut figures = trainee.training_figures(backend, steps)?;
        let seconds = started.elapsed().as_secs_f64();
        bar.finish_and_clear();
        let eval_started = Instant::now();
        let evaluated = trainee.evaluate(backend)?;
        let mut record = json!({
            "epoch": epoch,
            "seconds": seconds,
            "steps": steps,
            "steps_per_second": steps as f64 / seconds,
        });
        if let Some(test_figures) = evaluated {
            figures.extend(test_figures);
            record["eval_seconds"] = json!(eval_started.elapsed().as_secs_f64());
        }
        println!(
            "epoch {epoch:>3}/{}  {}  {seconds:6.2} s, {:.1} steps/s",
            run.epochs,
            trainee.summary(&figures),
            steps as f64 / seconds
        );
        if let Some(fields) = record.as_object_mut() {
            fields.extend(
                figures
                    .iter()
                    .map(|&(name, value)| (name.into(), json!(value))),
            );
        }
        metrics.append(record, backend, &counts, steps)?;
        figures.insert(0, ("epoch", epoch as f64));
        let saved_figures = figures
            .iter()
            .map(|&(name, value)| (name.to_string(), value))
            .collect();
        history.push(figures);

        trainee.write_pictures(backend, &run.out, epoch)?;
        write_chart(&trainee.chart(), &history, &run.out)?;
        let meta = CheckpointMeta {
            settings: settings.clone(),
            epoch,
            steps: steps_done,
            data: data_description.to_string(),
            figures: saved_figures,
        };
        crate::checkpoint::save(&run.checkpoint_path(), &meta, &trainee.state(backend)?)?;
    }
    Ok(history)
}

/// `loss.png`: the chart's figures per epoch.
fn write_chart(chart: &Chart, history: &[Figures], out: &Path) -> Result<(), TrainError> {
    let lines: Vec<(&str, Vec<(f64, f64)>)> = chart
        .series
        .iter()
        .map(|&(label, name)| {
            let points = history
                .iter()
                .map(|f| (figure(f, "epoch"), figure(f, name)))
                .collect();
            (label, points)
        })
        .collect();
    let series: Vec<(&str, &[(f64, f64)])> = lines
        .iter()
        .map(|(label, points)| (*label, points.as_slice()))
        .collect();
    save_chart(&out.join("loss.png"), chart.title, chart.y_label, &series)?;
    Ok(())
}
