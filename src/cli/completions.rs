//! `weir completions SHELL` and `weir man [--out DIR]`: shell completions
//! and man pages generated from the clap declaration of every subcommand and
//! flag, so they never drift from `--help`.
use super::Cli;
use anyhow::Context;
use clap::{Args, CommandFactory};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for: bash, zsh, fish, elvish or powershell.
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write one page per command into DIR (weir.1, weir-enqueue.1,
    /// weir-limit-set.1, ...) instead of printing weir.1 to stdout.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// Prints the completion script of `a.shell` to stdout.
pub fn completions(a: CompletionsArgs) -> anyhow::Result<ExitCode> {
    let mut cmd = Cli::command();
    let mut out = std::io::stdout().lock();
    clap_complete::generate(a.shell, &mut cmd, "weir", &mut out);
    out.flush().context("cannot write the completions")?;
    Ok(ExitCode::SUCCESS)
}

/// Prints weir.1, or writes every command's page into `--out`.
pub fn man(a: ManArgs) -> anyhow::Result<ExitCode> {
    let cmd = Cli::command();
    match a.out {
        Some(dir) => {
            std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
            clap_mangen::generate_to(cmd, &dir)
                .with_context(|| format!("cannot write man pages into {}", dir.display()))?;
            let mut pages: Vec<String> = std::fs::read_dir(&dir)
                .with_context(|| format!("cannot read {}", dir.display()))?
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.starts_with("weir") && n.ends_with(".1"))
                .collect();
            pages.sort();
            println!("wrote {} man pages into {}: {}", pages.len(), dir.display(), pages.join(" "));
        }
        None => {
            let mut out = std::io::stdout().lock();
            clap_mangen::Man::new(cmd).render(&mut out).context("cannot write the man page")?;
            out.flush().context("cannot write the man page")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
