//! A model's state as named tensors: what it saves and what it restores from. Nothing here
//! knows a file format; `crate::checkpoint` writes and reads these as safetensors.

use std::collections::HashMap;

use thiserror::Error;

use super::params::{ParamLayout, ParamStore};
use crate::backend::{self, Backend};

/// A state that does not fit the model it is loaded into.
#[derive(Debug, Error)]
pub enum StateError {
    #[error("tensor {name} is missing")]
    Missing { name: String },
    #[error("tensor {name} has shape {found:?}, expected {expected:?}")]
    Shape {
        name: String,
        found: Vec<usize>,
        expected: Vec<usize>,
    },
}

/// One saved tensor: its PyTorch-style name, its shape and its values (row-major).
#[derive(Clone, Debug, PartialEq)]
pub struct NamedTensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

/// Named tensors, in the order they were added.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct State {
    tensors: Vec<NamedTensor>,
    index: HashMap<String, usize>,
}

impl State {
    /// Adds a tensor (a later one of the same name replaces it).
    pub fn push(&mut self, tensor: NamedTensor) {
        match self.index.get(&tensor.name) {
            Some(&i) => self.tensors[i] = tensor,
            None => {
                self.index.insert(tensor.name.clone(), self.tensors.len());
                self.tensors.push(tensor);
            }
        }
    }

    /// Adds every entry of `layout` from the flat `values`, named `{prefix}{entry name}`.
    pub fn push_layout(&mut self, layout: &ParamLayout, prefix: &str, values: &[f32]) {
        for e in layout.entries() {
            self.push(NamedTensor {
                name: format!("{prefix}{}", e.name),
                shape: e.shape(),
                values: values[e.offset..e.offset + e.len()].to_vec(),
            });
        }
    }

    /// The flat values of `layout`'s entries, named `{prefix}{entry name}`, checked name by
    /// name and shape by shape.
    pub fn layout_values(
        &self,
        layout: &ParamLayout,
        prefix: &str,
    ) -> Result<Vec<f32>, StateError> {
        let mut values = vec![0.0; layout.len()];
        for e in layout.entries() {
            let name = format!("{prefix}{}", e.name);
            let tensor = self
                .get(&name)
                .ok_or_else(|| StateError::Missing { name: name.clone() })?;
            if tensor.shape != e.shape() {
                return Err(StateError::Shape {
                    name,
                    found: tensor.shape.clone(),
                    expected: e.shape(),
                });
            }
            values[e.offset..e.offset + e.len()].copy_from_slice(&tensor.values);
        }
        Ok(values)
    }

    /// The tensor called `name`.
    pub fn get(&self, name: &str) -> Option<&NamedTensor> {
        self.index.get(name).map(|&i| &self.tensors[i])
    }

    /// Every tensor, in the order added.
    pub fn tensors(&self) -> &[NamedTensor] {
        &self.tensors
    }

    /// Adds every tensor of `other`.
    pub fn extend(&mut self, other: State) {
        for t in other.tensors {
            self.push(t);
        }
    }
}

impl FromIterator<NamedTensor> for State {
    fn from_iter<I: IntoIterator<Item = NamedTensor>>(iter: I) -> Self {
        let mut state = State::default();
        for t in iter {
            state.push(t);
        }
        state
    }
}

/// What can stop a model from taking a state.
#[derive(Debug, Error)]
pub enum LoadError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Backend(#[from] crate::backend::BackendError),
}

/// What the names of every optimizer tensor of a checkpoint begin with.
pub const MOMENT_PREFIX: &str = "optim.";
/// Names under which Adam's first and second moments of a parameter are saved.
const MOMENT_PREFIXES: [&str; 2] = ["optim.m.", "optim.v."];

impl ParamStore {
    /// The parameters under their own names and Adam's moments under `optim.m.` / `optim.v.`.
    pub fn state(&self, backend: &mut dyn Backend) -> backend::Result<State> {
        let mut state = State::default();
        state.push_layout(&self.layout, "", &backend.read(&self.params)?);
        for (prefix, buffer) in MOMENT_PREFIXES.iter().zip([&self.m, &self.v]) {
            state.push_layout(&self.layout, prefix, &backend.read(buffer)?);
        }
        Ok(state)
    }

    /// Restores what [`ParamStore::state`] saved; nothing is uploaded unless all of it fits.
    pub fn load_state(
        &self,
        backend: &mut dyn Backend,
        state: &State,
    ) -> std::result::Result<(), LoadError> {
        let params = state.layout_values(&self.layout, "")?;
        let m = state.layout_values(&self.layout, MOMENT_PREFIXES[0])?;
        let v = state.layout_values(&self.layout, MOMENT_PREFIXES[1])?;
        backend.upload(&self.params, &params)?;
        backend.upload(&self.m, &m)?;
        backend.upload(&self.v, &v)?;
        Ok(())
    }

    /// Restores the parameters of `state` alone, for a model that is only run (Adam's moments
    /// need not be there).
    pub fn load_weights(
        &self,
        backend: &mut dyn Backend,
        state: &State,
    ) -> std::result::Result<(), LoadError> {
        let params = state.layout_values(&self.layout, "")?;
        backend.upload(&self.params, &params)?;
        Ok(())
    }

    /// The parameters alone under their own names: what a model that is only run needs.
    pub fn weights(&self, backend: &mut dyn Backend) -> backend::Result<State> {
        let mut state = State::default();
        state.push_layout(&self.layout, "", &backend.read(&self.params)?);
        Ok(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout() -> ParamLayout {
        let mut layout = ParamLayout::default();
        layout.add("fc.weight", 2, 3);
        layout.add_vector("fc.bias", 2);
        layout
    }

    #[test]
    fn a_layout_round_trips_by_name() {
        let values: Vec<f32> = (0..8).map(|i| i as f32).collect();
        let mut state = State::default();
        state.push_layout(&layout(), "optim.m.", &values);
        assert_eq!(
            state.get("optim.m.fc.bias").map(|t| t.shape.clone()),
            Some(vec![2])
        );
        assert_eq!(state.layout_values(&layout(), "optim.m.").unwrap(), values);
    }

    #[test]
    fn missing_and_misshapen_tensors_are_named() {
        let mut state = State::default();
        state.push_layout(&layout(), "", &[0.0; 8]);
        let missing = state.layout_values(&layout(), "optim.v.").unwrap_err();
        assert!(
            missing.to_string().contains("optim.v.fc.weight"),
            "{missing}"
        );
        let mut other = ParamLayout::default();
        other.add("fc.weight", 3, 2);
        let shape = state.layout_values(&other, "").unwrap_err();
        assert!(shape.to_string().contains("[2, 3]"), "{shape}");
    }
}
