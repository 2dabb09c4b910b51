//! Which vector instructions this CPU has, asked once: the hottest reference loops are compiled
//! a second time for AVX2 and FMA and run that way where the CPU has them. They use only IEEE
//! operations (no contraction unless the backend's `Contraction` says so), so both builds give
//! the same bits; only the width of the instructions changes.

/// Whether the CPU has AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
pub(super) fn has_avx2_fma() -> bool {
    static HAS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *HAS.get_or_init(|| {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    })
}
