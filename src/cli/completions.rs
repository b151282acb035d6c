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
    // Generated into memory first: clap_complete panics when its writer
    // fails, and stdout fails as soon as a reader such as `head` has quit.
    let mut script = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, "weir", &mut script);
    print_all(&script).context("cannot write the completions")?;
    Ok(ExitCode::SUCCESS)
}

/// Prints weir.1, or writes every command's page into `--out`.
pub fn man(a: ManArgs) -> anyhow::Result<ExitCode> {
    let cmd = Cli::command();
    match a.out {
        Some(dir) => {
            std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
            let mut cmd = cmd.disable_help_subcommand(true);
            cmd.build();
            let mut pages = Vec::new();
            write_pages(cmd, &dir, &mut pages)
                .with_context(|| format!("cannot write man pages into {}", dir.display()))?;
            println!("wrote {} man pages into {}: {}", pages.len(), dir.display(), pages.join(" "));
        }
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(cmd).render(&mut page).context("cannot render the man page")?;
            print_all(&page).context("cannot write the man page")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes the page of `cmd` and of each of its visible subcommands, nested
/// ones included (as `clap_mangen::generate_to` does), recording each file
/// name in `pages`.
fn write_pages(cmd: clap::Command, dir: &std::path::Path, pages: &mut Vec<String>) -> std::io::Result<()> {
    let path = clap_mangen::Man::new(cmd.clone()).generate_to(dir)?;
    pages.push(path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()).cloned() {
        write_pages(sub, dir, pages)?;
    }
    Ok(())
}

/// Writes `bytes` to stdout. A reader that stopped early (`| head`) is not an
/// error: what it wanted has been written.
fn print_all(bytes: &[u8]) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r,
    }
}
