//! The digit classifier that scores generated images: an MLP `P → hidden… → classes` with ReLU
//! hidden layers and a softmax cross-entropy loss, over any `Backend`. Its last hidden layer is
//! the feature space of the Fréchet distance (see `crate::score`).

use rand::SeedableRng;
use rand::rngs::StdRng;

use super::{ConfigError, Step, check_sizes};
use crate::backend::{Activation, Backend, Result, Tensor};
use crate::nn::{ImageShape, Init, LayerSpec, LoadError, Network, ParamLayout, ParamStore, State};
use crate::optim::Adam;

/// The classifier's shape.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ClassifierConfig {
    pub height: usize,
    pub width: usize,
    /// Hidden layer widths; the last is the width of the scoring features.
    pub hidden: Vec<usize>,
    pub classes: usize,
    /// Training images are shifted by up to this many pixels across and down, drawn afresh
    /// each time one is used (0: none).
    #[serde(default)]
    pub max_shift: u32,
}

impl ClassifierConfig {
    /// The default for `height × width` digits: two ReLU layers of 1024 and 256 to 10 classes.
    pub fn digits(height: usize, width: usize) -> Self {
        ClassifierConfig {
            height,
            width,
            hidden: vec![1024, 256],
            classes: 10,
            max_shift: 2,
        }
    }

    /// Pixels per image.
    pub fn pixels(&self) -> usize {
        self.height * self.width
    }

    /// The shape of one image: the classifier takes grey images.
    pub fn image(&self) -> ImageShape {
        ImageShape::new(self.height, self.width, 1)
    }

    /// Values per feature vector: the last hidden layer's width.
    pub fn features(&self) -> usize {
        self.hidden.last().copied().unwrap_or(self.pixels())
    }

    /// Refuses shapes no classifier can have (also those read from a checkpoint).
    pub fn validate(&self) -> std::result::Result<(), ConfigError> {
        self.parameters().map(|_| ())
    }

    /// Checks the configuration and returns its weights and biases.
    pub fn parameters(&self) -> std::result::Result<usize, ConfigError> {
        if self.hidden.is_empty() {
            return Err(ConfigError(
                "a classifier needs at least one hidden layer (its features)".into(),
            ));
        }
        if self.classes < 2 {
            return Err(ConfigError("a classifier needs at least 2 classes".into()));
        }
        let mut layers = vec![self.pixels()];
        layers.extend(&self.hidden);
        layers.push(self.classes);
        check_sizes("classifier", self.height, self.width, &layers)
    }
}

/// A classifier with its parameters and per-batch buffers on one backend.
pub struct Classifier {
    pub config: ClassifierConfig,
    pub store: ParamStore,
    net: Network,
    /// The batch input, `batch × P`, as pixel/255 (see [`Classifier::input`]).
    input: Tensor,
    /// The batch's class labels, `batch × 1` (see [`Classifier::labels`]).
    labels: Tensor,
    dlogits: Tensor,
    row_loss: Tensor,
    /// `[Σ loss]` since the last [`Classifier::reset_sums`], and a last word in which training
    /// records the first step it was not finite ([`Backend::record_non_finite`]).
    sums: Tensor,
    batch: usize,
}

impl Classifier {
    /// Builds the network for batches of up to `batch` rows, initialized like PyTorch's Linear
    /// layers from `seed`.
    pub fn new(
        backend: &mut dyn Backend,
        config: ClassifierConfig,
        batch: usize,
        seed: u64,
    ) -> Result<Self> {
        let mut layout = ParamLayout::default();
        let mut running = ParamLayout::default();
        let mut specs: Vec<LayerSpec> = config
            .hidden
            .iter()
            .map(|&outputs| LayerSpec::linear(outputs, Activation::Relu, None))
            .collect();
        specs.push(LayerSpec::linear(
            config.classes,
            Activation::Identity,
            None,
        ));
        let input = ImageShape::flat(config.pixels());
        let mut net = Network::new(&mut layout, &mut running, "net", input, &specs)?;
        let store = ParamStore::new(backend, layout)?;
        let mut host = vec![0.0; store.layout.len()];
        let mut rng = StdRng::seed_from_u64(seed);
        net.init(&store, &mut rng, Init::PyTorch, &mut host, &mut []);
        backend.upload(&store.params, &host)?;
        net.allocate(backend, batch, None, None)?;
        Ok(Classifier {
            input: backend.alloc(batch, config.pixels())?,
            labels: backend.alloc(batch, 1)?,
            dlogits: backend.alloc(batch, config.classes)?,
            row_loss: backend.alloc(batch, 1)?,
            sums: backend.alloc(1, 2)?,
            config,
            store,
            net,
            batch,
        })
    }

