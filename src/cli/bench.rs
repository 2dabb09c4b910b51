//! `gengpu bench`: the device's peak, matmuls and whole training steps as shares of it, with
//! per-step counts. With `--json`, standard output holds exactly one JSON object; status lines
//! go to standard error either way.

use anyhow::{Result, bail};

use gengpu::bench::Report;

use super::args::BackendArgs;
use super::open_backend;

pub fn run(choice: &BackendArgs, steps: usize, reps: usize, json: bool) -> Result<()> {
    if steps == 0 || reps == 0 {
        bail!("--steps and --reps must be at least 1");
    }
    let mut backend = open_backend(choice)?;
    let report = gengpu::bench::run(backend.as_mut(), steps, reps, &mut |status| {
        eprintln!("bench: {status}");
    })?;
    if json {
        outln!("{}", serde_json::to_string(&report)?);
    } else {
        print_table(&report)?;
    }
    Ok(())
}

fn print_table(r: &Report) -> Result<()> {
    outln!("device: {} ({})", r.device, r.backend);
    outln!("peak:   {:.1} GFLOP/s — {}", r.peak_gflops, r.peak);
    outln!("timing: {}, medians after a warm-up", r.timing);
    outln!();
    outln!(
        "{:<12} {:>4} {:>5} {:>5} {:>4}  {:>9} {:>9} {:>7}  variant",
        "matmul",
        "m",
        "n",
        "k",
        "form",
        "ms",
        "GFLOP/s",
        "% peak"
    );
    for m in &r.matmul {
        outln!(
            "{:<12} {:>4} {:>5} {:>5} {:>4}  {:>9.3} {:>9.2} {:>6.1}%  {}",
            m.name,
            m.m,
            m.n,
            m.k,
            m.form,
            m.ms,
            m.gflops,
            m.percent_of_peak,
            m.variant
        );
    }
    outln!();
    outln!(
        "{:<6} {:>5} {:>9} {:>6} {:>7}  per step: dispatches+advance, submits, host waits, B up, B down",
        "step",
        "batch",
        "ms",
        "GFLOP",
        "% peak"
    );
    for s in &r.steps {
        outln!(
            "{:<6} {:>5} {:>9.3} {:>6.3} {:>6.1}%  {}+{}, {}, {}, {}, {}",
            s.model,
            s.batch,
            s.ms,
            s.gflop,
            s.percent_of_peak,
            s.dispatches,
            s.param_advances,
            s.submits,
            s.host_waits,
            s.bytes_uploaded,
            s.bytes_read
        );
    }
    Ok(())
}
