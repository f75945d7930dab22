//! Signed webhooks: what integrators hear of conversations, delivered at least once.
//!
//! An event is written to a durable outbox in the store (one delivery per subscribed
//! webhook) right after the change it reports is stored; a worker in every process claims due
//! deliveries with a lease (so two processes never send one at the same time, and one that
//! dies mid-send leaves it to be retried after the lease), sends them, and settles each:
//! delivered, retried later by the schedule, or failed for good. The event id is the same on
//! every attempt; each attempt is signed afresh with its own timestamp, Standard Webhooks
//! style:
//!
//! - `webhook-id`: the event id (`evt_…`), the receiver's deduplication key;
//! - `webhook-timestamp`: Unix seconds of this attempt;
//! - `webhook-signature`: `v1,` + base64 of HMAC-SHA256 over `{id}.{timestamp}.{body}`,
//!   keyed with the webhook's secret (a `whsec_` secret is base64 after the prefix, as
//!   Standard Webhooks libraries read it; any other secret is used as its bytes).
//!
//! Targets must be `http` or `https` and must not resolve to a loopback, private,
//! link-local or otherwise internal address, checked when registered and again, by the
//! HTTP client's resolver, on every connection (so a DNS change cannot redirect a delivery
//! inward); `GATEWAY_WEBHOOK_ALLOW_PRIVATE=true` lifts this for tests and private setups.
//! Redirects are not followed.

use crate::state::AppState;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// The events a webhook can subscribe to.
pub const EVENT_TYPES: [&str; 6] = [
    "conversation.created",
    "conversation.handed_off",
    "conversation.assigned",
    "message.created",
    "conversation.resolved",
    "rating.created",
];

/// The most webhooks a shop registers.
pub const MAX_WEBHOOKS: usize = 20;
/// Delivery attempts kept per webhook, newest first.
pub const LOG_CAP: usize = 1_000;
/// The longest a receiver may take to answer.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a claimed delivery is held by the process sending it.
const LEASE: chrono::Duration = chrono::Duration::seconds(60);
/// How many deliveries one worker pass claims.
const BATCH: usize = 32;
/// The most of a receiver's answer kept in the log.
const LOGGED_BODY_CHARS: usize = 200;

/// The Standard Webhooks retry schedule: the wait before each attempt, the first at once.
/// 27 h 35 min in all, so a receiver may be down for a day and still get everything.
pub fn default_schedule() -> Vec<Duration> {
    [0, 5, 300, 1_800, 7_200, 18_000, 36_000, 36_000]
        .into_iter()
        .map(Duration::from_secs)
        .collect()
}

/// A registered webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Webhook {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    /// Never shown after creation.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub secret: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl Webhook {
    /// The record as the API shows it: everything but the secret.
    pub fn view(&self) -> Webhook {
        Webhook {
            secret: String::new(),
            ..self.clone()
        }
    }

    fn wants(&self, event_type: &str) -> bool {
        self.events.iter().any(|e| e == event_type)
    }
}

/// One event on its way to one webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub id: String,
    pub webhook_id: String,
    pub event_id: String,
    pub event_type: String,
    /// The JSON body, fixed when the event happened: every attempt sends the same bytes.
    pub body: String,
    /// Attempts made so far.
    pub attempts: u32,
    pub created_at: DateTime<Utc>,
    /// When it is due (or, while claimed, when its lease ends).
    pub next_at: DateTime<Utc>,
}

/// One attempt, as the delivery log shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Attempt {
    pub delivery_id: String,
    pub event_id: String,
    pub event_type: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    pub at: DateTime<Utc>,
    /// `delivered`, `retrying` or `failed` (no attempts left).
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub duration_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// The log a webhook's attempts go to.
pub fn log_name(webhook_id: &str) -> String {
    format!("webhook:{webhook_id}")
}

/// A new secret: `whsec_` and 32 random bytes in base64.
pub fn new_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// The HMAC key of a secret (see the module docs).
fn key_of(secret: &str) -> Vec<u8> {
    secret
        .strip_prefix("whsec_")
        .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok())
        .unwrap_or_else(|| secret.as_bytes().to_vec())
}

/// `v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`.
pub fn signature(secret: &str, event_id: &str, timestamp: i64, body: &str) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(&key_of(secret)) {
        Ok(mac) => mac,
        // HMAC takes keys of any length; this arm is never taken.
        Err(_) => return String::new(),
    };
    mac.update(format!("{event_id}.{timestamp}.").as_bytes());
    mac.update(body.as_bytes());
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    )
}

/// Whether an address is inside some network: loopback, private, link-local, shared (CGNAT),
/// unspecified, multicast, documentation or reserved, or IPv6 unique-local, or an IPv4 one
/// mapped into IPv6.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0)
                || (a == 198 && (18..20).contains(&b))
                || a >= 240
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_internal(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && v6.segments()[1] == 0x0db8
        }
    }
}

