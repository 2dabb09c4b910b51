//! The `gengpu` command line; everything it does is in [`cli`].

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
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
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
