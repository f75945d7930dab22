//! The authorization matrix: every route and WebSocket endpoint the gateway registers, called
//! by every kind of caller, against the status a table in this file expects. The routes are
//! read from the gateway's own route table (`gateway/src/routes/mod.rs`), so a new route
//! without a row here fails the test, and so does a row for a route that no longer exists.
//!
//! Each call gets a fresh world (a conversation assigned to the holding agent, an article, an
//! API key, a webhook, an idle agent), so no call depends on what an earlier one changed, and
//! the body of each call is valid: a refusal is about who asks, not what they send.

use crate::helpers::*;
use anyhow::{anyhow, Context, Result};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// Who calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Who {
    Admin,
    /// An API key with the supervisor role.
    Supervisor,
    /// The agent holding the world's conversation.
    Agent,
    /// Another agent (ordinary role, online elsewhere in the shop).
    OtherAgent,
    /// An API key with the integrator role.
    Integrator,
    /// The customer of the world's conversation.
    Customer,
    /// The customer of another conversation.
    OtherCustomer,
    /// No token at all.
    Nobody,
    /// A token of the right shape that the gateway never issued.
    Forged,
}

const EVERYONE: [Who; 9] = [
    Who::Admin,
    Who::Supervisor,
    Who::Agent,
    Who::OtherAgent,
    Who::Integrator,
    Who::Customer,
    Who::OtherCustomer,
    Who::Nobody,
    Who::Forged,
];

