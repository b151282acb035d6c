//! A reader that stops early (`weir dead list | head`): the commands that
//! print an answer and exit end quietly with exit code 0, as ripgrep does,
//! instead of `println!` panicking on the closed pipe with a backtrace.
//!
//! Rust ignores SIGPIPE, so a write to a closed pipe fails with EPIPE and
//! `println!` panics; for these commands a panic hook turns that one panic
//! into the end of the process (what is left to print has no reader). The
//! commands that run until stopped keep the panic: a worker, the relay, the
//! dashboard must finish and drain their jobs whatever became of whoever read
//! their output.
use super::{Cli, Command};
use std::any::Any;

impl Cli {
    /// Whether this command prints its answer and exits.
    fn prints_and_exits(&self) -> bool {
        match self.command {
            Command::Work(_)
            | Command::Relay(_)
            | Command::Exporter(_)
            | Command::Autoscale(_)
            | Command::Scheduler
            | Command::Demo(_)
            | Command::Bench(_) => false,
            #[cfg(feature = "web")]
            Command::Web(_) => false,
            _ => true,
        }
    }
}

/// For the commands that print and exit: a write to a closed stdout (or
/// stderr) ends the process with exit code 0; any other panic is reported as
/// before.
pub fn end_quietly_at_a_closed_pipe(cli: &Cli) {
    if !cli.prints_and_exits() {
        return;
    }
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if is_closed_pipe(info.payload()) {
            std::process::exit(0);
        }
        report(info);
    }));
}

/// Whether a panic is std's "failed printing to stdout: Broken pipe".
fn is_closed_pipe(payload: &dyn Any) -> bool {
    let text = match payload.downcast_ref::<String>() {
        Some(s) => s.as_str(),
        None => payload.downcast_ref::<&str>().copied().unwrap_or(""),
    };
    text.starts_with("failed printing to std") && text.contains("Broken pipe")
}
