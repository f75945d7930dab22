//! Building and running the application: the one place that wires store, bot, hub and HTTP.

use crate::auth;
use crate::bus::{Bus, BusConfig};
use crate::domain::TokenOwner;
use crate::error;
use crate::routes;
use crate::settings::{Settings, Storage};
use crate::state::AppState;
use crate::store::{EmbeddedStore, RedisStore, RedisTarget, Store};
use actix_web::dev::{Server, ServerHandle};
use actix_web::{web, App, HttpServer};
use anyhow::Context;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

const ADMIN_KEY_GENERATED: &str = "admin_key_generated";

pub struct Application {
    port: u16,
    server: Server,
    /// The admin key generated at this start, if one was (first start without
    /// `GATEWAY_ADMIN_KEY`); it is printed once and written to the data directory.
    generated_admin_key: Option<String>,
    /// The pub/sub bus and the index reloader; they stop with the application.
    background: Background,
}

/// Tasks that live as long as the application.
#[derive(Default)]
struct Background {
    /// Held for its `Drop`, which stops the bus.
    _bus: Option<Bus>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Background {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Application {
    /// Opens the store, seeds a new data directory, builds the index and binds the socket
    /// (port 0 picks a free port). Nothing is served until [`Application::run_until_stopped`].
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        // With Redis, the shop's pub/sub channel: the other processes are on it.
        let mut channel = None;
        let store: Arc<dyn Store> = match &settings.storage {
            Storage::Embedded => {
                Arc::new(EmbeddedStore::open(&settings.data_dir).with_context(|| {
                    format!("opening the data directory {}", settings.data_dir.display())
                })?)
            }
            Storage::Redis {
                url,
                prefix,
                cluster,
            } => {
                let target = RedisTarget::new(url, *cluster);
                let store = RedisStore::connect_to(&target, prefix)
                    .await
                    .with_context(|| format!("connecting to Redis at {url}"))?;
                channel = Some((target, format!("{}events", store.key_base())));
                Arc::new(store)
            }
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
        // Subscribed before anything is served or seeded, so no other process's event or
        // knowledge-base change after this point is missed.
        let mut background = Background::default();
        if let Some((target, channel)) = channel {
            let changed = Arc::new(Notify::new());
            let url = target.nodes.join(",");
            background._bus = Some(
                Bus::start(BusConfig {
                    target,
                    channel,
                    hub: Arc::clone(&state.hub),
                    knowledge_base_changed: Arc::clone(&changed),
                })
                .await
                .with_context(|| format!("subscribing to Redis pub/sub at {url}"))?,
            );
            background
                .tasks
                .push(tokio::spawn(reload_knowledge_base(state.clone(), changed)));
        }
        crate::demo::seed(&state).await?;
        let articles = store.list_articles().await?;
        let count = articles.len();
        tokio::task::spawn_blocking(move || kb.replace_all(articles)).await??;
        tracing::info!(articles = count, "knowledge base indexed");

        // Conversations queued before a restart are served as soon as agents can take them.
        state.dispatch().await.map_err(|e| anyhow::anyhow!("{e}"))?;
        // Accept timeouts, relaxed preferences and queue estimates move with time.
        background
            .tasks
            .push(tokio::spawn(routing_ticker(state.clone())));
        // Webhook deliveries waiting in the outbox (from before a restart too) go out.
        let poll = Duration::from_millis(settings.webhook_poll_ms.max(10));
        background.tasks.push(tokio::spawn(
            state.clone().into_inner().run_webhook_worker(poll),
        ));

        let listener = TcpListener::bind(&settings.bind)
            .with_context(|| format!("binding {}", settings.bind))?;
        let port = listener.local_addr()?.port();
        let limits = settings.limits.clone();
        let cors_origins = settings.cors_origins.clone();
        let app_state = state.clone();
        let mut server = HttpServer::new(move || {
            App::new()
                .wrap(cors(cors_origins.as_deref()))
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
            background,
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
        let Self {
            server, background, ..
        } = self;
        let stopped = server.await;
        drop(background);
        stopped
    }
}

/// Browsers may call the API from shop pages on other origins: the widget is one script tag
/// on any shop's page. Credentials are bearer tokens, never cookies.
fn cors(origins: Option<&[String]>) -> actix_cors::Cors {
    let cors = actix_cors::Cors::default()
        .allowed_methods(["GET", "POST", "PUT", "PATCH", "DELETE"])
        .allowed_headers([
            actix_web::http::header::AUTHORIZATION,
            actix_web::http::header::CONTENT_TYPE,
            actix_web::http::header::HeaderName::from_static("idempotency-key"),
        ])
        .expose_headers(["retry-after", crate::idempotency::REPLAYED])
        .max_age(3600);
    match origins {
        None => cors.allow_any_origin(),
        Some(list) => list
            .iter()
            .fold(cors, |cors, origin| cors.allowed_origin(origin)),
    }
}

/// How long to wait before retrying an index reload that failed (Redis unreachable).
const RELOAD_RETRY: Duration = Duration::from_secs(1);

/// Rebuilds this process's index from the store each time another process changed the
/// knowledge base. Notices that arrive during a rebuild make one more rebuild, not many.
async fn reload_knowledge_base(state: web::Data<AppState>, changed: Arc<Notify>) {
    loop {
        changed.notified().await;
        loop {
            match state.reload_knowledge_base().await {
                Ok(articles) => {
                    tracing::info!(articles, "knowledge base reloaded after a change elsewhere");
                    break;
                }
                Err(error) => {
                    tracing::warn!(%error, "knowledge base reload failed; retrying");
                    tokio::time::sleep(RELOAD_RETRY).await;
                }
            }
        }
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

/// Runs the time-driven part of routing every `routing_tick_ms` for the application's life.
async fn routing_ticker(state: web::Data<AppState>) {
    let period = Duration::from_millis(state.settings.routing_tick_ms.max(10));
    let mut interval = tokio::time::interval(period);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        if let Err(error) = state.tick().await {
            tracing::warn!(%error, "routing tick failed; trying again next tick");
        }
    }
}
