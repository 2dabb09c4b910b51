//! The one training loop, for every model: shuffle, steps, counters, progress, metrics,
//! pictures, checkpoint. A model takes part through [`Trainee`], which supplies only what is
//! its own: its step, its figures, its pictures and its named state.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use serde_json::json;

use super::settings::checkpoint_epoch;
use super::{CheckpointMeta, DeviceData, MetricsLog, ModelSettings, RunOptions, TrainError};
use crate::backend::{Backend, Tensor};
use crate::model::{Generative, Step};
use crate::nn::{LoadError, State};
use crate::optim::Adam;
use crate::picture::save_chart;
use crate::progress::steps_bar;
use crate::score::Scorer;

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
    /// The file it is drawn into in the run's folder.
    pub file: &'static str,
}

/// A model being trained, as the training loop sees it.
pub trait Trainee {
    /// Training steps in an epoch over `examples` examples.
    fn steps_per_epoch(&self, examples: usize) -> usize;

    /// Zeroes what the model sums on the device over an epoch.
    fn start_epoch(&mut self, backend: &mut dyn Backend) -> Result<(), TrainError>;

    /// Training step `batch` of the epoch: gathers its examples from `data` (in the epoch's
    /// order) and trains on them, the update of `adam` (the run's optimizer as it is in this
    /// epoch) included.
    fn step(
        &mut self,
        backend: &mut dyn Backend,
        data: &DeviceData,
        batch: usize,
        step: Step,
        adam: &Adam,
    ) -> Result<(), TrainError>;

    /// The progress bar's message for the running training figures.
    fn progress(&self, figures: &Figures) -> String;

    /// The epoch's training figures over its first `steps` steps (all of them at its end),
    /// from what the steps summed on the device ([`Trainee::epoch_sums`] read back, without
    /// its record word).
    fn training_figures(&self, sums: &[f32], steps: usize) -> Figures;

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

    /// Replaces the model's state (weights, optimizer moments, statistics) with `state`.
    fn load_state(&mut self, backend: &mut dyn Backend, state: &State) -> Result<(), LoadError>;

    /// The device tensor in which the steps sum the epoch's training figures, with one word
    /// more, last, in which the trainer records the first step they were not finite
    /// ([`Backend::record_non_finite`]). Zeroed by [`Trainee::start_epoch`].
    fn epoch_sums(&self) -> Tensor;

    /// The model as a generator of images, for the scores (`None` for a classifier).
    fn generative(&mut self) -> Option<&mut dyn Generative> {
        None
    }

    /// Picks up what a resumed run's earlier epochs left in folder `history` (e.g. animation
    /// frames).
    fn resumed(&mut self, _history: &Path, _epochs_done: usize) -> Result<(), TrainError> {
        Ok(())
    }
}

/// Where a resumed run starts: what its checkpoint says was done.
#[derive(Clone, Debug, Default)]
pub struct Progress {
    /// Epochs completed.
    pub epoch: usize,
    /// Steps done into the next epoch (0 at an epoch's end).
    pub epoch_step: usize,
    /// Training steps of the whole run so far.
    pub steps: u64,
    /// The epoch's sums over its first `epoch_step` steps.
    pub epoch_sums: Vec<f32>,
    /// The folder holding the earlier epochs' metrics and pictures (the checkpoint's), which
    /// a run resumed into another folder carries over.
    pub history: PathBuf,
}

impl Progress {
    /// The progress checkpoint `file` records (`meta`, its description).
    pub fn of(meta: &CheckpointMeta, file: &crate::checkpoint::Checkpoint) -> Self {
        Progress {
            epoch: meta.epoch,
            epoch_step: meta.epoch_step,
            steps: meta.steps,
            epoch_sums: meta.epoch_sums.clone(),
            history: crate::fsutil::parent(file.path()).to_path_buf(),
        }
    }
}

/// Set (to the signal's number) to ask a running loop to stop after its current step.
pub type StopRequest = AtomicUsize;

/// How a run ended.
#[derive(Debug)]
pub enum Outcome {
    /// Every epoch ran; each epoch's figures.
    Finished(Vec<Figures>),
    /// A stop was requested (by `signal`): the checkpoint holds the state after `epoch_step`
    /// steps of epoch `epoch`.
    Stopped {
        signal: usize,
        epoch: usize,
        epoch_step: usize,
        checkpoint: std::path::PathBuf,
    },
}

