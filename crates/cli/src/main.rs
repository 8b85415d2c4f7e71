//! `ferroflow`: the command line. Flags are declared in `args`, settings resolved once,
//! and each command lives in `commands`.

mod args;
mod commands;
mod discovery;
mod env;
mod printer;
mod tracking;

use tracing_subscriber::EnvFilter;

use args::{Cli, Command};
use printer::Printer;

fn init_logging(verbose: u8, default: &str) {
    let level = match verbose {
        0 => default,
        1 => "info,ferroflow=debug",
        _ => "debug",
    };
    let filter = env::var(env::FERROFLOW_LOG).unwrap_or_else(|| level.to_string());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}

/// MLflow's click options treat a variable that is set but empty as unset
/// (`MLFLOW_SERVER_ALLOWED_HOSTS=` keeps the default hosts); clap would take the empty
/// value, so such bindings are dropped before parsing.
fn without_empty_env(mut cmd: clap::Command) -> clap::Command {
    let empty: Vec<clap::Id> = cmd
        .get_arguments()
        .filter(|a| {
            a.get_env()
                .is_some_and(|name| std::env::var_os(name).is_some_and(|v| v.is_empty()))
        })
        .map(|a| a.get_id().clone())
        .collect();
    for id in empty {
        cmd = cmd.mut_arg(id, |a| a.env(None::<&str>));
    }
    let subs: Vec<String> = cmd
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect();
    for name in subs {
        cmd = cmd.mut_subcommand(name, without_empty_env);
    }
    cmd
}

fn main() -> std::process::ExitCode {
    use clap::{CommandFactory, FromArgMatches};
    let matches = without_empty_env(Cli::command()).get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let is_server = matches!(cli.command, Command::Server(_) | Command::Ui(_));
    init_logging(cli.verbose, if is_server { "info" } else { "warn" });
    let printer = Printer { quiet: cli.quiet };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            printer.note(format!("error: cannot start the async runtime: {e}"));
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(commands::run(cli.command, printer));
    match result {
        Ok(code) => std::process::ExitCode::from(code),
        Err(e) => {
            let mut msg = format!("error: {e}");
            for cause in e.chain().skip(1) {
                msg.push_str(&format!("\n  caused by: {cause}"));
            }
            // Errors are always shown, even with --quiet.
            Printer { quiet: false }.note(msg);
            std::process::ExitCode::FAILURE
        }
    }
}
