//! What the kernel parity tests (`tests/parity_<family>.rs`) share: operands that are views at
//! non-zero offsets into larger buffers, as parameters are views into one flat buffer, GPU outputs
//! poisoned with NaN, running one closure on both backends, and per-element comparisons.
//!
//! Every operand lives in a buffer with guard elements after it (and before it, at a non-zero
//! offset): a kernel that ignores an offset, or writes past the end of its view, changes a guard
//! and fails the test.

use super::POISON;
use gengpu::backend::cpu::CpuBackend;
use gengpu::backend::gpu::GpuBackend;
use gengpu::backend::{Activation, Backend, Contraction, Tensor};

/// The value of the guard elements around every view.
const GUARD: f32 = -1234.5;
/// Guard elements after every view.
const TAIL: usize = 3;

/// A `rows × cols` view `offset` elements into a buffer that has guards around it.
#[derive(Clone, Copy)]
pub struct Slot {
    whole: Tensor,
    /// The view itself: the operand a kernel is given.
    pub view: Tensor,
    offset: usize,
}

/// A view with guards around it, the whole buffer filled with [`GUARD`].
fn slot(be: &mut dyn Backend, rows: usize, cols: usize, offset: usize) -> Slot {
    let whole = be.alloc(1, offset + rows * cols + TAIL).unwrap();
    be.fill(&whole, GUARD).unwrap();
    Slot {
        whole,
        view: whole.view(offset, rows, cols),
        offset,
    }
}

/// An operand holding `data`.
pub fn input(be: &mut dyn Backend, rows: usize, cols: usize, offset: usize, data: &[f32]) -> Slot {
    let s = slot(be, rows, cols, offset);
    be.upload(&s.view, data).unwrap();
    s
}

/// An output, poisoned so that an element the kernel leaves unwritten fails the comparison.
pub fn output(be: &mut dyn Backend, rows: usize, cols: usize, offset: usize) -> Slot {
    let s = slot(be, rows, cols, offset);
    be.fill(&s.view, POISON).unwrap();
    s
}

/// The values of the view, after checking that every guard around it is intact.
#[track_caller]
pub fn read(be: &mut dyn Backend, s: &Slot, what: &str) -> Vec<f32> {
    let all = be.read(&s.whole).unwrap();
    let end = s.offset + s.view.len();
    for (i, v) in all.iter().enumerate() {
        if i < s.offset || i >= end {
            assert!(
                v.to_bits() == GUARD.to_bits(),
                "{what} ({}): element {i} of the buffer, outside the view [{}, {end}), was overwritten with {v}",
                be.kind(),
                s.offset
            );
        }
    }
    all[s.offset..end].to_vec()
}

/// What one parity case computed: on the GPU, and on the CPU reference twice, once rounding
/// every product before adding it (as llvmpipe does) and once fusing every `a·b + c` (as most
/// GPUs may). Each test holds all three to one bound ([`crate::common::accuracy`]): that the
/// two references both pass proves the bound wide enough for contraction.
pub struct Runs<T> {
    pub gpu: T,
    pub cpu: T,
    pub cpu_fused: T,
}

impl<T> Runs<T> {
    /// Each result with the name a failure reports.
    pub fn each(&self) -> [(&'static str, &T); 3] {
        [
            ("gpu", &self.gpu),
            ("cpu", &self.cpu),
            ("cpu with fma", &self.cpu_fused),
        ]
    }
}

/// Runs `f` on the GPU and on both CPU references.
pub fn run_all<T>(gpu: &mut GpuBackend, f: impl Fn(&mut dyn Backend) -> T) -> Runs<T> {
    Runs {
        gpu: f(gpu),
        cpu: f(&mut CpuBackend::new()),
        cpu_fused: f(&mut CpuBackend::with_contraction(Contraction::Fused)),
    }
}

/// Fails unless the two slices are identical bit for bit.
#[track_caller]
pub fn assert_bits(what: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{what}: lengths differ");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            g.to_bits() == w.to_bits(),
            "{what}: element {i} is {g} ({:#010x}) but the reference is {w} ({:#010x})",
            g.to_bits(),
            w.to_bits()
        );
    }
}

/// Shapes of the elementwise kernels: 1, primes, and element counts just above 256·k.
pub const ELEMENTWISE_SHAPES: [(usize, usize); 10] = [
    (1, 1),
    (1, 7),
    (13, 17),
    (1, 256),
    (1, 257),
    (3, 257),
    (5, 103),
    (1, 1025),
    (41, 251),
    (2, 1),
];

/// Every activation, the leaky ReLU with the GAN's slope (0.2).
pub const ACTIVATIONS: [Activation; 5] = [
    Activation::Identity,
    Activation::Relu,
    Activation::LeakyRelu(0.2),
    Activation::Sigmoid,
    Activation::Tanh,
];
