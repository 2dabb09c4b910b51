//! Whether the CPU reference rounds a product before adding it, as llvmpipe does, or fuses the
//! two into one rounding (`f32::mul_add`), as WGSL lets a GPU do with any `a * b + c` (SPIR-V
//! without NoContraction, HLSL's `mad`, Metal's fast math). The parity tests run the reference
//! both ways and hold the two to each test's tolerance: the proof that it covers either device.

/// How `a * b + c` is evaluated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Contraction {
    /// Two roundings: the product, then the sum.
    #[default]
    Separate,
    /// One rounding, as a fused multiply-add.
    Fused,
}

impl Contraction {
    /// `a · b + c`, rounded as this mode says.
    #[inline(always)]
    pub fn mul_add(self, a: f32, b: f32, c: f32) -> f32 {
        match self {
            Contraction::Separate => a * b + c,
            Contraction::Fused => a.mul_add(b, c),
        }
    }
}