/// Trains `trainee` on `data` for the epochs `settings` ask, from `from` (a fresh run starts
/// at the default), writing metrics, pictures and a checkpoint into the run's folder after
/// every epoch. When `stop` is set, finishes the current step, saves the checkpoint there and
/// returns [`Outcome::Stopped`]. A non-finite training figure ends the run with an error before
/// anything of that epoch is written, so the last good checkpoint stays as it was.
#[allow(clippy::too_many_arguments)]
pub fn train_epochs(
    backend: &mut dyn Backend,
    trainee: &mut dyn Trainee,
    data: &DeviceData,
    settings: &ModelSettings,
    data_description: &str,
    from: &Progress,
    mut scorer: Option<&mut Scorer>,
    stop: &StopRequest,
) -> Result<Outcome, TrainError> {
    let run = settings.run();
    let chart = trainee.chart();
    let (mut metrics, mut history) = if from.epoch == 0 && from.epoch_step == 0 {
        (MetricsLog::create(&run.out)?, Vec::new())
    } else {
        let (log, records) = MetricsLog::resume(&from.history, &run.out, from.epoch, from.steps)?;
        trainee.resumed(&from.history, from.epoch)?;
        (log, history_of(&chart, &records))
    };
    let seed = run.seed as u32;
    let steps = trainee.steps_per_epoch(data.count);
    let mut steps_done = from.steps;
    let checkpoint =
        |epoch: usize, epoch_step: usize, epoch_sums: Vec<f32>, steps: u64| CheckpointMeta {
            settings: settings.clone(),
            epoch,
            epoch_step,
            epoch_sums,
            steps,
            data: data_description.to_string(),
            figures: Default::default(),
        };
    for epoch in from.epoch + 1..=run.epochs {
        let started = Instant::now();
        data.shuffle(backend, run.seed, epoch)?;
        trainee.start_epoch(backend)?;
        // The optimizer's settings in this epoch (the learning rate of its schedule).
        let adam = settings.optimizer().in_epoch(epoch, run.epochs);
        // A run resumed inside this epoch continues at its step, with its sums so far.
        let first = if epoch == from.epoch + 1 {
            from.epoch_step
        } else {
            0
        };
        if first > 0 {
            backend.upload(&sum_words(trainee), &from.epoch_sums)?;
        }
        // Run steps before this epoch's first, for the step a non-finite loss is named by.
        let before_epoch = steps_done - first as u64;
        // The per-step counts in the metrics are those of the steps alone.
        backend.submit()?;
        let before = backend.counters();
        let bar = steps_bar(epoch, run.epochs, steps);
        bar.set_position(first as u64);
        for batch in first..steps {
            let step = Step {
                seed,
                index: steps_done,
            };
            trainee.step(backend, data, batch, step, &adam)?;
            // Numbered from 1, so that 0 is "none yet".
            let step_number = u32::try_from(steps_done + 1).unwrap_or(u32::MAX);
            backend.record_non_finite(&trainee.epoch_sums(), step_number)?;
            backend.submit()?;
            steps_done += 1;
            bar.inc(1);
            let signal = stop.load(Ordering::SeqCst);
            if signal != 0 && batch + 1 < steps {
                bar.finish_and_clear();
                // Weights that a non-finite loss broke since the last check are not saved.
                let read = read_figures(backend, trainee, batch + 1)?;
                check_finite(&read, epoch, before_epoch, steps_done, batch + 1 - first)?;
                let meta = checkpoint(epoch - 1, batch + 1, read.sums, steps_done);
                let path = run.checkpoint_path();
                let state = finite_state(backend, trainee, epoch, steps_done)?;
                crate::checkpoint::save(&path, &meta, &state)?;
                return Ok(Outcome::Stopped {
                    signal,
                    epoch,
                    epoch_step: batch + 1,
                    checkpoint: path,
                });
            }
            if (batch + 1) % run.log_every == 0 {
                // The running figures, logged per step; a diverging loss is caught here first.
                let running = read_figures(backend, trainee, batch + 1)?;
                check_finite(&running, epoch, before_epoch, steps_done, batch + 1 - first)?;
                let running = running.figures;
                bar.set_message(trainee.progress(&running));
                metrics.append_step(epoch, steps_done, &running)?;
            }
        }
        let run_steps = steps - first;
        let counts = backend.counters().since(&before);
        let read = read_figures(backend, trainee, steps)?;
        bar.finish_and_clear();
        // The steps since the last running check (at positions that are multiples of log_every).
        let unchecked = match steps % run.log_every {
            0 => run.log_every,
            rest => rest,
        };
        check_finite(
            &read,
            epoch,
            before_epoch,
            steps_done,
            unchecked.min(steps - first),
        )?;
        let mut figures = read.figures;
        // The last update may have broken the weights after the last loss was taken.
        let state = finite_state(backend, trainee, epoch, steps_done)?;
        let seconds = started.elapsed().as_secs_f64();
        let eval_started = Instant::now();
        let evaluated = trainee.evaluate(backend)?;
        let mut record = json!({
            "epoch": epoch,
            "seconds": seconds,
            "steps": steps,
            "steps_per_second": run_steps as f64 / seconds,
        });
        if let Some(test_figures) = evaluated {
            figures.extend(test_figures);
            record["eval_seconds"] = json!(eval_started.elapsed().as_secs_f64());
        }
        if let Some(scorer) = scorer.as_deref_mut()
            && run.scoring.scores(epoch, run.epochs)
        {
            let score_started = Instant::now();
            let scores = score(backend, trainee, scorer, run.scoring.samples)?;
            figures.push(("frechet_distance", scores.frechet_distance));
            figures.push(("inception_score", scores.inception_score));
            record["class_histogram"] = json!(scores.class_histogram);
            record["score_seconds"] = json!(score_started.elapsed().as_secs_f64());
        }
        // The run's table on standard output; a reader that closed it ends the run here, its
        // last checkpoint kept.
        let mut summary = trainee.summary(&figures);
        if record.get("class_histogram").is_some() {
            summary += &format!(
                "  Fréchet {:.2}  IS {:.2}",
                figure(&figures, "frechet_distance"),
                figure(&figures, "inception_score")
            );
        }
        writeln!(
            std::io::stdout().lock(),
            "epoch {epoch:>3}/{}  {summary}  {seconds:6.2} s, {:.1} steps/s",
            run.epochs,
            run_steps as f64 / seconds
        )
        .map_err(|source| TrainError::Io {
            path: "standard output".into(),
            source,
        })?;
        if let Some(fields) = record.as_object_mut() {
            fields.extend(
                figures
                    .iter()
                    .map(|&(name, value)| (name.into(), json!(value))),
            );
        }
        metrics.append(record, backend, &counts, run_steps)?;
        figures.insert(0, ("epoch", epoch as f64));
        let mut meta = checkpoint(epoch, 0, Vec::new(), steps_done);
        meta.figures = figures
            .iter()
            .map(|&(name, value)| (name.to_string(), value))
            .collect();
        history.push(figures);

        trainee.write_pictures(backend, &run.out, epoch)?;
        write_chart(&chart, &history, &run.out)?;
        if run.scoring.every > 0 {
            write_chart(&SCORE_CHART, &history, &run.out)?;
        }
        crate::checkpoint::save(&run.checkpoint_path(), &meta, &state)?;
        keep_epoch_checkpoint(run, epoch)?;
    }
    Ok(Outcome::Finished(history))
}

