//! The mean and covariance of feature vectors, in f64: what the Fréchet distance compares.

use nalgebra::{DMatrix, DVector};

/// The first two moments of a set of feature vectors.
#[derive(Clone, Debug)]
pub struct FeatureStats {
    /// Feature vectors summarized.
    pub n: usize,
    pub mean: DVector<f64>,
    /// The unbiased covariance (divided by n − 1), `d × d`.
    pub covariance: DMatrix<f64>,
}

impl FeatureStats {
    /// The statistics of `n` feature vectors of `d` values each, row after row in `features`
    /// (`n ≥ 2`). Centred before the product, so that no precision is lost to cancellation.
    pub fn of(features: &[f32], d: usize) -> FeatureStats {
        let n = features.len() / d;
        let mut x = DMatrix::from_row_iterator(n, d, features.iter().map(|&v| f64::from(v)));
        let mean: DVector<f64> = x.row_mean().transpose();
        for mut row in x.row_iter_mut() {
            row -= mean.transpose();
        }
        let covariance = x.tr_mul(&x) / (n.max(2) - 1) as f64;
        FeatureStats {
            n,
            mean,
            covariance,
        }
    }
}