    /// The largest batch.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// The input rows a batch of `rows` images is gathered into, as pixel/255.
    pub fn input(&self, rows: usize) -> Tensor {
        self.input.top_rows(rows)
    }

    /// The label rows a batch of `rows` labels is gathered into.
    pub fn labels(&self, rows: usize) -> Tensor {
        self.labels.top_rows(rows)
    }

    /// One training step on the `rows` images and labels already gathered: the mean
    /// cross-entropy's gradient (as PyTorch's `CrossEntropyLoss`), backward, and Adam.
    pub fn train_step(
        &mut self,
        backend: &mut dyn Backend,
        rows: usize,
        step: Step,
        adam: &Adam,
    ) -> Result<()> {
        let x = self.input(rows);
        let logits = self.net.forward(backend, &self.store, &x, true)?;
        let dlogits = self.dlogits.top_rows(rows);
        let row_loss = self.row_loss.top_rows(rows);
        let labels = self.labels(rows);
        backend.softmax_cross_entropy(&logits, &labels, 1.0 / rows as f32, &dlogits, &row_loss)?;
        backend.accumulate_sum(&row_loss, &self.sums.view(0, 1, 1), 1.0)?;
        self.net
            .backward(backend, &self.store, &x, &dlogits, None, true)?;
        adam.step(backend, &self.store, step.adam_t())
    }

    /// The logits (`rows × classes`) of the `rows` images in [`Classifier::input`], read back.
    pub fn logits(&mut self, backend: &mut dyn Backend, rows: usize) -> Result<Vec<f32>> {
        let logits = self
            .net
            .forward(backend, &self.store, &self.input(rows), false)?;
        backend.read(&logits)
    }

    /// The logits (`rows × classes`) and the features (`rows × features`) of the `rows` images
    /// in [`Classifier::input`], read back.
    pub fn logits_and_features(
        &mut self,
        backend: &mut dyn Backend,
        rows: usize,
    ) -> Result<(Vec<f32>, Vec<f32>)> {
        let logits = self
            .net
            .forward(backend, &self.store, &self.input(rows), false)?;
        let features = self.net.output_of(self.config.hidden.len() - 1, rows);
        Ok((backend.read(&logits)?, backend.read(&features)?))
    }

    /// The device tensor of `[Σ loss, record]`.
    pub fn sums(&self) -> Tensor {
        self.sums
    }

    /// Zeroes the loss sum.
    pub fn reset_sums(&mut self, backend: &mut dyn Backend) -> Result<()> {
        backend.fill(&self.sums, 0.0)
    }

    /// Reads `Σ loss` back from the device.
    pub fn read_sum(&mut self, backend: &mut dyn Backend) -> Result<f64> {
        Ok(f64::from(backend.read(&self.sums)?[0]))
    }

    /// The weights and Adam's moments, named as the layers are.
    pub fn state(&self, backend: &mut dyn Backend) -> Result<State> {
        self.store.state(backend)
    }

    /// Restores what [`Classifier::state`] saved.
    pub fn load_state(
        &mut self,
        backend: &mut dyn Backend,
        state: &State,
    ) -> std::result::Result<(), LoadError> {
        self.store.load_state(backend, state)
    }

    /// Restores the weights alone (a scoring classifier is shipped without Adam's moments).
    pub fn load_weights(
        &mut self,
        backend: &mut dyn Backend,
        state: &State,
    ) -> std::result::Result<(), LoadError> {
        self.store.load_weights(backend, state)
    }
}

/// The index of the largest of `logits` (the first of equals): the predicted class.
pub fn predicted(logits: &[f32]) -> usize {
    logits
        .iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |best, (i, &v)| {
            if v > best.1 { (i, v) } else { best }
        })
        .0
}
