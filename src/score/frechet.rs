//! The Fréchet distance between two Gaussians fitted to feature vectors (the FID's formula,
//! here on the scoring classifier's features):
//! `‖μ₁ − μ₂‖² + tr(Σ₁ + Σ₂ − 2·(Σ₁^½ Σ₂ Σ₁^½)^½)`.

use nalgebra::{DMatrix, SymmetricEigen};

use super::FeatureStats;

/// The Fréchet distance between the Gaussians of `a` and `b` (of one feature width).
///
/// `tr((Σ₁Σ₂)^½)` is computed as `tr((Σ₁^½ Σ₂ Σ₁^½)^½)`, a symmetric positive semi-definite
/// matrix's, from eigenvalues alone: no general matrix square root, and no complex parts that
/// a nearly singular covariance gives `scipy.linalg.sqrtm`. Eigenvalues that rounding makes
/// slightly negative count as 0.
pub fn frechet_distance(a: &FeatureStats, b: &FeatureStats) -> f64 {
    let mean_term = (&a.mean - &b.mean).norm_squared();
    let root_a = psd_sqrt(&a.covariance);
    let product = &root_a * &b.covariance * &root_a;
    let symmetric = (&product + product.transpose()) * 0.5;
    let cross: f64 = SymmetricEigen::new(symmetric)
        .eigenvalues
        .iter()
        .map(|&l| l.max(0.0).sqrt())
        .sum();
    (mean_term + a.covariance.trace() + b.covariance.trace() - 2.0 * cross).max(0.0)
}

/// The square root of a symmetric positive semi-definite matrix, by its eigenvectors.
fn psd_sqrt(m: &DMatrix<f64>) -> DMatrix<f64> {
    let eigen = SymmetricEigen::new((m + m.transpose()) * 0.5);
    let roots = eigen.eigenvalues.map(|l| l.max(0.0).sqrt());
    &eigen.eigenvectors * DMatrix::from_diagonal(&roots) * eigen.eigenvectors.transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::DVector;

    fn stats(mean: &[f64], covariance: DMatrix<f64>) -> FeatureStats {
        FeatureStats {
            n: 100,
            mean: DVector::from_row_slice(mean),
            covariance,
        }
    }

    /// Against closed forms: for equal covariances the distance is the squared mean shift;
    /// for diagonal ones it is Σ (μ₁ − μ₂)² + (σ₁ − σ₂)².
    #[test]
    fn matches_closed_forms() {
        let sigma = DMatrix::from_row_slice(2, 2, &[2.0, 0.5, 0.5, 1.0]);
        let a = stats(&[0.0, 0.0], sigma.clone());
        let b = stats(&[3.0, -4.0], sigma);
        assert!((frechet_distance(&a, &b) - 25.0).abs() < 1e-9);
        assert!(frechet_distance(&a, &a).abs() < 1e-9);
        let c = stats(
            &[1.0, 2.0],
            DMatrix::from_diagonal(&DVector::from_row_slice(&[4.0, 9.0])),
        );
        let d = stats(
            &[0.0, 0.0],
            DMatrix::from_diagonal(&DVector::from_row_slice(&[1.0, 1.0])),
        );
        // (1 + 4) + ((2 − 1)² + (3 − 1)²) = 10.
        assert!((frechet_distance(&c, &d) - 10.0).abs() < 1e-9);
    }

    /// A singular covariance (features that never vary) still gives a finite distance.
    #[test]
    fn singular_covariances_are_fine() {
        let zero = stats(&[1.0, 1.0], DMatrix::zeros(2, 2));
        let other = stats(&[1.0, 1.0], DMatrix::identity(2, 2));
        assert!((frechet_distance(&zero, &other) - 2.0).abs() < 1e-9);
    }
}