/// Expected statuses, in the order of [`EVERYONE`]: admin, supervisor key, holding agent,
/// other agent, integrator key, the customer, another customer, no token, forged token.
/// 101 is a WebSocket upgrade. A 409 or 422 for a caller means they were let in and the
/// request met the state of the world (e.g. nobody to transfer to), which is checked too.
#[rustfmt::skip]
const TABLE: &[(&str, &str, [u16; 9])] = &[
    // statuses: admin, supervisor key, holding agent, other agent, integrator key, customer,
    // other customer, no token, forged token
    // Public: health, metrics for the scraper, pages, the API description, starting a chat.
    ("GET", "/healthz", [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET", "/readyz", [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET", "/metrics", [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET", "/", [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET", "/widget.js", [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET", "/console", [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET", "/admin", [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET", "/assets/{name}", [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET", "/v1/openapi.json", [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("POST", "/v1/conversations", [201, 201, 201, 201, 201, 201, 201, 201, 201]),
    // A conversation: its customer, the agent holding it, overseers; integrators read.
    ("GET", "/v1/conversations/{id}", [200, 200, 200, 403, 200, 200, 403, 401, 401]),
    ("POST", "/v1/conversations/{id}/messages", [403, 403, 201, 403, 403, 201, 403, 401, 401]),
    ("GET", "/v1/conversations/{id}/messages", [200, 200, 200, 403, 200, 200, 403, 401, 401]),
    ("GET", "/v1/conversations/{id}/ws", [403, 403, 403, 403, 403, 101, 403, 401, 401]),
    ("POST", "/v1/conversations/{id}/handoff", [403, 403, 403, 403, 403, 200, 403, 401, 401]),
    ("GET", "/v1/conversations/{id}/context", [200, 200, 200, 403, 200, 403, 403, 401, 401]),
    ("GET", "/v1/conversations/{id}/routing", [200, 200, 403, 403, 403, 403, 403, 401, 401]),
    ("POST", "/v1/conversations/{id}/resolve", [200, 200, 200, 403, 403, 403, 403, 401, 401]),
    ("POST", "/v1/conversations/{id}/transfer", [200, 200, 200, 403, 403, 403, 403, 401, 401]),
    // Let in, but no supervisor is online to take it.
    ("POST", "/v1/conversations/{id}/escalate", [409, 409, 409, 403, 403, 403, 403, 401, 401]),
    ("POST", "/v1/conversations/{id}/rating", [403, 403, 403, 403, 403, 201, 403, 401, 401]),
    ("POST", "/v1/conversations/{id}/close", [403, 403, 403, 403, 403, 200, 403, 401, 401]),
    // Agents: admins manage, supervisors oversee, an agent sees and sets only themself.
    ("POST", "/v1/agents", [201, 403, 403, 403, 403, 403, 403, 401, 401]),
    ("GET", "/v1/agents", [200, 200, 403, 403, 403, 403, 403, 401, 401]),
    ("GET", "/v1/agents/me/ws", [403, 403, 101, 101, 403, 403, 403, 401, 401]),
    ("GET", "/v1/agents/{id}", [200, 200, 200, 403, 403, 403, 403, 401, 401]),
    ("PATCH", "/v1/agents/{id}", [200, 403, 403, 403, 403, 403, 403, 401, 401]),
    ("DELETE", "/v1/agents/{id}", [204, 403, 403, 403, 403, 403, 403, 401, 401]),
    ("PUT", "/v1/agents/{id}/presence", [200, 200, 200, 403, 403, 403, 403, 401, 401]),
    ("GET", "/v1/agents/{id}/conversations", [200, 200, 200, 403, 403, 403, 403, 401, 401]),
    // The knowledge base: the whole team and integrators read, admins write.
    ("GET", "/v1/kb/search", [200, 200, 200, 200, 200, 403, 403, 401, 401]),
    ("GET", "/v1/kb/articles", [200, 200, 200, 200, 200, 403, 403, 401, 401]),
    ("POST", "/v1/kb/articles", [201, 403, 403, 403, 403, 403, 403, 401, 401]),
    ("GET", "/v1/kb/articles/{id}", [200, 200, 200, 200, 200, 403, 403, 401, 401]),
    ("PUT", "/v1/kb/articles/{id}", [200, 403, 403, 403, 403, 403, 403, 401, 401]),
    ("DELETE", "/v1/kb/articles/{id}", [204, 403, 403, 403, 403, 403, 403, 401, 401]),
    ("POST", "/v1/kb/import", [200, 403, 403, 403, 403, 403, 403, 401, 401]),
    ("GET", "/v1/kb/export", [200, 200, 403, 403, 403, 403, 403, 401, 401]),
    ("GET", "/v1/kb/gaps", [200, 200, 403, 403, 403, 403, 403, 401, 401]),
    ("POST", "/v1/nlu/analyze", [200, 200, 200, 200, 200, 403, 403, 401, 401]),
    // Customer records: the service team (any agent looks a customer up), not integrators.
    ("GET", "/v1/customers/{id}", [200, 200, 200, 200, 403, 403, 403, 401, 401]),
    ("PUT", "/v1/customers/{id}/tags", [200, 200, 200, 200, 403, 403, 403, 401, 401]),
    ("POST", "/v1/api-keys", [201, 403, 403, 403, 403, 403, 403, 401, 401]),
    ("GET", "/v1/api-keys", [200, 403, 403, 403, 403, 403, 403, 401, 401]),
    ("DELETE", "/v1/api-keys/{id}", [204, 403, 403, 403, 403, 403, 403, 401, 401]),
    ("GET", "/v1/qa/flags", [200, 200, 403, 403, 403, 403, 403, 401, 401]),
    ("GET", "/v1/qa/phrases", [200, 200, 403, 403, 403, 403, 403, 401, 401]),
    ("PUT", "/v1/qa/phrases", [200, 403, 403, 403, 403, 403, 403, 401, 401]),
    // KPIs: an agent gets their own figures.
    ("GET", "/v1/stats", [200, 200, 200, 200, 200, 403, 403, 401, 401]),
    ("POST", "/v1/webhooks", [201, 403, 403, 403, 201, 403, 403, 401, 401]),
    ("GET", "/v1/webhooks", [200, 403, 403, 403, 200, 403, 403, 401, 401]),
    ("DELETE", "/v1/webhooks/{id}", [204, 403, 403, 403, 204, 403, 403, 401, 401]),
    ("GET", "/v1/webhooks/{id}/deliveries", [200, 403, 403, 403, 200, 403, 403, 401, 401]),
];

/// Every `(method, path)` the gateway routes, read from its route table.
fn routes() -> Vec<(String, String)> {
    let source = include_str!("../../../gateway/src/routes/mod.rs");
    // Collapse whitespace so multi-line `.route(\n "...",\n web::get()...` reads as one.
    let flat: String = source
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace("( \"", "(\"");
    let scope_at = flat.find("web::scope(\"/v1\")").unwrap_or(usize::MAX);
    let mut out = Vec::new();
    let mut rest = flat.as_str();
    let mut offset = 0;
    while let Some(at) = rest.find(".route(\"") {
        let after = &rest[at + ".route(\"".len()..];
        let Some(end) = after.find('"') else { break };
        let path = &after[..end];
        let tail = after[end + 1..].trim_start_matches([',', ' ']);
        let method = if tail.starts_with("page()") {
            "GET".to_owned()
        } else if let Some(m) = tail.strip_prefix("web::") {
            m.split('(').next().unwrap_or_default().to_ascii_uppercase()
        } else {
            "?".to_owned()
        };
        let absolute = offset + at;
        let full = if absolute > scope_at {
            format!("/v1{path}")
        } else {
            path.to_owned()
        };
        out.push((method, full));
        offset = absolute + ".route(\"".len() + end;
        rest = &flat[offset..];
    }
    out
}

/// What a world holds for one call.
struct World {
    conversation: String,
    customer: String,
    customer_id: String,
    article: String,
    api_key: String,
    webhook: String,
    idle_agent: String,
}

/// The callers that stay the same for the whole test.
struct Cast {
    supervisor: String,
    agent_id: String,
    agent: String,
    other_agent: String,
    integrator: String,
}

async fn api_key(app: &TestApp, role: &str) -> Result<(String, String)> {
    let created = expect_status(
        app.post(
            "/v1/api-keys",
            Some(ADMIN_KEY),
            &json!({"name": format!("{role} key"), "role": role}),
        )
        .await?,
        201,
    )
    .await?;
    Ok((str_at(&created, "/api_key/id")?, str_at(&created, "/key")?))
}

async fn cast(app: &TestApp) -> Result<Cast> {
    let (agent_id, agent) = app
        .create_agent(
            "持有人",
            &[
                "zh",
                "orders",
                "logistics",
                "aftersales",
                "presales",
                "complaints",
            ],
            50,
        )
        .await?;
    app.set_presence(&agent, "online").await?;
    // Offline, so every handoff goes to the holding agent.
    let (_, other_agent) = app.create_agent("另一位", &["zh"], 5).await?;
    let (_, supervisor) = api_key(app, "supervisor").await?;
    let (_, integrator) = api_key(app, "integrator").await?;
    Ok(Cast {
        supervisor,
        agent_id,
        agent,
        other_agent,
        integrator,
    })
}

/// A fresh world for a call of `path`: always a conversation assigned to the holding agent;
/// an article, API key, webhook or idle agent only for the routes about one (each kind has a
/// per-shop cap).
async fn world(app: &TestApp, cast: &Cast, path: &str) -> Result<World> {
    let (conversation, customer) = app.start_conversation("zh-CN").await?;
    let view = expect_status(
        app.post(
            &format!("/v1/conversations/{conversation}/handoff"),
            Some(&customer),
            &json!({}),
        )
        .await?,
        200,
    )
    .await?;
    if view["assignee"]["id"] != cast.agent_id.as_str() {
        return Err(anyhow!("the world's conversation went elsewhere: {view}"));
    }
    let customer_id = str_at(&view, "/customer/id")?;
    let mut world = World {
        conversation,
        customer,
        customer_id,
        article: String::new(),
        api_key: String::new(),
        webhook: String::new(),
        idle_agent: String::new(),
    };
    if path.starts_with("/v1/kb/articles/") {
        world.article = format!("auth-{}", uuid_like());
        expect_status(
            app.post(
                "/v1/kb/articles",
                Some(ADMIN_KEY),
                &json!({"id": world.article, "question": "授权测试问题", "answer": "授权测试答案", "category": "other", "locale": "zh-CN"}),
            )
            .await?,
            201,
        )
        .await?;
    }
    if path.starts_with("/v1/api-keys/") {
        world.api_key = api_key(app, "integrator").await?.0;
    }
    if path.starts_with("/v1/webhooks/") {
        let hook = expect_status(
            app.post(
                "/v1/webhooks",
                Some(ADMIN_KEY),
                &json!({"url": "http://127.0.0.1:9/hook", "events": ["rating.created"]}),
            )
            .await?,
            201,
        )
        .await?;
        world.webhook = str_at(&hook, "/webhook/id")?;
    }
    if path.starts_with("/v1/agents/{id}") {
        world.idle_agent = app.create_agent("空闲", &["zh"], 1).await?.0;
    }
    Ok(world)
}

/// Removes what a world (or the call in it) added that the shop caps: API keys, webhooks,
/// agents. Whatever a call already deleted is a 404 here, which is fine.
async fn tidy(app: &TestApp, world: &World) -> Result<()> {
    // The customer leaves, so the holding agent has room for the next world.
    app.post(
        &format!("/v1/conversations/{}/close", world.conversation),
        Some(&world.customer),
        &json!({}),
    )
    .await?;
    let mut gone = Vec::new();
    if !world.api_key.is_empty() {
        gone.push(format!("/v1/api-keys/{}", world.api_key));
    }
    if !world.webhook.is_empty() {
        gone.push(format!("/v1/webhooks/{}", world.webhook));
    }
    if !world.idle_agent.is_empty() {
        gone.push(format!("/v1/agents/{}", world.idle_agent));
    }
    for key in expect_status(app.get("/v1/api-keys", Some(ADMIN_KEY)).await?, 200).await?["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        if key["name"] == "新钥匙" {
            gone.push(format!("/v1/api-keys/{}", str_at(&key, "/id")?));
        }
    }
    for hook in expect_status(app.get("/v1/webhooks", Some(ADMIN_KEY)).await?, 200).await?["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        gone.push(format!("/v1/webhooks/{}", str_at(&hook, "/id")?));
    }
    for path in gone {
        let status = app
            .client
            .delete(app.url(&path))
            .bearer_auth(ADMIN_KEY)
            .send()
            .await?
            .status()
            .as_u16();
        if status != 204 && status != 404 {
            return Err(anyhow!("tidying {path}: {status}"));
        }
    }
    Ok(())
}

/// The concrete path for a route in a world.
fn concrete(path: &str, method: &str, cast: &Cast, world: &World) -> String {
    let id = if path.starts_with("/v1/conversations/") {
        world.conversation.clone()
    } else if path.starts_with("/v1/agents/") {
        if method == "DELETE" {
            world.idle_agent.clone()
        } else {
            cast.agent_id.clone()
        }
    } else if path.starts_with("/v1/kb/articles/") {
        world.article.clone()
    } else if path.starts_with("/v1/api-keys/") {
        world.api_key.clone()
    } else if path.starts_with("/v1/webhooks/") {
        world.webhook.clone()
    } else if path.starts_with("/v1/customers/") {
        world.customer_id.clone()
    } else {
        String::new()
    };
    let query = if path == "/v1/kb/search" {
        "?q=%E9%80%80%E8%B4%A7"
    } else {
        ""
    };
    format!(
        "{}{query}",
        path.replace("{id}", &id).replace("{name}", "common.js")
    )
}

/// A valid body for a route (what it needs in a fresh world).
fn body(method: &str, path: &str, world: &World) -> Option<Value> {
    let body = match (method, path) {
        ("POST", "/v1/conversations") => json!({"customer": {"locale": "zh-CN"}}),
        ("POST", "/v1/conversations/{id}/messages") => {
            json!({"text": "请问发货了吗", "client_message_id": uuid_like()})
        }
        ("POST", "/v1/conversations/{id}/resolve") => json!({"outcome": "resolved"}),
        ("POST", "/v1/conversations/{id}/transfer") => {
            json!({"skill": "zh", "note": "请接手"})
        }
        ("POST", "/v1/conversations/{id}/escalate") => json!({"note": "顾客要求主管"}),
        ("POST", "/v1/conversations/{id}/rating") => json!({"rating": "satisfied"}),
        ("POST", "/v1/agents") => json!({"name": "新客服", "skills": ["zh"]}),
        ("PATCH", "/v1/agents/{id}") => json!({"max_concurrent": 50}),
        ("PUT", "/v1/agents/{id}/presence") => json!({"status": "online"}),
        ("POST", "/v1/kb/articles") => json!({
            "id": format!("auth-new-{}", uuid_like()), "question": "新问题", "answer": "新答案",
            "category": "other", "locale": "zh-CN"
        }),
        ("PUT", "/v1/kb/articles/{id}") => json!({
            "id": world.article, "question": "改过的问题", "answer": "改过的答案",
            "category": "other", "locale": "zh-CN"
        }),
        ("POST", "/v1/kb/import") => json!([{
            "id": format!("auth-import-{}", uuid_like()), "question": "导入的问题",
            "answer": "导入的答案", "category": "other", "locale": "zh-CN"
        }]),
        ("POST", "/v1/nlu/analyze") => json!({"text": "我要退货"}),
        ("PUT", "/v1/customers/{id}/tags") => json!({"tags": ["老顾客"]}),
        ("POST", "/v1/api-keys") => json!({"name": "新钥匙", "role": "integrator"}),
        ("PUT", "/v1/qa/phrases") => json!({"items": [
            {"phrase": "不知道", "category": "dismissive", "suggestion": "我帮您确认一下"}
        ]}),
        ("POST", "/v1/webhooks") => {
            json!({"url": "http://127.0.0.1:9/other", "events": ["message.created"]})
        }
        ("POST" | "PUT" | "PATCH", _) => json!({}),
        _ => return None,
    };
    Some(body)
}

/// Makes the world ready for a route where one step must come first.
async fn prepare(app: &TestApp, path: &str, cast: &Cast, world: &World) -> Result<()> {
    if path == "/v1/conversations/{id}/rating" {
        expect_status(
            app.post(
                &format!("/v1/conversations/{}/resolve", world.conversation),
                Some(&cast.agent),
                &json!({"outcome": "resolved"}),
            )
            .await?,
            200,
        )
        .await?;
    }
    Ok(())
}

fn token<'a>(who: Who, cast: &'a Cast, world: &'a World, other: &'a str) -> Option<&'a str> {
    match who {
        Who::Admin => Some(ADMIN_KEY),
        Who::Supervisor => Some(&cast.supervisor),
        Who::Agent => Some(&cast.agent),
        Who::OtherAgent => Some(&cast.other_agent),
        Who::Integrator => Some(&cast.integrator),
        Who::Customer => Some(&world.customer),
        Who::OtherCustomer => Some(other),
        Who::Nobody => None,
        Who::Forged => Some("cus_0123456789abcdef0123456789abcdef"),
    }
}

/// The status of one call (101 for a WebSocket upgrade).
async fn call(
    app: &TestApp,
    method: &str,
    path: &str,
    url_path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> Result<u16> {
    if path.ends_with("/ws") {
        let mut request = format!("ws://127.0.0.1:{}{url_path}", app.port).into_client_request()?;
        if let Some(token) = token {
            request
                .headers_mut()
                .insert("authorization", format!("Bearer {token}").parse()?);
        }
        return Ok(match tokio_tungstenite::connect_async(request).await {
            Ok((mut socket, response)) => {
                let _ = socket.close(None).await;
                response.status().as_u16()
            }
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                response.status().as_u16()
            }
            Err(e) => return Err(anyhow!("{method} {url_path}: {e}")),
        });
    }
    let mut request = app.client.request(method.parse()?, app.url(url_path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    if status >= 400 {
        // Every refusal speaks the error format.
        let text = response.text().await?;
        let parsed: Value = serde_json::from_str(&text)
            .with_context(|| format!("{method} {url_path} {status}: not JSON: {text}"))?;
        if parsed
            .pointer("/error/code")
            .and_then(Value::as_str)
            .is_none()
        {
            return Err(anyhow!("{method} {url_path} {status}: {text}"));
        }
    }
    Ok(status)
}

#[tokio::test]
async fn every_route_answers_every_caller_as_the_table_says() -> Result<()> {
    let app = spawn_gateway().await?;
    let cast = cast(&app).await?;
    let (_, other_customer) = app.start_conversation("zh-CN").await?;
    let routes = routes();
    assert!(routes.len() >= 40, "the route table was read: {routes:?}");

    let table: BTreeMap<(&str, &str), [u16; 9]> =
        TABLE.iter().map(|(m, p, s)| ((*m, *p), *s)).collect();
    let mut observed: Vec<(String, String, [u16; 9])> = Vec::new();
    let mut problems = Vec::new();
    for (method, path) in &routes {
        let mut statuses = [0u16; 9];
        for (i, who) in EVERYONE.iter().enumerate() {
            let world = world(&app, &cast, path).await?;
            prepare(&app, path, &cast, &world).await?;
            let url_path = concrete(path, method, &cast, &world);
            let body = body(method, path, &world);
            let token = token(*who, &cast, &world, &other_customer);
            statuses[i] = call(&app, method, path, &url_path, token, body.as_ref())
                .await
                .with_context(|| format!("{method} {path} as {who:?}"))?;
            tidy(&app, &world).await?;
            if statuses[i] >= 500 {
                problems.push(format!("{method} {path} as {who:?}: {}", statuses[i]));
            }
        }
        match table.get(&(method.as_str(), path.as_str())) {
            None => problems.push(format!("{method} {path} has no row in TABLE")),
            Some(expected) if *expected != statuses => {
                for (i, who) in EVERYONE.iter().enumerate() {
                    if expected[i] != statuses[i] {
                        problems.push(format!(
                            "{method} {path} as {who:?}: expected {}, got {}",
                            expected[i], statuses[i]
                        ));
                    }
                }
            }
            Some(_) => {}
        }
        observed.push((method.clone(), path.clone(), statuses));
    }
    for (method, path, _) in TABLE {
        if !routes.iter().any(|(m, p)| m == method && p == path) {
            problems.push(format!("TABLE has {method} {path}, which is not routed"));
        }
    }
    if !problems.is_empty() {
        let rows: Vec<String> = observed
            .iter()
            .map(|(m, p, s)| format!("    (\"{m}\", \"{p}\", {s:?}),"))
            .collect();
        return Err(anyhow!(
            "{}\n\nobserved:\n{}",
            problems.join("\n"),
            rows.join("\n")
        ));
    }
    Ok(())
}

#[test]
fn the_route_reader_sees_one_line_and_multi_line_routes() {
    let routes = routes();
    for expected in [
        ("GET", "/healthz"),
        ("GET", "/widget.js"),
        ("POST", "/v1/conversations"),
        ("GET", "/v1/conversations/{id}/ws"),
        ("POST", "/v1/conversations/{id}/escalate"),
        ("DELETE", "/v1/api-keys/{id}"),
    ] {
        assert!(
            routes
                .iter()
                .any(|(m, p)| m == expected.0 && p == expected.1),
            "{expected:?} in {routes:?}"
        );
    }
}
