//! The counter-based random number generator, shared bit for bit with `shaders/random.wgsl`.
//!
//! A draw is a pure function of (seed, stream, element index): no state to carry, nothing to
//! upload per step, and the CPU and GPU backends draw identical numbers.

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
    let k = key(seed, stream);
    let u1 = to_unit(bits(k, index.wrapping_mul(2)));
    let u2 = to_unit(bits(k, index.wrapping_mul(2).wrapping_add(1)));
    (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
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
    fn unit_interval_is_open() {
        assert_eq!(to_unit(0), 0.5 / 8_388_608.0);
        assert!(to_unit(u32::MAX) < 1.0);
        assert_eq!(to_unit(u32::MAX), 1.0 - 0.5 / 8_388_608.0);
    }
}
