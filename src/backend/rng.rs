//! The counter-based random number generator, shared bit for bit with `shaders/random.wgsl`.
//!
//! A draw is a pure function of (seed, stream, element index): no state to carry, nothing to
//! upload per step, and the CPU and GPU backends draw identical numbers (the uniform ones bit for
//! bit, the normal ones within a few ULP on any conformant device).

use super::Contraction;

/// Chris Wellons' `lowbias32` integer hash: a cheap, well-mixed bijection of u32.
pub fn hash(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^= x >> 16;
    x
}

/// The key of one (seed, stream) pair.
pub fn key(seed: u32, stream: u32) -> u32 {
    hash(seed ^ hash(stream.wrapping_add(0x9e37_79b9)))
}

/// 32 random bits for `counter` under `key`.
pub fn bits(key: u32, counter: u32) -> u32 {
    hash(hash(counter.wrapping_add(key)) ^ key)
}

/// A uniform draw in (0, 1) from the top 23 bits: the midpoint `(k + ½)/2^23` of one of 2^23
/// equal cells, exact in f32 (at most 24 significant bits), never 0 or 1. (With 24 bits,
/// `k + ½` needs 25 and rounds: the top value became exactly 1.0.)
pub fn to_unit(bits: u32) -> f32 {
    ((bits >> 9) as f32 + 0.5) * (1.0 / 8_388_608.0)
}

/// Element `index` of the uniform stream `(seed, stream)`.
pub fn uniform(seed: u32, stream: u32, index: u32) -> f32 {
    to_unit(bits(key(seed, stream), index))
}

/// Element `index` of the standard normal stream `(seed, stream)`, by Box–Muller from the
/// uniform draws `2·index` and `2·index + 1`.
pub fn normal(seed: u32, stream: u32, index: u32) -> f32 {
    normal_rounded(seed, stream, index, Contraction::Separate)
}

/// [`normal`], with the cosine's polynomial rounded as `fma` says (the CPU backend's modes).
pub fn normal_rounded(seed: u32, stream: u32, index: u32, fma: Contraction) -> f32 {
    let k = key(seed, stream);
    let u1 = to_unit(bits(k, index.wrapping_mul(2)));
    let u2 = to_unit(bits(k, index.wrapping_mul(2).wrapping_add(1)));
    (-2.0 * u1.ln()).sqrt() * cos_turns(u2, fma)
}

/// cos x = Σ (−1)^k x^2k / (2k)!, in x², highest power first (as random.wgsl's `cos_turns`).
pub const COS_TAYLOR: [f32; 6] = [
    -1.0 / 3_628_800.0,
    1.0 / 40_320.0,
    -1.0 / 720.0,
    1.0 / 24.0,
    -0.5,
    1.0,
];
/// sin x / x = Σ (−1)^k x^2k / (2k + 1)!, in x², highest power first.
pub const SIN_TAYLOR: [f32; 5] = [1.0 / 362_880.0, -1.0 / 5040.0, 1.0 / 120.0, -1.0 / 6.0, 1.0];

/// `cos(2π·u)` for `u` in (0, 1), from additions and multiplications alone, as `cos_turns` in
/// `shaders/random.wgsl`. WGSL bounds a device's `cos` only on [−π, π], and loosely there
/// (2^-11 absolute); this is within a few ULP on any device. The angle is reduced exactly to
/// `x = (π/2)·f` with `f` in [−½, ½] around the nearest quarter turn `n`, where Taylor
/// polynomials of sin and cos (to x⁹ and x¹⁰; the next terms are below 2^-28) are accurate.
pub fn cos_turns(u: f32, fma: Contraction) -> f32 {
    // u = (k + ½)/2^23, so 4u, its nearest integer and their difference are all exact.
    let quarters = 4.0 * u;
    let n = (quarters + 0.5).floor();
    let x = (quarters - n) * std::f32::consts::FRAC_PI_2;
    let x2 = x * x;
    let horner = |coefficients: &[f32]| {
        coefficients
            .iter()
            .fold(0.0, |acc, &c| fma.mul_add(acc, x2, c))
    };
    let (cos, sin) = (horner(&COS_TAYLOR), x * horner(&SIN_TAYLOR));
    match n as u32 % 4 {
        0 => cos,
        1 => -sin,
        2 => -cos,
        _ => sin,
    }
}

/// The first `n` elements of the standard normal stream `(seed, stream)`, on the host: latents
/// that are the same whatever the batch size they are later cut into.
pub fn normals(seed: u32, stream: u32, n: usize) -> Vec<f32> {
    (0..n).map(|i| normal(seed, stream, i as u32)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_matches_reference_values() {
        // Computed independently (Python, arbitrary-precision integers masked to 32 bits).
        assert_eq!(hash(0), 0);
        assert_eq!(hash(1), 0x6889_90c0);
        assert_eq!(hash(0xdead_beef), 0xe628_c683);
    }

    #[test]
    fn cosine_of_turns_is_within_a_few_ulp() {
        for k in (0..1u32 << 23).step_by(97) {
            let u = (k as f32 + 0.5) / 8_388_608.0;
            let exact = (std::f64::consts::TAU * f64::from(u)).cos();
            for fma in [Contraction::Separate, Contraction::Fused] {
                let err = (f64::from(cos_turns(u, fma)) - exact).abs();
                assert!(err < 4.0 * f64::from(f32::EPSILON), "u {u}: error {err:e}");
            }
        }
    }

    #[test]
    fn unit_interval_is_open() {
        assert_eq!(to_unit(0), 0.5 / 8_388_608.0);
        assert!(to_unit(u32::MAX) < 1.0);
        assert_eq!(to_unit(u32::MAX), 1.0 - 0.5 / 8_388_608.0);
    }
}
