//! The flag tables of docs/CLI.md and docs/WORKER.md against the flags the
//! binary really takes: every visible flag has a row, every row names a real
//! flag, and each row's default is clap's (which reads the one declaration
//! of each default, e.g. `weir_worker::defaults`).
use super::Cli;
use clap::CommandFactory;

/// The rows of the first table after `heading`: (flag, default column).
fn table_rows(doc: &str, heading: &str) -> Vec<(String, String)> {
    let start = doc.find(heading).unwrap_or_else(|| panic!("no {heading:?} in the doc"));
    let mut rows = Vec::new();
    let mut in_table = false;
    for line in doc[start..].lines().skip(1) {
        if line.starts_with('|') {
            in_table = true;
            let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
            let first = cells[0];
            if let Some(rest) = first.strip_prefix("`--") {
                let flag = rest.split(['`', ' ']).next().unwrap_or_default().to_string();
                rows.push((flag, cells.get(1).copied().unwrap_or_default().to_string()));
            }
        } else if in_table {
            break;
        }
    }
    assert!(!rows.is_empty(), "no flag rows under {heading:?}");
    rows
}

/// What a row's default column says the default is: `60s`, 10, or for an
/// env-backed flag the part after "then"; None for "none", "off" and the like.
fn documented_default(column: &str) -> Option<String> {
    let value = match column.split_once(", then ") {
        Some((_, v)) => v,
        None if column.starts_with("env ") => return None,
        None => column,
    };
    let value = value.trim().trim_matches('`');
    match value {
        // A switch: clap's default for it is "false".
        "off" => Some("false".to_string()),
        "none" | "" => None,
        v => Some(v.to_string()),
    }
}

/// Checks one doc table against `flags` (long name → clap's default, env).
fn check(doc_name: &str, rows: &[(String, String)], flags: &[(String, Option<String>, Option<String>)]) {
    let mut problems = Vec::new();
    for (name, default, env) in flags {
        let Some((_, column)) = rows.iter().find(|(f, _)| f == name) else {
            problems.push(format!("--{name} has no row in {doc_name}"));
            continue;
        };
        let documented = documented_default(column);
        if &documented != default {
            problems.push(format!("--{name}: {doc_name} says default {documented:?}, the flag's is {default:?}"));
        }
        if let Some(env) = env
            && !column.contains(&format!("`{env}`"))
        {
            problems.push(format!("--{name}: {doc_name} does not name its variable {env}"));
        }
    }
    for (row, _) in rows {
        if !flags.iter().any(|(name, _, _)| name == row) {
            problems.push(format!("{doc_name} documents --{row}, which the command does not take"));
        }
    }
    assert!(problems.is_empty(), "{doc_name} is out of date:\n{}", problems.join("\n"));
}

fn flags<'a>(args: impl Iterator<Item = &'a clap::Arg>) -> Vec<(String, Option<String>, Option<String>)> {
    args.filter(|a| !a.is_hide_set())
        .filter_map(|a| {
            let long = a.get_long()?;
            if long == "help" || long == "version" {
                return None;
            }
            let default = a.get_default_values().first().map(|v| v.to_string_lossy().into_owned());
            let env = a.get_env().map(|e| e.to_string_lossy().into_owned());
            Some((long.to_string(), default, env))
        })
        .collect()
}

#[test]
fn cli_md_lists_every_global_option_with_its_default() {
    let cli = Cli::command();
    let globals = flags(cli.get_arguments().filter(|a| a.is_global_set()));
    let rows = table_rows(include_str!("../../docs/CLI.md"), "Every subcommand takes:");
    check("docs/CLI.md", &rows, &globals);
}

#[test]
fn worker_md_lists_every_work_flag_with_its_default() {
    let mut cli = Cli::command();
    cli.build();
    let globals: Vec<String> = cli.get_arguments().map(|a| a.get_id().to_string()).collect();
    let work = cli.find_subcommand("work").expect("weir work");
    let own = flags(work.get_arguments().filter(|a| !globals.contains(&a.get_id().to_string())));
    let rows = table_rows(include_str!("../../docs/WORKER.md"), "## Flags");
    check("docs/WORKER.md", &rows, &own);
}
