//! One flat buffer for all parameters, and the same layout for gradients and Adam's moments:
//! one optimizer dispatch updates everything, and each weight is a view into the buffer.

use rand::Rng;

use crate::backend::{Backend, Result, Tensor};

/// Where one parameter tensor lives in the flat buffers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamEntry {
    /// The name it is saved under, PyTorch-style (`encoder.0.weight`).
    pub name: String,
    pub offset: usize,
    pub rows: usize,
    pub cols: usize,
    /// The shape it is saved with, as PyTorch stores it: `[cols]` for biases and batch-norm
    /// parameters and statistics, `[rows, cols]` for linear weights, 4-d for convolution
    /// kernels (the same values in the same order).
    pub saved_shape: Vec<usize>,
}

impl ParamEntry {
    /// The shape it is saved with.
    pub fn shape(&self) -> Vec<usize> {
        self.saved_shape.clone()
    }

    pub fn len(&self) -> usize {
        self.rows * self.cols
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Names and shapes, collected before anything is allocated.
#[derive(Clone, Debug, Default)]
pub struct ParamLayout {
    entries: Vec<ParamEntry>,
    len: usize,
}

/// A handle to a parameter of a layout (an index into its entries).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParamSlot(usize);

impl ParamLayout {
    /// Reserves a `rows × cols` matrix.
    pub fn add(&mut self, name: impl Into<String>, rows: usize, cols: usize) -> ParamSlot {
        self.push(name.into(), rows, cols, vec![rows, cols])
    }

    /// Reserves a vector of `len` values (a `1 × len` view).
    pub fn add_vector(&mut self, name: impl Into<String>, len: usize) -> ParamSlot {
        self.push(name.into(), 1, len, vec![len])
    }

    /// Reserves a convolution kernel of `shape` (`[a, b, k, k]`), seen as the `a × b·k·k` matrix
    /// the matmul multiplies by.
    pub fn add_kernel(&mut self, name: impl Into<String>, shape: [usize; 4]) -> ParamSlot {
        let [a, b, kh, kw] = shape;
        self.push(name.into(), a, b * kh * kw, shape.to_vec())
    }

    fn push(
        &mut self,
        name: String,
        rows: usize,
        cols: usize,
        saved_shape: Vec<usize>,
    ) -> ParamSlot {
        self.entries.push(ParamEntry {
            name,
            offset: self.len,
            rows,
            cols,
            saved_shape,
        });
        self.len += rows * cols;
        ParamSlot(self.entries.len() - 1)
    }

    /// Total number of scalars.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn entries(&self) -> &[ParamEntry] {
        &self.entries
    }
}

/// The flat buffers on a backend: parameters, gradients and Adam's first and second moments.
pub struct ParamStore {
    pub layout: ParamLayout,
    pub params: Tensor,
    pub grads: Tensor,
    pub m: Tensor,
    pub v: Tensor,
}

impl ParamStore {
    /// Allocates the four buffers (zeroed).
    pub fn new(backend: &mut dyn Backend, layout: ParamLayout) -> Result<Self> {
        let n = layout.len();
        Ok(ParamStore {
            params: backend.alloc(1, n)?,
            grads: backend.alloc(1, n)?,
            m: backend.alloc(1, n)?,
            v: backend.alloc(1, n)?,
            layout,
        })
    }

    /// Where a parameter lives.
    pub fn entry(&self, slot: ParamSlot) -> &ParamEntry {
        &self.layout.entries[slot.0]
    }

    /// The parameter's view.
    pub fn param(&self, slot: ParamSlot) -> Tensor {
        let e = self.entry(slot);
        self.params.view(e.offset, e.rows, e.cols)
    }

    /// The parameter's gradient view.
    pub fn grad(&self, slot: ParamSlot) -> Tensor {
        let e = self.entry(slot);
        self.grads.view(e.offset, e.rows, e.cols)
    }
}

/// `count` draws from N(mean, std²) (Box–Muller on `rng`): DCGAN's initialization.
pub fn normal_init(rng: &mut impl Rng, mean: f32, std: f32, count: usize) -> Vec<f32> {
    (0..count)
        .map(|_| {
            let u: f32 = 1.0 - rng.random::<f32>();
            let v: f32 = rng.random();
            mean + std * (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
        })
        .collect()
}

/// PyTorch's `nn.Linear` default initialization, for weight and bias alike: uniform in
/// ±1/√fan_in (kaiming_uniform with a = √5 reduces to this).
pub fn linear_init(rng: &mut impl Rng, fan_in: usize, count: usize) -> Vec<f32> {
    let bound = 1.0 / (fan_in as f32).sqrt();
    (0..count)
        .map(|_| rng.random_range(-bound..bound))
        .collect()
}
