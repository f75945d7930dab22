//! Typed settings: defaults, then environment variables.
//!
//! `GATEWAY_BIND`, `GATEWAY_DATA_DIR`, `GATEWAY_ADMIN_KEY`, `GATEWAY_REDIS_URL`,
//! `GATEWAY_REDIS_PREFIX` (and `GATEWAY_REDIS_CLUSTER`), `GATEWAY_WEBHOOK_ALLOW_PRIVATE` always work. `GATEWAY_DEMO`
//! (`full`, `kb`, `off`) chooses what the first start seeds.

use std::path::PathBuf;

/// Where state lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Storage {
    /// One process, a durable local data directory (the default).
    Embedded,
    /// Several processes on one Redis server or Redis Cluster. `url` is one URL or a
    /// comma-separated list of cluster nodes; `cluster` (`GATEWAY_REDIS_CLUSTER`) says one URL
    /// is a cluster node.
    Redis {
        url: String,
        prefix: String,
        cluster: bool,
    },
}

/// What the first start on an empty data directory loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DemoSeed {
    /// The demo knowledge base and demo agents.
    Full,
    /// Only the demo knowledge base.
    KnowledgeBase,
    /// Nothing.
    Off,
}

/// Size and rate limits, each named so tests and operators can see them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest JSON body, in bytes.
    pub max_body_bytes: usize,
    /// Customer messages one conversation (one customer token) may send per
    /// [`Limits::message_window_secs`] (`GATEWAY_MESSAGES_PER_WINDOW`).
    pub messages_per_window: u32,
    pub message_window_secs: u64,
    /// Open WebSockets per conversation or per agent.
    pub sockets_per_subject: usize,
    /// Requests one API key may make per [`Limits::message_window_secs`]
    /// (`GATEWAY_API_KEY_REQUESTS_PER_WINDOW`).
    pub api_key_requests_per_window: u32,
    /// Conversations one client address may start per [`Limits::message_window_secs`]
    /// (`GATEWAY_CONVERSATIONS_PER_ADDRESS_PER_WINDOW`).
    pub conversations_per_address_per_window: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 64 * 1024,
            messages_per_window: 20,
            message_window_secs: 10,
            sockets_per_subject: 5,
            api_key_requests_per_window: 1_000,
            conversations_per_address_per_window: 30,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `host:port`; port 0 picks a free port (tests).
    pub bind: String,
    pub data_dir: PathBuf,
    /// The admin key; generated, printed once and stored at first start when unset.
    pub admin_key: Option<String>,
    pub storage: Storage,
    pub webhook_allow_private: bool,
    /// Behind a reverse proxy: take the client address from `Forwarded` / `X-Forwarded-For`
    /// (`GATEWAY_TRUST_FORWARDED`). Only when every request comes through the proxy: a
    /// client reaching the gateway directly could name any address.
    pub trust_forwarded: bool,
    /// Origins whose pages may call the API from a browser (`GATEWAY_CORS_ORIGINS`, comma
    /// separated); `None` allows every origin, which is safe because credentials are bearer
    /// tokens a page must hold, never cookies.
    pub cors_origins: Option<Vec<String>>,
    pub demo: DemoSeed,
    pub limits: Limits,
    /// HTTP worker threads; 0 means one per core.
    pub workers: usize,
    /// A directory with `intent/` and `sentiment/` model files to use instead of the shipped
    /// weights (`GATEWAY_MODELS_DIR`).
    pub models_dir: Option<PathBuf>,
    /// SLA, relaxation steps, stickiness, accept timeout, disconnect grace.
    pub routing: router::Policy,
    /// How often each process checks timeouts and relaxations, milliseconds.
    pub routing_tick_ms: u64,
    /// The secret shops sign customer ids with (`GATEWAY_SHOP_SECRET`); without it no customer
    /// can be verified.
    pub shop_secret: Option<String>,
    /// Where recorded times come from: the system clock, or a manual one in tests.
    pub clock: crate::clock::Clock,
    /// The wait before each webhook delivery attempt, the first usually zero
    /// ([`crate::webhooks::default_schedule`]); its length is the number of attempts.
    pub webhook_retry_schedule: Vec<std::time::Duration>,
    /// How often each process looks for due webhook deliveries, milliseconds.
    pub webhook_poll_ms: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("./data"),
            admin_key: None,
            storage: Storage::Embedded,
            webhook_allow_private: false,
            trust_forwarded: false,
            cors_origins: None,
            demo: DemoSeed::Full,
            limits: Limits::default(),
            workers: 0,
            models_dir: None,
            routing: router::Policy::default(),
            routing_tick_ms: 1000,
            shop_secret: None,
            clock: crate::clock::Clock::System,
            webhook_retry_schedule: crate::webhooks::default_schedule(),
            webhook_poll_ms: 1000,
        }
    }
}

