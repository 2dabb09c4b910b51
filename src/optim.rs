//! Adam (and AdamW): its settings and its step over a whole [`ParamStore`] in one dispatch.
//! The moments live in the store; the kernel takes [`AdamStep`].

use thiserror::Error;

use crate::backend::{AdamStep, Backend, Result};
use crate::nn::ParamStore;

/// Settings no optimizer can use.
#[derive(Debug, Error)]
#[error("{0}")]
pub struct InvalidSettings(pub String);

/// Adam's hyper-parameters. Adam keeps no other state: its moments live in the
/// [`ParamStore`] and its step number is the training step's.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Adam {
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    /// Decoupled weight decay (AdamW); 0 for plain Adam.
    pub weight_decay: f32,
    /// How the learning rate changes over the run's epochs.
    #[serde(default)]
    pub schedule: Schedule,
}

/// How the learning rate changes from epoch to epoch. It changes only between epochs, so a
/// GPU step's parameters stay as they were within one (nothing is uploaded per step).
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Schedule {
    /// The same rate throughout.
    #[default]
    Constant,
    /// Decayed along half a cosine, from the full rate in the first epoch towards 0 in the
    /// last: the weights settle at the end of the run.
    Cosine,
}

impl Adam {
    /// PyTorch's defaults (β 0.9, 0.999, eps 1e-8, no weight decay) with the given learning rate.
    pub fn pytorch(lr: f32) -> Self {
        Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            schedule: Schedule::Constant,
        }
    }

    /// These settings with the learning rate of epoch `epoch` (from 1) of `epochs`.
    pub fn in_epoch(&self, epoch: usize, epochs: usize) -> Adam {
        let lr = match self.schedule {
            Schedule::Constant => self.lr,
            Schedule::Cosine => {
                let done = epoch.saturating_sub(1).min(epochs) as f64 / epochs.max(1) as f64;
                (f64::from(self.lr) * 0.5 * (1.0 + (std::f64::consts::PI * done).cos())) as f32
            }
        };
        Adam { lr, ..*self }
    }

    /// Refuses values Adam cannot use.
    pub fn validate(&self) -> std::result::Result<(), InvalidSettings> {
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return Err(InvalidSettings("--lr must be a positive number".into()));
        }
        if !(0.0..1.0).contains(&self.beta1) || !(0.0..1.0).contains(&self.beta2) {
            return Err(InvalidSettings(
                "--beta1 and --beta2 must be in [0, 1)".into(),
            ));
        }
        Ok(())
    }

    /// The kernel's coefficients at step `step` (from 1): the bias corrections in f64, like
    /// PyTorch's scalar math.
    pub fn at_step(&self, step: u32) -> AdamStep {
        let t = f64::from(step.max(1));
        let bc1 = 1.0 - f64::from(self.beta1).powf(t);
        let bc2 = 1.0 - f64::from(self.beta2).powf(t);
        AdamStep {
            beta1: self.beta1,
            beta2: self.beta2,
            eps: self.eps,
            step_size: (f64::from(self.lr) / bc1) as f32,
            inv_sqrt_bc2: (1.0 / bc2.sqrt()) as f32,
            decay: 1.0 - self.lr * self.weight_decay,
            lr: self.lr,
            t: step.max(1),
        }
    }

    /// Applies the gradients in `store.grads` as step `t` (from 1).
    pub fn step(&self, backend: &mut dyn Backend, store: &ParamStore, t: u32) -> Result<()> {
        backend.adam(
            &self.at_step(t),
            &store.params,
            &store.grads,
            &store.m,
            &store.v,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cosine_schedule_starts_at_the_rate_and_decays_towards_zero() {
        let adam = Adam {
            schedule: Schedule::Cosine,
            ..Adam::pytorch(1e-3)
        };
        let rates: Vec<f32> = (1..=10).map(|e| adam.in_epoch(e, 10).lr).collect();
        assert_eq!(rates[0], 1e-3);
        assert!((rates[5] - 0.5e-3).abs() < 1e-9, "{rates:?}");
        assert!(rates.windows(2).all(|w| w[1] < w[0]) && rates[9] < 0.03e-3);
        let constant = Adam::pytorch(1e-3);
        assert!((1..=10).all(|e| constant.in_epoch(e, 10) == constant));
    }
}
