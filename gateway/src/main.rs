//! `gateway`: starts the server with settings from the environment.

use tracing_subscriber::EnvFilter;

/// jemalloc: a bot turn makes many small, short-lived allocations on several threads, where
/// glibc's malloc cost a fifth of the throughput (`bash scripts/bench_bot_turn.sh`).
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let settings = gateway::Settings::from_env()?;
    let app = gateway::Application::build(settings.clone()).await?;
    tracing::info!(bind = %settings.bind, port = app.port(), data_dir = %settings.data_dir.display(), "gateway listening");
    app.run_until_stopped().await?;
    Ok(())
}
