//! `gateway`: starts the server with settings from the environment.

use tracing_subscriber::EnvFilter;

/// mimalloc: cheaper small allocations across worker threads than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