/// A setting that could not be parsed.
#[derive(Debug, thiserror::Error)]
#[error("invalid setting {name}: {message}")]
pub struct SettingsError {
    pub name: &'static str,
    pub message: String,
}

impl Settings {
    /// Defaults overridden by the `GATEWAY_*` environment variables.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    /// The same from any source of variables, so tests need not touch the process environment.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let mut s = Settings::default();
        if let Some(bind) = get("GATEWAY_BIND") {
            s.bind = bind;
        }
        if let Some(dir) = get("GATEWAY_DATA_DIR") {
            s.data_dir = PathBuf::from(dir);
        }
        s.admin_key = get("GATEWAY_ADMIN_KEY");
        s.shop_secret = get("GATEWAY_SHOP_SECRET");
        s.models_dir = get("GATEWAY_MODELS_DIR").map(PathBuf::from);
        if let Some(url) = get("GATEWAY_REDIS_URL") {
            let prefix = get("GATEWAY_REDIS_PREFIX").unwrap_or_else(|| "gw".into());
            let cluster = match get("GATEWAY_REDIS_CLUSTER") {
                Some(v) => parse_bool("GATEWAY_REDIS_CLUSTER", &v)?,
                None => false,
            };
            s.storage = Storage::Redis {
                url,
                prefix,
                cluster,
            };
        }
        if let Some(v) = get("GATEWAY_WEBHOOK_ALLOW_PRIVATE") {
            s.webhook_allow_private = parse_bool("GATEWAY_WEBHOOK_ALLOW_PRIVATE", &v)?;
        }
        if let Some(v) = get("GATEWAY_CORS_ORIGINS") {
            let origins: Vec<String> = v
                .split(',')
                .map(str::trim)
                .filter(|o| !o.is_empty() && *o != "*")
                .map(str::to_owned)
                .collect();
            if let Some(bad) = origins.iter().find(|o| {
                let rest = o
                    .strip_prefix("https://")
                    .or_else(|| o.strip_prefix("http://"));
                !rest.is_some_and(|host| !host.is_empty() && !host.contains(['/', ' ', '*']))
            }) {
                return Err(SettingsError {
                    name: "GATEWAY_CORS_ORIGINS",
                    message: format!("{bad:?} is not an origin like https://shop.example.com"),
                });
            }
            s.cors_origins = (!v.split(',').any(|o| o.trim() == "*")).then_some(origins);
        }
        if let Some(v) = get("GATEWAY_TRUST_FORWARDED") {
            s.trust_forwarded = parse_bool("GATEWAY_TRUST_FORWARDED", &v)?;
        }
        if let Some(v) = get("GATEWAY_DEMO") {
            s.demo = match v.as_str() {
                "full" | "on" | "true" => DemoSeed::Full,
                "kb" => DemoSeed::KnowledgeBase,
                "off" | "false" => DemoSeed::Off,
                other => {
                    return Err(SettingsError {
                        name: "GATEWAY_DEMO",
                        message: format!("{other:?} is not one of full, kb, off"),
                    })
                }
            };
        }
        let numbers: [(&'static str, &mut u32); 10] = [
            (
                "GATEWAY_MESSAGES_PER_WINDOW",
                &mut s.limits.messages_per_window,
            ),
            (
                "GATEWAY_API_KEY_REQUESTS_PER_WINDOW",
                &mut s.limits.api_key_requests_per_window,
            ),
            (
                "GATEWAY_CONVERSATIONS_PER_ADDRESS_PER_WINDOW",
                &mut s.limits.conversations_per_address_per_window,
            ),
            ("GATEWAY_SLA_SECS", &mut s.routing.sla_secs),
            ("GATEWAY_VIP_SLA_SECS", &mut s.routing.vip_sla_secs),
            ("GATEWAY_VIP_RELAX_SECS", &mut s.routing.vip_relax_secs),
            (
                "GATEWAY_SPECIALTY_RELAX_SECS",
                &mut s.routing.specialty_relax_secs,
            ),
            ("GATEWAY_STICKINESS_HOURS", &mut s.routing.stickiness_hours),
            (
                "GATEWAY_ACCEPT_TIMEOUT_SECS",
                &mut s.routing.accept_timeout_secs,
            ),
            (
                "GATEWAY_DISCONNECT_GRACE_SECS",
                &mut s.routing.disconnect_grace_secs,
            ),
        ];
        for (name, field) in numbers {
            if let Some(v) = get(name) {
                *field = v.parse().map_err(|_| SettingsError {
                    name,
                    message: format!("{v:?} is not a whole number"),
                })?;
            }
        }
        Ok(s)
    }
}