/// The seed of the latents whose images are scored during training, the same at every epoch.
const SCORE_SEED: u32 = 0x5c0e;

/// The scores of `samples` images of the trainee's model.
fn score(
    backend: &mut dyn Backend,
    trainee: &mut dyn Trainee,
    scorer: &mut Scorer,
    samples: usize,
) -> Result<crate::score::Scores, TrainError> {
    // The model's images are the data's, which the classifier was checked to take.
    let (h, w) = scorer.image_shape();
    let shape = (h, w, 1);
    let model = trainee
        .generative()
        .ok_or_else(|| TrainError::Setting("only generative models are scored".into()))?;
    scorer
        .score_model(backend, model, samples, SCORE_SEED, shape)
        .map_err(|e| TrainError::Score(Box::new(e)))
}

/// The trainee's state for a checkpoint, refused if a tensor holds a value that is not finite
/// (an update after the last checked loss broke it): a checkpoint is always one to go on from.
fn finite_state(
    backend: &mut dyn Backend,
    trainee: &dyn Trainee,
    epoch: usize,
    steps_done: u64,
) -> Result<State, TrainError> {
    let state = trainee.state(backend)?;
    for tensor in state.tensors() {
        if let Some(&value) = tensor.values.iter().find(|v| !v.is_finite()) {
            return Err(TrainError::NonFiniteState {
                epoch,
                tensor: tensor.name.clone(),
                value,
                step: steps_done,
            });
        }
    }
    Ok(state)
}

/// The epoch's sum words, without the record word.
fn sum_words(trainee: &dyn Trainee) -> Tensor {
    let sums = trainee.epoch_sums();
    sums.view(0, 1, sums.len() - 1)
}

/// The training figures and the record of the first non-finite step, from one read-back.
struct ReadBack {
    /// The sum words as read (without the record word).
    sums: Vec<f32>,
    figures: Figures,
    /// The run step (from 1) whose sums were first not finite; 0 if none was.
    first_non_finite: u32,
}

