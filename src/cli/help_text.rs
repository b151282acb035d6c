//! Every argument of every subcommand says what it is for: `weir X --help`
//! never lists a bare flag. Walks clap's whole command tree.
use super::Cli;
use clap::CommandFactory;

/// `path: --flag` (or `<POSITIONAL>`) of each argument without help, and each
/// subcommand without an about line, under `cmd`.
fn missing(cmd: &clap::Command, path: &str, out: &mut Vec<String>) {
    for arg in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
        let id = arg.get_id().as_str();
        if id == "help" || id == "version" {
            continue;
        }
        if arg.get_help().is_none() && arg.get_long_help().is_none() {
            let name = match arg.get_long() {
                Some(long) => format!("--{long}"),
                None => format!("<{}>", id.to_uppercase()),
            };
            out.push(format!("{path}: {name}"));
        }
    }
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set() && s.get_name() != "help") {
        let sub_path = format!("{path} {}", sub.get_name());
        if sub.get_about().is_none() && sub.get_long_about().is_none() {
            out.push(format!("{sub_path}: no about line"));
        }
        missing(sub, &sub_path, out);
    }
}

#[test]
fn every_argument_of_every_subcommand_has_help() {
    let mut cli = Cli::command();
    cli.build();
    let mut out = Vec::new();
    missing(&cli, "weir", &mut out);
    assert!(out.is_empty(), "arguments without help text (add a /// line):\n{}", out.join("\n"));
}

/// The walk above finds what it looks for: a command with one bare flag is
/// reported.
#[test]
fn the_walk_reports_a_bare_flag() {
    let cmd =
        clap::Command::new("x").subcommand(clap::Command::new("y").about("y").arg(clap::Arg::new("bare").long("bare")));
    let mut out = Vec::new();
    missing(&cmd, "x", &mut out);
    assert_eq!(out, ["x y: --bare"]);
}
