//! The `weir` operator binary. Each subcommand lives in `cli/<name>.rs`;
//! docs/CLI.md documents them all.
mod cli;

use clap::Parser;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let args = cli::Cli::parse();
    cli::end_quietly_at_a_closed_pipe(&args);
    let traces = cli::init_tracing(args.default_log_level(), args.log_format);
    let code = match cli::run(args).await {
        Ok(code) => code,
        Err(e) => {
            // One clear line (with its causes), never a panic or a backtrace.
            eprintln!("weir: {e:#}");
            ExitCode::from(1)
        }
    };
    // Spans buffered by the exporter (feature `otel`) go out before exit.
    cli::flush_traces(traces).await;
    code
}
