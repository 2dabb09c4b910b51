//! Adam over a whole [`ParamStore`]: one dispatch per step.

use crate::backend::{AdamHyper, Backend, Result};
use crate::nn::ParamStore;

/// Adam's configuration and its step count (the moments live in the store).
#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
pub struct Adam {
    pub hyper: AdamHyper,
}

impl Adam {
    /// Adam with PyTorch's defaults and the given learning rate and betas.
    pub fn new(lr: f32, beta1: f32, beta2: f32) -> Self {
        let mut hyper = AdamHyper::new(lr);
        hyper.beta1 = beta1;
        hyper.beta2 = beta2;
        hyper.step = 0;
        Adam { hyper }
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u32 {
        self.hyper.step
    }

    /// Applies the gradients in `store.grads`.
    pub fn step(&mut self, backend: &mut dyn Backend, store: &ParamStore) -> Result<()> {
        self.hyper.step += 1;
        backend.adam(&self.hyper, &store.params, &store.grads, &store.m, &store.v)
    }
}
