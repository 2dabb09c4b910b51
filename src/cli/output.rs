//! Standard output carries only what a command was asked for (its table, or one JSON
//! document); choices, progress and warnings go to standard error. Writing goes through
//! [`outln!`], which returns the write's error instead of panicking as `println!` does, so that
//! a reader that stops early (`gengpu info | head -1`) ends the program quietly.

/// `println!` that propagates a failed write with `?`.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)?;
    }};
}

/// Whether `error` is a write to a pipe its reader has closed: not a failure of gengpu's.
pub fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
