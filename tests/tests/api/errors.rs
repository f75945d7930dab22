//! Bad input gets a 4xx with `{"error": {"code", "message"}}`, never a 500.

use crate::helpers::*;
use anyhow::Result;
use serde_json::json;

#[tokio::test]
async fn missing_or_invalid_tokens_get_401() -> Result<()> {
    let app = spawn_gateway().await?;
    let (conv, _) = app.start_conversation("zh-CN").await?;
    expect_error(
        app.get(&format!("/v1/conversations/{conv}"), None).await?,
        401,
        "unauthorized",
    )
    .await?;
    expect_error(
        app.get(&format!("/v1/conversations/{conv}"), Some("forged-token"))
            .await?,
        401,
        "unauthorized",
    )
    .await?;
    expect_error(
        app.post("/v1/agents", None, &json!({"name": "x"})).await?,
        401,
        "unauthorized",
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn a_customer_cannot_touch_another_conversation() -> Result<()> {
    let app = spawn_gateway().await?;
    let (mine, my_token) = app.start_conversation("zh-CN").await?;
    let (theirs, _) = app.start_conversation("zh-CN").await?;
    expect_error(
        app.get(&format!("/v1/conversations/{theirs}"), Some(&my_token))
            .await?,
        403,
        "forbidden",
    )
    .await?;
    expect_error(
        app.get(
            &format!("/v1/conversations/{theirs}/messages"),
            Some(&my_token),
        )
        .await?,
        403,
        "forbidden",
    )
    .await?;
    expect_error(
        app.send(&theirs, &my_token, "hi", "x1").await?,
        403,
        "forbidden",
    )
    .await?;
    expect_error(
        app.post(
            &format!("/v1/conversations/{theirs}/handoff"),
            Some(&my_token),
            &json!({}),
        )
        .await?,
        403,
        "forbidden",
    )
    .await?;
    // A customer is not an admin, and an agent cannot write in a conversation it does not hold.
    expect_error(
        app.post("/v1/agents", Some(&my_token), &json!({"name": "x"}))
            .await?,
        403,
        "forbidden",
    )
    .await?;
    let (_, agent_token) = app.create_agent("A", &["zh"], 2).await?;
    expect_error(
        app.send(&mine, &agent_token, "hello", "x2").await?,
        403,
        "forbidden",
    )
    .await?;
    expect_error(
        app.get(&format!("/v1/conversations/{mine}"), Some(&agent_token))
            .await?,
        403,
        "forbidden",
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn unknown_things_get_404() -> Result<()> {
    let app = spawn_gateway().await?;
    let (_, token) = app.start_conversation("zh-CN").await?;
    expect_error(
        app.get("/v1/conversations/conv_nope", Some(&token)).await?,
        404,
        "not_found",
    )
    .await?;
    expect_error(
        app.get("/v1/agents/agt_nope", Some(ADMIN_KEY)).await?,
        404,
        "not_found",
    )
    .await?;
    expect_error(app.get("/v1/no-such-route", None).await?, 404, "not_found").await?;
    Ok(())
}

#[tokio::test]
async fn a_body_over_the_limit_gets_413() -> Result<()> {
    let app = spawn_gateway().await?;
    let (conv, token) = app.start_conversation("zh-CN").await?;
    let huge = "好".repeat(40_000);
    expect_error(
        app.send(&conv, &token, &huge, "big").await?,
        413,
        "payload_too_large",
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn invalid_fields_get_422() -> Result<()> {
    let app = spawn_gateway().await?;
    let (conv, token) = app.start_conversation("zh-CN").await?;
    for body in [
        json!({"text": "   ", "client_message_id": "a"}),
        json!({"text": "hi"}),
        json!({"text": "hi", "client_message_id": ""}),
        json!({"text": 42, "client_message_id": "b"}),
        json!({"text": "字".repeat(4001), "client_message_id": "c"}),
    ] {
        let res = app
            .post(
                &format!("/v1/conversations/{conv}/messages"),
                Some(&token),
                &body,
            )
            .await?;
        expect_error(res, 422, "invalid_field").await?;
    }
    let res = app
        .post(
            "/v1/conversations",
            None,
            &json!({"customer": {"locale": "fr-FR"}}),
        )
        .await?;
    expect_error(res, 422, "invalid_field").await?;
    let res = app
        .post(
            "/v1/agents",
            Some(ADMIN_KEY),
            &json!({"name": "A", "max_concurrent": 0}),
        )
        .await?;
    expect_error(res, 422, "invalid_field").await?;
    let res = app
        .post(
            "/v1/agents",
            Some(ADMIN_KEY),
            &json!({"name": "A", "skills": ["bad skill!"]}),
        )
        .await?;
    expect_error(res, 422, "invalid_field").await?;
    let res = app
        .post(
            &format!("/v1/conversations/{conv}/rating"),
            Some(&token),
            &json!({"rating": "great"}),
        )
        .await?;
    expect_error(res, 422, "invalid_field").await?;
    // Not JSON at all is a 400, still with the error body.
    let res = app
        .client
        .post(app.url(&format!("/v1/conversations/{conv}/messages")))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await?;
    expect_error(res, 400, "bad_request").await?;
    Ok(())
}

#[tokio::test]
async fn state_conflicts_get_409() -> Result<()> {
    let app = spawn_gateway().await?;
    let (conv, token) = app.start_conversation("zh-CN").await?;
    // Rating before any agent resolved the conversation.
    let res = app
        .post(
            &format!("/v1/conversations/{conv}/rating"),
            Some(&token),
            &json!({"rating": "satisfied"}),
        )
        .await?;
    expect_error(res, 409, "not_resolved").await?;
    expect_status(
        app.post(
            &format!("/v1/conversations/{conv}/close"),
            Some(&token),
            &json!({}),
        )
        .await?,
        200,
    )
    .await?;
    expect_error(
        app.send(&conv, &token, "还在吗", "late").await?,
        409,
        "conversation_ended",
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn a_flood_of_messages_is_rate_limited_with_retry_after() -> Result<()> {
    let app = spawn_with(tempfile::tempdir()?, |s| {
        s.limits.messages_per_window = 3;
        s.limits.message_window_secs = 60;
    })
    .await?;
    let (conv, token) = app.start_conversation("zh-CN").await?;
    for i in 0..3 {
        expect_status(
            app.send(&conv, &token, "你好", &format!("ok-{i}")).await?,
            201,
        )
        .await?;
    }
    let res = app.send(&conv, &token, "你好", "over").await?;
    let retry_after = retry_after(&res);
    assert!(retry_after.is_some_and(|s| s >= 1));
    expect_error(res, 429, "rate_limited").await?;
    // A retry of an accepted message is still answered: the client learns it is safe.
    expect_status(app.send(&conv, &token, "你好", "ok-0").await?, 201).await?;
    Ok(())
}

#[tokio::test]
async fn new_conversations_are_rate_limited_per_client_address() -> Result<()> {
    let app = spawn_with(tempfile::tempdir()?, |s| {
        s.limits.conversations_per_address_per_window = 3;
        s.limits.message_window_secs = 60;
    })
    .await?;
    let (conv, token) = app.start_conversation("zh-CN").await?;
    app.start_conversation("zh-CN").await?;
    app.start_conversation("en").await?;
    let res = app
        .post(
            "/v1/conversations",
            None,
            &json!({"customer": {"locale": "zh-CN"}}),
        )
        .await?;
    let retry_after = retry_after(&res);
    assert!(
        retry_after.is_some_and(|s| (1..=60).contains(&s)),
        "{retry_after:?}"
    );
    expect_error(res, 429, "rate_limited").await?;
    // The customers who got in carry on.
    app.say(&conv, &token, "你好").await?;
    Ok(())
}