/// Why a target URL is refused, in words for the API's 422.
pub async fn check_target(url: &str, allow_private: bool) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("url is not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err("url must be http or https".into());
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("url must not carry credentials; sign with the secret instead".into());
    }
    let host = parsed
        .host_str()
        .ok_or_else(|| "url has no host".to_owned())?;
    if allow_private {
        return Ok(());
    }
    let port = parsed.port_or_known_default().unwrap_or(443);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addresses: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| format!("url's host does not resolve: {e}"))?
            .collect(),
    };
    if addresses.is_empty() {
        return Err("url's host does not resolve".into());
    }
    if let Some(inside) = addresses.iter().find(|a| is_internal(a.ip())) {
        return Err(format!(
            "url resolves to {}, an internal address; webhooks go to public addresses only",
            inside.ip()
        ));
    }
    Ok(())
}

/// Resolves names like the system does and drops internal addresses, so a delivery cannot be
/// pointed inward by a DNS change after registration.
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> =
                all.into_iter().filter(|a| !is_internal(a.ip())).collect();
            if public.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(public.into_iter());
            Ok(addrs)
        })
    }
}

/// The HTTP client deliveries go out with.
pub fn client(allow_private: bool) -> reqwest::Client {
    let builder = reqwest::Client::builder()
        .timeout(SEND_TIMEOUT)
        .connect_timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .user_agent(concat!("shop-gateway-webhooks/", env!("CARGO_PKG_VERSION")));
    let builder = if allow_private {
        builder
    } else {
        builder.dns_resolver(Arc::new(PublicOnly))
    };
    builder.build().unwrap_or_else(|e| {
        tracing::error!(error = %e, "webhook client with defaults");
        reqwest::Client::new()
    })
}

/// The JSON body of an event.
#[derive(Serialize)]
struct Body<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    event_type: &'a str,
    timestamp: DateTime<Utc>,
    data: serde_json::Value,
}

impl AppState {
    /// The registered webhooks, read at most once a second per process.
    async fn webhooks(&self) -> Vec<Webhook> {
        {
            let cache = crate::state::lock(&self.webhook_cache);
            if let Some((at, hooks)) = &*cache {
                if at.elapsed() < Duration::from_secs(1) {
                    return hooks.clone();
                }
            }
        }
        match self.store.list_webhooks().await {
            Ok(hooks) => {
                *crate::state::lock(&self.webhook_cache) =
                    Some((std::time::Instant::now(), hooks.clone()));
                hooks
            }
            Err(e) => {
                tracing::error!(error = %e, "reading webhooks");
                Vec::new()
            }
        }
    }

    /// Forgets the cached webhooks (after a change in this process).
    pub fn webhooks_changed(&self) {
        *crate::state::lock(&self.webhook_cache) = None;
        self.webhook_wake.notify_one();
    }

    /// Whether any webhook is subscribed to `event_type` (so a caller can skip building the
    /// event's data when nobody wants it).
    pub async fn wants_event(&self, event_type: &str) -> bool {
        self.webhooks().await.iter().any(|h| h.wants(event_type))
    }

    /// Writes an event to the outbox of every webhook subscribed to it. A failure is logged,
    /// not returned: the change the event reports is already stored and answered for.
    pub async fn emit(&self, event_type: &'static str, data: serde_json::Value) {
        let hooks: Vec<Webhook> = self
            .webhooks()
            .await
            .into_iter()
            .filter(|h| h.wants(event_type))
            .collect();
        if hooks.is_empty() {
            return;
        }
        let now = self.now();
        let event_id = format!("evt_{}", uuid::Uuid::new_v4().simple());
        let body = match serde_json::to_string(&Body {
            id: &event_id,
            event_type,
            timestamp: now,
            data,
        }) {
            Ok(body) => body,
            Err(e) => {
                tracing::error!(error = %e, "encoding a webhook event");
                return;
            }
        };
        let deliveries: Vec<Delivery> = hooks
            .iter()
            .map(|hook| Delivery {
                id: format!("dlv_{}", uuid::Uuid::new_v4().simple()),
                webhook_id: hook.id.clone(),
                event_id: event_id.clone(),
                event_type: event_type.to_owned(),
                body: body.clone(),
                attempts: 0,
                created_at: now,
                next_at: now,
            })
            .collect();
        match self.store.enqueue_deliveries(&deliveries).await {
            Ok(()) => self.webhook_wake.notify_one(),
            Err(e) => {
                tracing::error!(error = %e, event_type, "writing webhook deliveries to the outbox")
            }
        }
    }

    /// One pass of the delivery worker: claims what is due, sends it, settles it. Returns
    /// how many deliveries it handled.
    pub async fn deliver_due(
        &self,
        client: &reqwest::Client,
    ) -> Result<usize, crate::error::ApiError> {
        let now = self.now();
        let claimed = self.store.claim_deliveries(now, now + LEASE, BATCH).await?;
        let count = claimed.len();
        if count == 0 {
            return Ok(0);
        }
        let hooks = self.store.list_webhooks().await?;
        let sends = claimed.into_iter().map(|delivery| {
            let hook = hooks.iter().find(|h| h.id == delivery.webhook_id).cloned();
            async move {
                match hook {
                    Some(hook) => self.attempt(client, &hook, delivery).await,
                    // The webhook was deleted: its deliveries go with it.
                    None => self
                        .store
                        .settle_delivery(&delivery, None)
                        .await
                        .map_err(Into::into),
                }
            }
        });
        for result in futures_util::future::join_all(sends).await {
            if let Err(e) = result {
                tracing::error!(error = %e, "settling a webhook delivery");
            }
        }
        Ok(count)
    }

