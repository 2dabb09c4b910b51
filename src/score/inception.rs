//! The classifier-based Inception Score and the class histogram of a set of images.

/// The class probabilities of one image's logits (a softmax in f64).
pub fn probabilities(logits: &[f32]) -> Vec<f64> {
    let top = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f64> = logits.iter().map(|&x| f64::from(x - top).exp()).collect();
    let total: f64 = e.iter().sum();
    e.into_iter().map(|v| v / total).collect()
}

/// `exp(E_x KL(p(y|x) ‖ p(y)))` over images whose class probabilities are `rows` (`classes`
/// each): near the number of classes for confident predictions spread evenly over the classes,
/// 1 for images that all look alike or that the classifier cannot tell apart.
pub fn inception_score(rows: &[Vec<f64>], classes: usize) -> f64 {
    let n = rows.len() as f64;
    let mut marginal = vec![0.0; classes];
    for row in rows {
        for (m, &p) in marginal.iter_mut().zip(row) {
            *m += p / n;
        }
    }
    let mean_kl: f64 = rows
        .iter()
        .map(|row| {
            row.iter()
                .zip(&marginal)
                .filter(|&(&p, _)| p > 0.0)
                .map(|(&p, &m)| p * (p.ln() - m.ln()))
                .sum::<f64>()
        })
        .sum::<f64>()
        / n;
    mean_kl.exp()
}

/// How many images the classifier assigns to each class.
pub fn histogram(predictions: &[usize], classes: usize) -> Vec<usize> {
    let mut counts = vec![0; classes];
    for &p in predictions {
        counts[p.min(classes - 1)] += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confident_and_even_scores_the_class_count_and_one_class_scores_one() {
        let one_hot = |c: usize| (0..10).map(|i| if i == c { 1.0 } else { 0.0 }).collect();
        let even: Vec<Vec<f64>> = (0..1000).map(|i| one_hot(i % 10)).collect();
        assert!((inception_score(&even, 10) - 10.0).abs() < 1e-9);
        let same: Vec<Vec<f64>> = (0..1000).map(|_| one_hot(3)).collect();
        assert!((inception_score(&same, 10) - 1.0).abs() < 1e-9);
        let unsure: Vec<Vec<f64>> = (0..10).map(|_| vec![0.1; 10]).collect();
        assert!((inception_score(&unsure, 10) - 1.0).abs() < 1e-9);
        assert_eq!(histogram(&[0, 3, 3, 9], 10), [1, 0, 0, 2, 0, 0, 0, 0, 0, 1]);
    }

    #[test]
    fn probabilities_never_overflow() {
        let p = probabilities(&[1000.0, 0.0, -1000.0]);
        assert!((p[0] - 1.0).abs() < 1e-12 && p[2] == 0.0);
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }
}
