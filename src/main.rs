//! The `gengpu` command line; everything it does is in [`cli`].

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::Cli::parse_args();
    if std::env::var_os("NODEVICE_SELECT").is_none() {
        // Mesa's implicit device-select layer complains about a missing display on headless
        // machines; gengpu picks its adapter itself, so the layer has nothing to add.
        // SAFETY: no other thread exists yet.
        unsafe { std::env::set_var("NODEVICE_SELECT", "1") };
    }
    match cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader of standard output stopped early (`| head`): nothing went wrong here.
        Err(e) if cli::is_broken_pipe(&e) => ExitCode::SUCCESS,
        // Stopped by a signal, checkpoint written and said: 128 + the signal, as shells do.
        Err(e) if e.downcast_ref::<cli::Stopped>().is_some() => {
            let signal = e.downcast_ref::<cli::Stopped>().map_or(0, |s| s.signal);
            ExitCode::from(128u8.saturating_add(signal as u8))
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