    async fn attempt(
        &self,
        client: &reqwest::Client,
        hook: &Webhook,
        mut delivery: Delivery,
    ) -> Result<(), crate::error::ApiError> {
        let at = self.now();
        let timestamp = Utc::now().timestamp();
        let started = std::time::Instant::now();
        let sent = client
            .post(&hook.url)
            .header("content-type", "application/json")
            .header("webhook-id", &delivery.event_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header(
                "webhook-signature",
                signature(&hook.secret, &delivery.event_id, timestamp, &delivery.body),
            )
            .body(delivery.body.clone())
            .send()
            .await;
        let (response_status, response_body, error) = match sent {
            Ok(response) => {
                let status = response.status().as_u16();
                let text = response.text().await.unwrap_or_default();
                let text: String = text.chars().take(LOGGED_BODY_CHARS).collect();
                (Some(status), (!text.is_empty()).then_some(text), None)
            }
            Err(e) => (None, None, Some(error_chain(&e))),
        };
        let ok = response_status.is_some_and(|s| (200..300).contains(&s));
        delivery.attempts += 1;
        let schedule = &self.settings.webhook_retry_schedule;
        let next_at = if ok {
            None
        } else {
            schedule
                .get(delivery.attempts as usize)
                .and_then(|wait| chrono::Duration::from_std(*wait).ok())
                .map(|wait| self.now() + wait)
        };
        let status = match (ok, next_at) {
            (true, _) => "delivered",
            (false, Some(_)) => "retrying",
            (false, None) => "failed",
        };
        self.metrics.count_webhook(status);
        let record = Attempt {
            delivery_id: delivery.id.clone(),
            event_id: delivery.event_id.clone(),
            event_type: delivery.event_type.clone(),
            attempt: delivery.attempts,
            at,
            status: status.to_owned(),
            response_status,
            response_body,
            error,
            duration_ms: started.elapsed().as_millis() as u64,
            next_attempt_at: next_at,
        };
        if !ok {
            tracing::warn!(webhook_id = %hook.id, event_id = %delivery.event_id, attempt = delivery.attempts, status, "webhook delivery failed");
        }
        self.store
            .push_log(
                &log_name(&hook.id),
                &serde_json::to_string(&record)
                    .map_err(|e| crate::error::ApiError::Internal(e.into()))?,
                LOG_CAP,
            )
            .await?;
        self.store.settle_delivery(&delivery, next_at).await?;
        Ok(())
    }

    /// Runs the delivery worker until the process ends: a pass whenever an event is written
    /// here, and at least every `poll` for retries and other processes' events.
    pub async fn run_webhook_worker(self: Arc<Self>, poll: Duration) {
        let client = client(self.settings.webhook_allow_private);
        loop {
            match self.deliver_due(&client).await {
                // A full batch: there may be more due at once.
                Ok(n) if n >= BATCH => continue,
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "webhook worker pass"),
            }
            let _ = tokio::time::timeout(poll, self.webhook_wake.notified()).await;
        }
    }
}

/// An error with its causes, for the delivery log ("connection refused", not just "error
/// sending request").
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    crate::error::chain(e)
        .chars()
        .take(LOGGED_BODY_CHARS)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_follows_standard_webhooks() {
        // The Standard Webhooks specification's example: this secret, id, timestamp and
        // body sign to this value.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
        let timestamp = 1_614_265_330;
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            signature(secret, id, timestamp, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn internal_addresses_are_recognised() {
        for inside in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            let ip: IpAddr = inside.parse().unwrap_or(IpAddr::from([8, 8, 8, 8]));
            assert!(is_internal(ip), "{inside}");
        }
        for outside in ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "203.0.114.1"] {
            let ip: IpAddr = outside.parse().unwrap_or(IpAddr::from([127, 0, 0, 1]));
            assert!(!is_internal(ip), "{outside}");
        }
    }

    #[tokio::test]
    async fn targets_inside_are_refused_unless_allowed() {
        for url in [
            "http://127.0.0.1:9/hook",
            "http://[::1]/hook",
            "http://10.0.0.5/hook",
            "http://169.254.169.254/latest/meta-data",
            "http://localhost:8080/hook",
        ] {
            assert!(check_target(url, false).await.is_err(), "{url}");
            assert!(check_target(url, true).await.is_ok(), "{url} allowed");
        }
        for url in [
            "ftp://example.com/x",
            "not a url",
            "http://user:pw@8.8.8.8/",
        ] {
            assert!(check_target(url, true).await.is_err(), "{url}");
        }
        assert!(check_target("https://8.8.8.8/hook", false).await.is_ok());
    }
}
