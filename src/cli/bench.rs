//! `gengpu bench`: matmul throughput and whole training steps, with per-step counts.

use anyhow::{Result, bail};

use super::args::BackendArgs;
use super::open_backend;

pub fn run(choice: &BackendArgs, steps: usize, reps: usize, json: bool) -> Result<()> {
    if steps == 0 || reps == 0 {
        bail!("--steps and --reps must be at least 1");
    }
    let mut backend = open_backend(choice)?;
    let mut results = gengpu::bench::matmuls(backend.as_mut(), reps)?;
    results.push(gengpu::bench::vae_steps(backend.as_mut(), steps)?);
    results.push(gengpu::bench::gan_steps(backend.as_mut(), steps)?);
    for m in &results {
        if json {
            println!("{}", serde_json::to_string(m)?);
            continue;
        }
        let extra = match (m.gflops, &m.per_step) {
            (Some(gflops), _) => format!("{gflops:8.2} GFLOP/s"),
            (None, Some(c)) => format!(
                "{} dispatches, {} submits, {} B up, {} B down per step",
                c.dispatches, c.submits, c.bytes_uploaded, c.bytes_read
            ),
            (None, None) => String::new(),
        };
        println!("{:<34} {:9.3} ms   {extra}", m.name, m.ms);
    }
    Ok(())
}