/// Reads the epoch's sums and record word back in one read, after `steps` steps of it.
fn read_figures(
    backend: &mut dyn Backend,
    trainee: &dyn Trainee,
    steps: usize,
) -> Result<ReadBack, TrainError> {
    let mut sums = backend.read(&trainee.epoch_sums())?;
    let record = sums.pop().map_or(0, f32::to_bits);
    Ok(ReadBack {
        figures: trainee.training_figures(&sums, steps),
        sums,
        first_non_finite: record,
    })
}

/// Fails if a training figure is not finite, naming the step the device recorded (the epoch's
/// steps began after run step `before_epoch`). Should that record be missing, the failure
/// names the steps since the previous check instead: the last `since_check` (at least one) of
/// the `steps_done`.
fn check_finite(
    read: &ReadBack,
    epoch: usize,
    before_epoch: u64,
    steps_done: u64,
    since_check: usize,
) -> Result<(), TrainError> {
    let Some(&(figure, value)) = read.figures.iter().find(|(_, v)| !v.is_finite()) else {
        return Ok(());
    };
    let at = match u64::from(read.first_non_finite) {
        0 => format!(
            "after steps {}–{steps_done} of the run",
            steps_done + 1 - since_check.max(1) as u64
        ),
        step => format!(
            "from step {step} of the run (step {} of the epoch)",
            step - before_epoch
        ),
    };
    Err(TrainError::NonFinite {
        epoch,
        figure,
        value,
        at,
    })
}

/// With `--keep N`, the epoch's checkpoint also under its epoch number (a hard link to the
/// file just written, which the next epoch's atomic rename leaves alone), and only the N latest
/// of those.
fn keep_epoch_checkpoint(run: &RunOptions, epoch: usize) -> Result<(), TrainError> {
    if run.keep == 0 {
        return Ok(());
    }
    let io_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| TrainError::Io { path, source }
    };
    let numbered = run.epoch_checkpoint_path(epoch);
    let _ = std::fs::remove_file(&numbered);
    if std::fs::hard_link(run.checkpoint_path(), &numbered).is_err() {
        let bytes = std::fs::read(run.checkpoint_path()).map_err(io_error(&numbered))?;
        crate::fsutil::write_atomically(&numbered, &bytes).map_err(io_error(&numbered))?;
    }
    let mut kept: Vec<usize> = std::fs::read_dir(&run.out)
        .map_err(io_error(&run.out))?
        .filter_map(|entry| {
            let name = entry.ok()?.file_name();
            checkpoint_epoch(name.to_str()?)
        })
        .collect();
    kept.sort_unstable_by(|a, b| b.cmp(a));
    for &old in kept.iter().skip(run.keep) {
        let path = run.epoch_checkpoint_path(old);
        std::fs::remove_file(&path).map_err(io_error(&path))?;
    }
    Ok(())
}

/// The chart's figures of the epochs a resumed run's metrics log already holds.
fn history_of(chart: &Chart, records: &[serde_json::Value]) -> Vec<Figures> {
    records
        .iter()
        .filter(|record| record.get("step").is_none())
        .map(|record| {
            let value = |name: &str| record[name].as_f64().unwrap_or(f64::NAN);
            let mut figures: Figures = vec![("epoch", value("epoch"))];
            let charted = chart.series.iter().chain(SCORE_CHART.series);
            figures.extend(charted.map(|&(_, name)| (name, value(name))));
            figures
        })
        .collect()
}

/// `score.png`: the Fréchet distance of the scored epochs.
const SCORE_CHART: Chart = Chart {
    title: "Fréchet distance of the samples to the test images",
    y_label: "Fréchet distance (classifier features)",
    series: &[("samples", "frechet_distance")],
    file: "score.png",
};

/// The chart's figures per epoch, in its file; epochs without a figure (e.g. those not scored)
/// are left out.
fn write_chart(chart: &Chart, history: &[Figures], out: &Path) -> Result<(), TrainError> {
    let lines: Vec<(&str, Vec<(f64, f64)>)> = chart
        .series
        .iter()
        .map(|&(label, name)| {
            let points = history
                .iter()
                .map(|f| (figure(f, "epoch"), figure(f, name)))
                .filter(|(_, v)| !v.is_nan())
                .collect();
            (label, points)
        })
        .collect();
    let series: Vec<(&str, &[(f64, f64)])> = lines
        .iter()
        .map(|(label, points)| (*label, points.as_slice()))
        .collect();
    save_chart(&out.join(chart.file), chart.title, chart.y_label, &series)?;
    Ok(())
}
