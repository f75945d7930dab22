//! Selective satisfaction invitations: a customer is invited to rate (`rating_request`) when
//! an agent resolves their conversation, unless their last message reads negative, and at
//! most once per conversation.

use crate::helpers::*;
use anyhow::{Context, Result};
use serde_json::{json, Value};

/// A conversation handed to a fresh online agent; returns (conversation, customer token,
/// agent token).
async fn assigned_conversation(app: &TestApp) -> Result<(String, String, String)> {
    let (conv, token) = app.start_conversation("zh-CN").await?;
    let (_, agent_token) = app
        .create_agent("评价客服", &["zh", "orders", "logistics", "complaints"], 5)
        .await?;
    app.set_presence(&agent_token, "online").await?;
    let handed = expect_status(
        app.post(
            &format!("/v1/conversations/{conv}/handoff"),
            Some(&token),
            &json!({}),
        )
        .await?,
        200,
    )
    .await?;
    assert_eq!(handed["state"], "assigned", "{handed}");
    Ok((conv, token, agent_token))
}

async fn resolve(app: &TestApp, conv: &str, agent_token: &str) -> Result<()> {
    let resolved = expect_status(
        app.post(
            &format!("/v1/conversations/{conv}/resolve"),
            Some(agent_token),
            &json!({"outcome": "resolved"}),
        )
        .await?,
        200,
    )
    .await?;
    assert_eq!(resolved["state"], "resolved");
    Ok(())
}

/// The types of the events the socket gets until the message `text` arrives. Events on one
/// conversation arrive in the order they happened, so a `rating_request` sent with the
/// resolve would come before a message the customer writes afterwards.
async fn event_types_until_message(socket: &mut WsClient, text: &str) -> Result<Vec<String>> {
    let mut types = Vec::new();
    loop {
        let event = socket.next_event().await?;
        let kind = event["type"].as_str().unwrap_or_default().to_owned();
        let done = kind == "message" && event["message"]["text"] == text;
        types.push(kind);
        if done {
            return Ok(types);
        }
    }
}

/// What an angry customer writes (the sentiment model reads it negative; checked below).
const ANGRY: &str = "你们这什么垃圾服务，气死我了，骗子！";

#[tokio::test]
async fn an_angry_customer_is_not_invited_to_rate() -> Result<()> {
    let app = spawn_gateway().await?;
    let (conv, token, agent_token) = assigned_conversation(&app).await?;
    let mut customer = app.customer_ws(&conv, &token, None).await?;
    let analysis = expect_status(
        app.post("/v1/nlu/analyze", Some(ADMIN_KEY), &json!({"text": ANGRY}))
            .await?,
        200,
    )
    .await?;
    assert_eq!(analysis["sentiment"]["label"], "negative", "{analysis}");
    app.say(&conv, &token, ANGRY).await?;
    resolve(&app, &conv, &agent_token).await?;

    // The customer writes once more: no invitation came before that message.
    app.say(&conv, &token, "还在吗").await?;
    let types = event_types_until_message(&mut customer, "还在吗").await?;
    assert!(types.iter().any(|t| t == "state"), "{types:?}");
    assert!(
        !types.iter().any(|t| t == "rating_request"),
        "an angry customer is not invited: {types:?}"
    );
    Ok(())
}

#[tokio::test]
async fn a_calm_customer_is_invited_once_per_conversation() -> Result<()> {
    let app = spawn_gateway().await?;
    let (conv, token, agent_token) = assigned_conversation(&app).await?;
    let mut customer = app.customer_ws(&conv, &token, None).await?;
    app.say(&conv, &token, "好的，谢谢").await?;
    resolve(&app, &conv, &agent_token).await?;
    let invitation = customer
        .next_of("rating_request")
        .await
        .context("rating request")?;
    assert_eq!(invitation["conversation_id"], conv.as_str());
    let rated = expect_status(
        app.post(
            &format!("/v1/conversations/{conv}/rating"),
            Some(&token),
            &json!({"rating": "neutral", "reasons": ["slow"]}),
        )
        .await?,
        201,
    )
    .await?;
    assert_eq!(rated["rating"]["rating"], "neutral");

    // The customer comes back, asks for a person again and is served again: the second
    // resolve does not invite a rating the conversation already has.
    app.say(&conv, &token, "我还有个问题").await?;
    let handed = expect_status(
        app.post(
            &format!("/v1/conversations/{conv}/handoff"),
            Some(&token),
            &json!({}),
        )
        .await?,
        200,
    )
    .await?;
    assert_eq!(handed["state"], "assigned", "{handed}");
    app.say(&conv, &token, "好的，谢谢").await?;
    resolve(&app, &conv, &agent_token).await?;
    app.say(&conv, &token, "再见").await?;
    let types = event_types_until_message(&mut customer, "再见").await?;
    assert!(
        !types.iter().any(|t| t == "rating_request"),
        "one invitation per conversation: {types:?}"
    );
    let view: Value = app.conversation(&conv, &token).await?;
    assert_eq!(view["rating"]["rating"], "neutral");
    Ok(())
}
