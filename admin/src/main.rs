//! `kafka-ingress`: consume Kafka topics and invoke HTTP handlers, managed over an admin API.

use clap::Parser;

/// Command-line interface of the `kafka-ingress` binary.
#[derive(Debug, Parser)]
#[command(
    name = "kafka-ingress",
    version,
    about = "Kafka ingress: consume topics, invoke HTTP handlers, one invocation per record"
)]
struct Cli {
    /// Path to a restate.toml-style configuration file.
    #[arg(long)]
    config_file: Option<std::path::PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    println!(
        "kafka-ingress {} (config: {:?})",
        env!("CARGO_PKG_VERSION"),
        cli.config_file
    );
    Ok(())
}