fn parse_bool(name: &'static str, value: &str) -> Result<bool, SettingsError> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        other => Err(SettingsError {
            name,
            message: format!("{other:?} is not a boolean"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_are_the_embedded_demo_on_localhost() -> Result<(), SettingsError> {
        let s = from(&[])?;
        assert_eq!(s.bind, "127.0.0.1:8080");
        assert_eq!(s.data_dir, PathBuf::from("./data"));
        assert_eq!(s.storage, Storage::Embedded);
        assert_eq!(s.demo, DemoSeed::Full);
        Ok(())
    }

    #[test]
    fn cors_origins_are_a_list_of_origins_or_any() -> Result<(), SettingsError> {
        let s = from(&[(
            "GATEWAY_CORS_ORIGINS",
            "https://shop.example.com, http://127.0.0.1:8080",
        )])?;
        assert_eq!(
            s.cors_origins,
            Some(vec![
                "https://shop.example.com".to_owned(),
                "http://127.0.0.1:8080".to_owned()
            ])
        );
        assert_eq!(from(&[("GATEWAY_CORS_ORIGINS", "*")])?.cors_origins, None);
        assert_eq!(from(&[])?.cors_origins, None);
        for bad in [
            "shop.example.com",
            "https://shop.example.com/path",
            "https://*.example.com",
        ] {
            assert!(from(&[("GATEWAY_CORS_ORIGINS", bad)]).is_err(), "{bad}");
        }
        Ok(())
    }

    #[test]
    fn environment_variables_override_defaults() -> Result<(), SettingsError> {
        let s = from(&[
            ("GATEWAY_BIND", "0.0.0.0:9000"),
            ("GATEWAY_DATA_DIR", "/tmp/x"),
            ("GATEWAY_ADMIN_KEY", "k"),
            ("GATEWAY_REDIS_URL", "redis://127.0.0.1/"),
            ("GATEWAY_REDIS_PREFIX", "t1"),
            ("GATEWAY_WEBHOOK_ALLOW_PRIVATE", "true"),
            ("GATEWAY_DEMO", "kb"),
        ])?;
        assert_eq!(s.bind, "0.0.0.0:9000");
        assert_eq!(s.admin_key.as_deref(), Some("k"));
        assert_eq!(
            s.storage,
            Storage::Redis {
                url: "redis://127.0.0.1/".into(),
                prefix: "t1".into(),
                cluster: false,
            }
        );
        assert!(s.webhook_allow_private);
        assert_eq!(s.demo, DemoSeed::KnowledgeBase);
        Ok(())
    }

    #[test]
    fn limits_come_from_the_environment() -> Result<(), SettingsError> {
        let s = from(&[
            ("GATEWAY_MESSAGES_PER_WINDOW", "7"),
            ("GATEWAY_API_KEY_REQUESTS_PER_WINDOW", "50"),
            ("GATEWAY_CONVERSATIONS_PER_ADDRESS_PER_WINDOW", "3"),
        ])?;
        assert_eq!(s.limits.messages_per_window, 7);
        assert_eq!(s.limits.api_key_requests_per_window, 50);
        assert_eq!(s.limits.conversations_per_address_per_window, 3);
        assert!(from(&[("GATEWAY_MESSAGES_PER_WINDOW", "many")])
            .is_err_and(|e| e.name == "GATEWAY_MESSAGES_PER_WINDOW"));
        Ok(())
    }

    #[test]
    fn bad_values_are_named() {
        assert!(from(&[("GATEWAY_DEMO", "maybe")]).is_err_and(|e| e.name == "GATEWAY_DEMO"));
        assert!(from(&[("GATEWAY_WEBHOOK_ALLOW_PRIVATE", "perhaps")]).is_err());
        assert!(from(&[("GATEWAY_ACCEPT_TIMEOUT_SECS", "-5")])
            .is_err_and(|e| e.name == "GATEWAY_ACCEPT_TIMEOUT_SECS"));
    }

    #[test]
    fn routing_settings_come_from_the_environment() -> Result<(), SettingsError> {
        let s = from(&[
            ("GATEWAY_SLA_SECS", "120"),
            ("GATEWAY_VIP_SLA_SECS", "45"),
            ("GATEWAY_VIP_RELAX_SECS", "5"),
            ("GATEWAY_SPECIALTY_RELAX_SECS", "15"),
            ("GATEWAY_STICKINESS_HOURS", "24"),
            ("GATEWAY_ACCEPT_TIMEOUT_SECS", "90"),
            ("GATEWAY_DISCONNECT_GRACE_SECS", "10"),
        ])?;
        let expected = router::Policy {
            sla_secs: 120,
            vip_sla_secs: 45,
            vip_relax_secs: 5,
            specialty_relax_secs: 15,
            stickiness_hours: 24,
            accept_timeout_secs: 90,
            disconnect_grace_secs: 10,
            ..router::Policy::default()
        };
        assert_eq!(s.routing, expected);
        assert_eq!(from(&[])?.routing, router::Policy::default());
        Ok(())
    }
}
