//! Server mode: load the configuration, open the persisted state (every subscription resumes
//! from its committed offsets), serve the admin API, and on SIGTERM/SIGINT shut down
//! gracefully — stop accepting admin requests, stop fetching, drain in-flight deliveries
//! within a bound, commit, leave the consumer groups, exit 0.

use std::sync::Arc;

use anyhow::Context;
use ingress::config::ServerConfig;
use ingress::manager::Ingress;
use tracing_subscriber::EnvFilter;

use crate::{LogFormat, ServeArgs};

/// Runs the server until SIGTERM or SIGINT.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    init_logging(args.log_format);
    let mut config = ServerConfig::load(args.config_file.as_deref(), std::env::vars())
        .context("invalid configuration")?;
    if let Some(dir) = args.base_dir {
        config.base_dir = dir;
    }
    if let Some(addr) = args.admin_bind {
        config.admin.bind_address = addr;
    }
    for warning in &config.warnings {
        tracing::warn!("{warning}");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("kafka-ingress")
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(config))
}

async fn serve(config: ServerConfig) -> anyhow::Result<()> {
    let bind = config.admin.bind_address;
    // Bind before resuming subscriptions: a second instance on the same port fails fast.
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .with_context(|| format!("cannot listen on {bind} (admin bind-address)"))?;
    let base_dir = config.base_dir.clone();
    let clusters: Vec<String> = config
        .ingress
        .kafka_clusters
        .iter()
        .map(|c| c.name.clone())
        .collect();
    let ingress = Arc::new(
        Ingress::open(config)
            .await
            .with_context(|| format!("cannot open the state in {}", base_dir.display()))?,
    );
    ingress.start_restate_refresh();
    let subscriptions = ingress.list_subscriptions(None, None).await.len();
    tracing::info!(
        admin = %bind,
        base_dir = %base_dir.display(),
        clusters = ?clusters,
        subscriptions,
        version = env!("CARGO_PKG_VERSION"),
        "kafka-ingress started"
    );
    let app = admin::api::router(ingress.clone());
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("admin API server failed")?;
    tracing::info!("shutting down: draining in-flight deliveries, committing, leaving groups");
    ingress.shutdown().await;
    tracing::info!("kafka-ingress stopped");
    Ok(())
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C).
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("SIGINT received"),
        () = term => tracing::info!("SIGTERM received"),
    }
}

/// `RUST_LOG` (default `info`), text or JSON lines on stderr.
fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
