//! `GENGPU_INJECT_FAULT=lost@N` or `oom@N`: at its Nth submit the device reports a lost device
//! or an out-of-memory error, through the same error slot wgpu's callbacks fill. No software
//! device loses itself or runs out of memory on demand, and a run must survive both: the tests
//! prove it with this (`tests/resume.rs`).

use crate::backend::{BackendError, Result};

/// The environment variable that injects a fault.
pub const INJECT_FAULT_VARIABLE: &str = "GENGPU_INJECT_FAULT";

/// A fault the device reports at a given submit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct InjectedFault {
    /// The submit (counted from 1 since the device opened) that reports it.
    pub(crate) at_submit: u64,
    kind: FaultKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FaultKind {
    DeviceLost,
    OutOfMemory,
}

impl InjectedFault {
    /// The fault `GENGPU_INJECT_FAULT` asks for, if any.
    pub(crate) fn from_env() -> Result<Option<Self>> {
        match std::env::var(INJECT_FAULT_VARIABLE) {
            Ok(value) if !value.is_empty() => {
                Self::parse(&value)
                    .map(Some)
                    .ok_or(BackendError::Environment {
                        variable: INJECT_FAULT_VARIABLE,
                        value,
                        expected: "`lost@N` or `oom@N` (N ≥ 1, the submit that reports it)",
                    })
            }
            _ => Ok(None),
        }
    }

    fn parse(value: &str) -> Option<Self> {
        let (kind, at) = value.split_once('@')?;
        let kind = match kind {
            "lost" => FaultKind::DeviceLost,
            "oom" => FaultKind::OutOfMemory,
            _ => return None,
        };
        let at_submit = at.parse().ok().filter(|&n| n > 0)?;
        Some(InjectedFault { at_submit, kind })
    }

    /// The error the device reports, as its callbacks would.
    pub(crate) fn error(&self) -> BackendError {
        let what = format!(
            "injected by {INJECT_FAULT_VARIABLE} at submit {}",
            self.at_submit
        );
        match self.kind {
            FaultKind::DeviceLost => BackendError::DeviceLost(what),
            FaultKind::OutOfMemory => BackendError::OutOfMemory(what),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_kinds_and_refuses_the_rest() {
        let lost = InjectedFault::parse("lost@3").expect("lost");
        assert_eq!(lost.at_submit, 3);
        assert!(matches!(lost.error(), BackendError::DeviceLost(_)));
        let oom = InjectedFault::parse("oom@12").expect("oom");
        assert!(matches!(oom.error(), BackendError::OutOfMemory(_)));
        for bad in ["lost", "lost@0", "lost@x", "fire@2", "@2", "oom@-1"] {
            assert_eq!(InjectedFault::parse(bad), None, "{bad}");
        }
    }
}
