//! API keys: created by admins with a role, shown once, stored hashed, listed without the
//! secret, revoked by deletion, rate-limited each.

use crate::helpers::*;
use anyhow::Result;
use serde_json::{json, Value};

async fn create_key(app: &TestApp, name: &str, role: &str) -> Result<(String, String)> {
    let body = expect_status(
        app.post(
            "/v1/api-keys",
            Some(ADMIN_KEY),
            &json!({"name": name, "role": role}),
        )
        .await?,
        201,
    )
    .await?;
    Ok((str_at(&body, "/api_key/id")?, str_at(&body, "/key")?))
}

async fn status(res: reqwest::Response) -> u16 {
    res.status().as_u16()
}

#[tokio::test]
async fn keys_act_with_their_role_and_stop_working_when_deleted() -> Result<()> {
    let app = spawn_gateway().await?;
    let (integrator_id, integrator) = create_key(&app, "CRM sync", "integrator").await?;
    let (_, supervisor) = create_key(&app, "QA dashboard", "supervisor").await?;
    let (_, admin) = create_key(&app, "provisioning", "admin").await?;

    // Listed without the secret.
    let list = expect_status(app.get("/v1/api-keys", Some(ADMIN_KEY)).await?, 200).await?;
    let items = list["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 3);
    let crm = items
        .iter()
        .find(|k| k["id"] == integrator_id.as_str())
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(crm["name"], "CRM sync");
    assert_eq!(crm["role"], "integrator");
    assert!(integrator.starts_with(crm["prefix"].as_str().unwrap_or("?")));
    assert!(
        !list.to_string().contains(&integrator),
        "the secret is never listed"
    );

    // An integrator reads conversations and the knowledge base, and changes nothing.
    let (conv, token) = app.start_conversation("zh-CN").await?;
    app.say(&conv, &token, "你好").await?;
    assert_eq!(
        status(
            app.get(&format!("/v1/conversations/{conv}"), Some(&integrator))
                .await?
        )
        .await,
        200
    );
    assert_eq!(
        status(
            app.get(
                &format!("/v1/conversations/{conv}/messages"),
                Some(&integrator)
            )
            .await?
        )
        .await,
        200
    );
    assert_eq!(
        status(app.get("/v1/kb/articles", Some(&integrator)).await?).await,
        200
    );
    let agent = json!({"name": "x", "skills": ["zh"], "max_concurrent": 1, "role": "agent"});
    expect_error(
        app.post("/v1/agents", Some(&integrator), &agent).await?,
        403,
        "forbidden",
    )
    .await?;
    expect_error(
        app.post(
            &format!("/v1/conversations/{conv}/messages"),
            Some(&integrator),
            &json!({"text": "hi", "client_message_id": "i-1"}),
        )
        .await?,
        403,
        "forbidden",
    )
    .await?;
    expect_error(
        app.get("/v1/api-keys", Some(&integrator)).await?,
        403,
        "forbidden",
    )
    .await?;
    expect_error(
        app.get("/v1/qa/flags", Some(&integrator)).await?,
        403,
        "forbidden",
    )
    .await?;

    // A supervisor key oversees; an admin key administers.
    assert_eq!(
        status(app.get("/v1/qa/flags", Some(&supervisor)).await?).await,
        200
    );
    expect_error(
        app.post("/v1/agents", Some(&supervisor), &agent).await?,
        403,
        "forbidden",
    )
    .await?;
    assert_eq!(
        status(app.post("/v1/agents", Some(&admin), &agent).await?).await,
        201
    );

    // Deleted: the key stops working at once.
    let res = app
        .client
        .delete(app.url(&format!("/v1/api-keys/{integrator_id}")))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await?;
    assert_eq!(res.status().as_u16(), 204);
    expect_error(
        app.get("/v1/kb/articles", Some(&integrator)).await?,
        401,
        "unauthorized",
    )
    .await?;
    let again = app
        .client
        .delete(app.url(&format!("/v1/api-keys/{integrator_id}")))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await?;
    expect_error(again, 404, "not_found").await?;
    Ok(())
}

#[tokio::test]
async fn only_admins_create_keys_and_bad_ones_are_refused() -> Result<()> {
    let app = spawn_gateway().await?;
    let (_, integrator) = create_key(&app, "CRM", "integrator").await?;
    let (_, agent_token) = app.create_agent("小王", &["zh"], 1).await?;
    for token in [integrator.as_str(), agent_token.as_str()] {
        expect_error(
            app.post(
                "/v1/api-keys",
                Some(token),
                &json!({"name": "n", "role": "admin"}),
            )
            .await?,
            403,
            "forbidden",
        )
        .await?;
    }
    // Agents read the knowledge base (the console's quick replies); customers do not.
    assert_eq!(
        status(app.get("/v1/kb/articles", Some(&agent_token)).await?).await,
        200
    );
    assert_eq!(
        status(app.get("/v1/kb/search?q=发货", Some(&agent_token)).await?).await,
        200
    );
    let (_, customer) = app.start_conversation("zh-CN").await?;
    expect_error(
        app.get("/v1/kb/articles", Some(&customer)).await?,
        403,
        "forbidden",
    )
    .await?;
    expect_error(
        app.post("/v1/api-keys", None, &json!({"name": "n", "role": "admin"}))
            .await?,
        401,
        "unauthorized",
    )
    .await?;
    for bad in [
        json!({"name": "n", "role": "root"}),
        json!({"name": "   ", "role": "admin"}),
        json!({"name": "x".repeat(101), "role": "admin"}),
        json!({"role": "admin"}),
    ] {
        let res = app.post("/v1/api-keys", Some(ADMIN_KEY), &bad).await?;
        assert_eq!(res.status().as_u16(), 422, "{bad}");
    }
    Ok(())
}

#[tokio::test]
async fn each_key_has_its_own_rate_limit() -> Result<()> {
    let app = spawn_with(tempfile::tempdir()?, |s| {
        s.limits.api_key_requests_per_window = 3;
        s.limits.message_window_secs = 60;
    })
    .await?;
    let (_, busy) = create_key(&app, "busy", "integrator").await?;
    let (_, quiet) = create_key(&app, "quiet", "integrator").await?;
    for _ in 0..3 {
        assert_eq!(
            status(app.get("/v1/kb/articles", Some(&busy)).await?).await,
            200
        );
    }
    let limited = app.get("/v1/kb/articles", Some(&busy)).await?;
    let retry_after = retry_after(&limited);
    assert!(
        retry_after.is_some_and(|s| (1..=60).contains(&s)),
        "{retry_after:?}"
    );
    expect_error(limited, 429, "rate_limited").await?;
    assert_eq!(
        status(app.get("/v1/kb/articles", Some(&quiet)).await?).await,
        200
    );
    assert_eq!(
        status(app.get("/v1/kb/articles", Some(ADMIN_KEY)).await?).await,
        200
    );
    Ok(())
}
