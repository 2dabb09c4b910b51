//! The WGSL kernels: which file each comes from, its entry point and its bindings.

/// A WGSL source file of `shaders/` (one per kernel family).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Module {
    Matmul,
    Elementwise,
    Reduce,
    Random,
    Vae,
    Loss,
    Adam,
    Data,
    BatchNorm,
}

/// Functions shared by several modules, prepended to their source (WGSL has no includes):
/// `COMMON` to every module, `ACTIVATION` to those that apply activations.
const COMMON: &str = include_str!("../../../shaders/common.wgsl");
const ACTIVATION: &str = include_str!("../../../shaders/activation.wgsl");

impl Module {
    /// Every module, for validation.
    pub const ALL: [Module; 9] = [
        Module::Matmul,
        Module::Elementwise,
        Module::Reduce,
        Module::Random,
        Module::Vae,
        Module::Loss,
        Module::Adam,
        Module::Data,
        Module::BatchNorm,
    ];

    /// The file name under `shaders/`.
    pub fn file_name(self) -> &'static str {
        match self {
            Module::Matmul => "matmul.wgsl",
            Module::Elementwise => "elementwise.wgsl",
            Module::Reduce => "reduce.wgsl",
            Module::Random => "random.wgsl",
            Module::Vae => "vae.wgsl",
            Module::Loss => "loss.wgsl",
            Module::Adam => "adam.wgsl",
            Module::Data => "data.wgsl",
            Module::BatchNorm => "batchnorm.wgsl",
        }
    }

    /// The complete WGSL source, as compiled.
    pub fn source(self) -> String {
        let (own, needs_activation) = match self {
            Module::Matmul => (include_str!("../../../shaders/matmul.wgsl"), true),
            Module::Elementwise => (include_str!("../../../shaders/elementwise.wgsl"), true),
            Module::Reduce => (include_str!("../../../shaders/reduce.wgsl"), false),
            Module::Random => (include_str!("../../../shaders/random.wgsl"), false),
            Module::Vae => (include_str!("../../../shaders/vae.wgsl"), false),
            Module::Loss => (include_str!("../../../shaders/loss.wgsl"), true),
            Module::Adam => (include_str!("../../../shaders/adam.wgsl"), false),
            Module::Data => (include_str!("../../../shaders/data.wgsl"), false),
            Module::BatchNorm => (include_str!("../../../shaders/batchnorm.wgsl"), true),
        };
        let activation = if needs_activation { ACTIVATION } else { "" };
        format!("{COMMON}\n{activation}\n{own}")
    }
}

/// A storage binding of a kernel: its index and whether the kernel writes it.
pub type Binding = (u32, bool);

const R: bool = false;
const W: bool = true;

/// One compute pipeline: an entry point and the storage bindings it uses, in the order the
/// host passes buffers. Binding 0 is always the dynamic-offset uniform of parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kernel {
    Matmul,
    MatmulNtVec4,
    MatmulNnVec4,
    MatmulTnVec4,
    ActForward,
    ActBackward,
    Fill,
    ColumnSum,
    AccumulateSum,
    FillUniform,
    FillNormal,
    Reparameterize,
    LatentBackward,
    KlDivergence,
    BceWithLogits,
    Adam,
    Gather,
    BatchNormForward,
    BatchNormBackward,
}

impl Kernel {
    /// Every kernel, for validation.
    pub const ALL: [Kernel; 19] = [
        Kernel::Matmul,
        Kernel::MatmulNtVec4,
        Kernel::MatmulNnVec4,
        Kernel::MatmulTnVec4,
        Kernel::ActForward,
        Kernel::ActBackward,
        Kernel::Fill,
        Kernel::ColumnSum,
        Kernel::AccumulateSum,
        Kernel::FillUniform,
        Kernel::FillNormal,
        Kernel::Reparameterize,
        Kernel::LatentBackward,
        Kernel::KlDivergence,
        Kernel::BceWithLogits,
        Kernel::Adam,
        Kernel::Gather,
        Kernel::BatchNormForward,
        Kernel::BatchNormBackward,
    ];

    /// Where the kernel is and what it binds.
    pub fn spec(self) -> KernelSpec {
        let (module, entry, bindings): (Module, &'static str, &'static [Binding]) = match self {
            Kernel::Matmul => (Module::Matmul, "matmul", &[(1, R), (2, R), (3, R), (4, W)]),
            Kernel::MatmulNtVec4 => (
                Module::Matmul,
                "matmul_nt_vec4",
                &[(5, R), (6, R), (3, R), (4, W)],
            ),
            Kernel::MatmulNnVec4 => (
                Module::Matmul,
                "matmul_nn_vec4",
                &[(5, R), (6, R), (3, R), (4, W)],
            ),
            Kernel::MatmulTnVec4 => (
                Module::Matmul,
                "matmul_tn_vec4",
                &[(5, R), (6, R), (3, R), (4, W)],
            ),
            Kernel::ActForward => (Module::Elementwise, "act_forward", &[(1, R), (3, W)]),
            Kernel::ActBackward => (
                Module::Elementwise,
                "act_backward",
                &[(1, R), (2, R), (3, W)],
            ),
            Kernel::Fill => (Module::Elementwise, "fill", &[(3, W)]),
            Kernel::ColumnSum => (Module::Reduce, "column_sum", &[(1, R), (2, W)]),
            Kernel::AccumulateSum => (Module::Reduce, "accumulate_sum", &[(1, R), (2, W)]),
            Kernel::FillUniform => (Module::Random, "fill_uniform", &[(1, W)]),
            Kernel::FillNormal => (Module::Random, "fill_normal", &[(1, W)]),
            Kernel::Reparameterize => (Module::Vae, "reparameterize", &[(1, R), (2, R), (4, W)]),
            Kernel::LatentBackward => (
                Module::Vae,
                "latent_backward",
                &[(1, R), (2, R), (3, R), (4, W)],
            ),
            Kernel::KlDivergence => (Module::Vae, "kl_divergence", &[(1, R), (4, W)]),
            Kernel::BceWithLogits => (
                Module::Loss,
                "bce_with_logits",
                &[(1, R), (2, R), (3, W), (4, W)],
            ),
            Kernel::Adam => (Module::Adam, "adam", &[(1, R), (2, W), (3, W), (4, W)]),
            Kernel::Gather => (Module::Data, "gather", &[(1, R), (2, R), (3, W)]),
            Kernel::BatchNormForward => (
                Module::BatchNorm,
                "batch_norm_forward",
                &[(1, R), (2, R), (3, W), (4, W), (8, W)],
            ),
            Kernel::BatchNormBackward => (
                Module::BatchNorm,
                "batch_norm_backward",
                &[(1, R), (2, R), (5, R), (6, R), (4, W), (7, W)],
            ),
        };
        KernelSpec {
            module,
            entry,
            bindings,
        }
    }
}

/// A kernel's WGSL module, entry point, and storage bindings in the order the host passes
/// buffers (binding 0, the parameters, is implicit).
#[derive(Clone, Copy, Debug)]
pub struct KernelSpec {
    pub module: Module,
    pub entry: &'static str,
    pub bindings: &'static [Binding],
}
