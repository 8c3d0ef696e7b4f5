//! `kafka-ingress`: consume Kafka topics and invoke HTTP handlers, managed over an admin API.
//!
//! Without a subcommand the binary serves (admin API + engine); with one it is a client of a
//! running server's admin API (`subscriptions`, `deployments`, `services`).

mod cli;
mod serve;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, ValueEnum};

/// Command-line interface of the `kafka-ingress` binary.
#[derive(Debug, Parser)]
#[command(
    name = "kafka-ingress",
    version,
    about = "Kafka ingress: consume topics, invoke HTTP handlers, one invocation per record",
    // Serve flags only make sense without a subcommand; reject `kafka-ingress --base-dir x services list`.
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(flatten)]
    serve: ServeArgs,

    #[command(subcommand)]
    command: Option<cli::ClientCommand>,
}

/// Arguments of the server mode (no subcommand): they override the configuration file and
/// the `RESTATE_*` environment.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Path to a restate.toml-style configuration file.
    #[arg(long, value_name = "FILE")]
    pub config_file: Option<PathBuf>,

    /// Directory where subscriptions and deployments are persisted (overrides `base-dir`).
    #[arg(long, value_name = "DIR")]
    pub base_dir: Option<PathBuf>,

    /// Address the admin API listens on (overrides `[admin] bind-address`).
    #[arg(long, value_name = "ADDR")]
    pub admin_bind: Option<SocketAddr>,

    /// Log output format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// Format of the server's log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// mimalloc, not the C library's malloc: musl's (the static binary's) serializes on a lock,
/// and the delivery path allocates per record; glibc's cost ~20 % of the ingress's CPU too.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's memory settings for a long-running ingress: freed memory goes back to the OS at
/// once and arenas are committed as they are used, which takes peak RSS under load from ~100
/// to ~57 MiB (`scripts/bench-ingress.sh`) at no measurable CPU. mimalloc reads them from the
/// environment when the process starts, so `main` re-executes itself once with them set;
/// values the user set win.
const ALLOCATOR_ENV: [(&str, &str); 2] = [
    ("MIMALLOC_PURGE_DELAY", "0"),
    ("MIMALLOC_ARENA_EAGER_COMMIT", "0"),
];
/// Set on the re-executed process (and by users who want mimalloc's own defaults).
const ALLOCATOR_TUNED: &str = "KAFKA_INGRESS_ALLOCATOR_TUNED";

/// Re-executes this program with [`ALLOCATOR_ENV`] (same pid, arguments and argv\[0\]); only
/// returns if that is not possible, and then the program goes on with mimalloc's defaults.
fn exec_with_allocator_env() {
    use std::os::unix::process::CommandExt;
    if std::env::var_os(ALLOCATOR_TUNED).is_some() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let mut args = std::env::args_os();
    let Some(arg0) = args.next() else {
        return;
    };
    let mut command = std::process::Command::new(exe);
    command.arg0(arg0).args(args).env(ALLOCATOR_TUNED, "1");
    for (name, value) in ALLOCATOR_ENV {
        if std::env::var_os(name).is_none() {
            command.env(name, value);
        }
    }
    let error = command.exec();
    eprintln!(
        "kafka-ingress: could not restart itself with the allocator settings ({error}); \
         going on with mimalloc's defaults"
    );
}

fn main() -> ExitCode {
    exec_with_allocator_env();
    let cli = Cli::parse();
    match cli.command {
        Some(command) => cli::run(command),
        None => match serve::run(cli.serve) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("serve: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn no_subcommand_is_serve_with_its_flags() {
        let cli = Cli::try_parse_from([
            "kafka-ingress",
            "--config-file",
            "restate.toml",
            "--base-dir",
            "/data",
            "--admin-bind",
            "127.0.0.1:9071",
            "--log-format",
            "json",
        ])
        .unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.serve.config_file, Some(PathBuf::from("restate.toml")));
        assert_eq!(cli.serve.base_dir, Some(PathBuf::from("/data")));
        assert_eq!(
            cli.serve.admin_bind,
            Some("127.0.0.1:9071".parse().unwrap())
        );
        assert_eq!(cli.serve.log_format, LogFormat::Json);
    }

    #[test]
    fn serve_defaults() {
        let cli = Cli::try_parse_from(["kafka-ingress"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.serve.config_file, None);
        assert_eq!(cli.serve.log_format, LogFormat::Text);
    }

    #[test]
    fn bad_serve_flags_are_rejected() {
        assert!(Cli::try_parse_from(["kafka-ingress", "--log-format", "xml"]).is_err());
        assert!(Cli::try_parse_from(["kafka-ingress", "--admin-bind", "nope"]).is_err());
    }

    #[test]
    fn serve_flags_conflict_with_subcommands() {
        assert!(
            Cli::try_parse_from(["kafka-ingress", "--base-dir", "x", "services", "list"]).is_err()
        );
    }
}
