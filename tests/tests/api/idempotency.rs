//! `Idempotency-Key` on creating POSTs: a retry replays the first response, a reused key
//! with another body is refused, keys are scoped to their caller.

use crate::helpers::*;
use anyhow::Result;
use serde_json::{json, Value};

async fn post_with_key(
    app: &TestApp,
    path: &str,
    token: Option<&str>,
    key: &str,
    body: &Value,
) -> Result<reqwest::Response> {
    let mut request = app
        .client
        .post(app.url(path))
        .header("Idempotency-Key", key)
        .json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    Ok(request.send().await?)
}

fn replayed(res: &reqwest::Response) -> bool {
    res.headers()
        .get("idempotency-replayed")
        .is_some_and(|v| v == "true")
}

#[tokio::test]
async fn a_retried_create_replays_the_first_response_and_creates_nothing() -> Result<()> {
    let app = spawn_gateway().await?;
    let agent = json!({"name": "小周", "skills": ["zh"], "max_concurrent": 2, "role": "agent"});
    let first = post_with_key(&app, "/v1/agents", Some(ADMIN_KEY), "create-zhou", &agent).await?;
    assert!(!replayed(&first));
    let first = expect_status(first, 201).await?;
    let retry = post_with_key(&app, "/v1/agents", Some(ADMIN_KEY), "create-zhou", &agent).await?;
    assert!(replayed(&retry));
    let retry = expect_status(retry, 201).await?;
    assert_eq!(retry, first, "the same body, token included");
    let agents = expect_status(app.get("/v1/agents", Some(ADMIN_KEY)).await?, 200).await?;
    let named: Vec<&Value> = agents["items"]
        .as_array()
        .map(|a| a.iter().filter(|a| a["name"] == "小周").collect())
        .unwrap_or_default();
    assert_eq!(
        named.len(),
        1,
        "one agent, however often the request is retried"
    );

    // The same key with another body is a mistake, not a retry.
    let other = json!({"name": "小吴", "skills": ["zh"], "max_concurrent": 2, "role": "agent"});
    expect_error(
        post_with_key(&app, "/v1/agents", Some(ADMIN_KEY), "create-zhou", &other).await?,
        422,
        "idempotency_key_reused",
    )
    .await?;
    // Without the header nothing changes.
    expect_status(app.post("/v1/agents", Some(ADMIN_KEY), &other).await?, 201).await?;
    Ok(())
}

#[tokio::test]
async fn keys_belong_to_their_caller() -> Result<()> {
    let app = spawn_gateway().await?;
    let start = json!({"customer": {"locale": "zh-CN", "name": "甲"}});
    let a = expect_status(
        post_with_key(&app, "/v1/conversations", None, "visit-1", &start).await?,
        201,
    )
    .await?;
    let again = post_with_key(&app, "/v1/conversations", None, "visit-1", &start).await?;
    assert!(replayed(&again));
    assert_eq!(
        expect_status(again, 201).await?["conversation"]["id"],
        a["conversation"]["id"]
    );

    // Another caller with the same key gets its own result.
    let body = body_of_article("idem-1");
    let admin = expect_status(
        post_with_key(&app, "/v1/kb/articles", Some(ADMIN_KEY), "k", &body).await?,
        201,
    )
    .await?;
    let key = expect_status(
        app.post(
            "/v1/api-keys",
            Some(ADMIN_KEY),
            &json!({"name": "ops", "role": "admin"}),
        )
        .await?,
        201,
    )
    .await?;
    let other_admin = str_at(&key, "/key")?;
    let second = body_of_article("idem-2");
    let theirs = post_with_key(&app, "/v1/kb/articles", Some(&other_admin), "k", &second).await?;
    assert!(!replayed(&theirs));
    let theirs = expect_status(theirs, 201).await?;
    assert_ne!(theirs["id"], admin["id"]);
    Ok(())
}

#[tokio::test]
async fn a_bad_key_is_refused_and_a_rejected_request_is_replayed_as_rejected() -> Result<()> {
    let app = spawn_gateway().await?;
    let agent = json!({"name": "x", "skills": ["zh"], "max_concurrent": 1, "role": "agent"});
    let long = "k".repeat(256);
    expect_error(
        post_with_key(&app, "/v1/agents", Some(ADMIN_KEY), &long, &agent).await?,
        422,
        "invalid_field",
    )
    .await?;
    let bad = json!({"name": "", "skills": ["zh"], "max_concurrent": 0, "role": "agent"});
    let first = post_with_key(&app, "/v1/agents", Some(ADMIN_KEY), "bad-1", &bad).await?;
    let status = first.status().as_u16();
    assert_eq!(status, 422);
    let retry = post_with_key(&app, "/v1/agents", Some(ADMIN_KEY), "bad-1", &bad).await?;
    assert!(replayed(&retry));
    assert_eq!(retry.status().as_u16(), 422);
    Ok(())
}

fn body_of_article(id: &str) -> Value {
    json!({"id": id, "question": format!("问题 {id}"), "answer": "答案", "category": "shipping", "locale": "zh-CN"})
}
