//! Building and running the application: the one place that wires store, bot, hub and HTTP.

use crate::auth;
use crate::domain::TokenOwner;
use crate::error;
use crate::routes;
use crate::settings::{Settings, Storage};
use crate::state::AppState;
use crate::store::{EmbeddedStore, RedisStore, Store};
use actix_web::dev::{Server, ServerHandle};
use actix_web::{web, App, HttpServer};
use anyhow::Context;
use std::net::TcpListener;
use std::sync::Arc;

const ADMIN_KEY_GENERATED: &str = "admin_key_generated";

pub struct Application {
    port: u16,
    server: Server,
    /// The admin key generated at this start, if one was (first start without
    /// `GATEWAY_ADMIN_KEY`); it is printed once and written to the data directory.
    generated_admin_key: Option<String>,
}

impl Application {
    /// Opens the store, seeds a new data directory, builds the index and binds the socket
    /// (port 0 picks a free port). Nothing is served until [`Application::run_until_stopped`].
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let store: Arc<dyn Store> = match &settings.storage {
            Storage::Embedded => {
                Arc::new(EmbeddedStore::open(&settings.data_dir).with_context(|| {
                    format!("opening the data directory {}", settings.data_dir.display())
                })?)
            }
            Storage::Redis { url, prefix } => Arc::new(
                RedisStore::connect(url, prefix)
                    .await
                    .with_context(|| format!("connecting to Redis at {url}"))?,
            ),
        };
        store.put_meta("schema", "1").await?;
        let generated_admin_key = bootstrap_admin(&settings, store.as_ref()).await?;

        // The knowledge base starts empty and is filled from the store below: the store is
        // the source of truth, the index is this process's copy.
        let kb = Arc::new(kb::KnowledgeBase::new()?);
        // The intent and sentiment models: the shipped weights, or a directory of local files.
        let nlu = match &settings.models_dir {
            Some(dir) => models::Nlu::load(dir)
                .with_context(|| format!("loading models from {}", dir.display()))?,
            None => models::Nlu::shipped().context("loading the shipped models")?,
        };
        let bot = Arc::new(bot::Bot::new(
            Arc::clone(&kb),
            Arc::new(nlu),
            bot::BotConfig::default(),
        ));
        let state = web::Data::new(AppState::new(settings.clone(), Arc::clone(&store), bot));
        crate::demo::seed(&state).await?;
        let articles = store.list_articles().await?;
        let count = articles.len();
        tokio::task::spawn_blocking(move || kb.replace_all(articles)).await??;
        tracing::info!(articles = count, "knowledge base indexed");

        // Conversations queued before a restart are served as soon as agents can take them.
        state.dispatch().await.map_err(|e| anyhow::anyhow!("{e}"))?;

        let listener = TcpListener::bind(&settings.bind)
            .with_context(|| format!("binding {}", settings.bind))?;
        let port = listener.local_addr()?.port();
        let limits = settings.limits.clone();
        let app_state = state.clone();
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(app_state.clone())
                .app_data(
                    web::JsonConfig::default()
                        .limit(limits.max_body_bytes)
                        .error_handler(error::json_error),
                )
                .app_data(web::QueryConfig::default().error_handler(error::query_error))
                .app_data(web::PathConfig::default().error_handler(error::path_error))
                .wrap(actix_web::middleware::NormalizePath::trim())
                .configure(routes::configure)
        })
        .listen(listener)?
        .shutdown_timeout(5);
        if settings.workers > 0 {
            server = server.workers(settings.workers);
        }
        Ok(Self {
            port,
            server: server.run(),
            generated_admin_key,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn generated_admin_key(&self) -> Option<&str> {
        self.generated_admin_key.as_deref()
    }

    /// A handle to stop the server from elsewhere (tests, signal handlers).
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// Registers the admin key: the configured one, or one generated at first start.
async fn bootstrap_admin(settings: &Settings, store: &dyn Store) -> anyhow::Result<Option<String>> {
    if let Some(key) = &settings.admin_key {
        store
            .put_token(&auth::hash_token(key), &TokenOwner::Admin)
            .await?;
        return Ok(None);
    }
    if store.get_meta(ADMIN_KEY_GENERATED).await?.is_some() {
        return Ok(None);
    }
    let key = auth::new_token("adm");
    let path = settings.data_dir.join("admin-key.txt");
    crate::demo::write_private(&path, &format!("{key}\n"))?;
    store
        .put_token(&auth::hash_token(&key), &TokenOwner::Admin)
        .await?;
    store.put_meta(ADMIN_KEY_GENERATED, "1").await?;
    println!(
        "Generated admin key (shown once; also stored in {}): {key}",
        path.display()
    );
    Ok(Some(key))
}
