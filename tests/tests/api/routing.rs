//! Router v0 through the running server: skills, capacity, waiting, event-driven assignment.

use crate::helpers::*;
use anyhow::Result;
use serde_json::json;

#[tokio::test]
async fn a_conversation_waits_for_a_busy_agent_and_is_assigned_when_one_is_resolved() -> Result<()>
{
    let app = spawn_gateway().await?;
    let (_, agent_token) = app.create_agent("小王", &["zh"], 1).await?;
    app.set_presence(&agent_token, "online").await?;
    let mut agent = app.agent_ws(&agent_token).await?;

    let (first, first_token) = app.start_conversation("zh-CN").await?;
    app.say(&first, &first_token, "转人工").await?;
    assert_eq!(
        agent.next_of("assigned").await?["conversation_id"],
        first.as_str()
    );

    let (second, second_token) = app.start_conversation("zh-CN").await?;
    let mut waiting = app.customer_ws(&second, &second_token, None).await?;
    let posted = app.say(&second, &second_token, "人工客服").await?;
    assert_eq!(posted["conversation"]["state"], "queued");
    assert_eq!(waiting.next_of("queue").await?["position"], 1);

    expect_status(
        app.post(
            &format!("/v1/conversations/{first}/resolve"),
            Some(&agent_token),
            &json!({"outcome": "resolved"}),
        )
        .await?,
        200,
    )
    .await?;
    // No polling: the resolve itself frees the seat and assigns the waiting conversation.
    assert_eq!(
        agent.next_of("assigned").await?["conversation_id"],
        second.as_str()
    );
    let state = waiting.next_of("state").await?;
    assert_eq!(state["state"], "assigned");
    Ok(())
}

#[tokio::test]
async fn only_agents_with_the_language_skill_get_the_conversation() -> Result<()> {
    let app = spawn_gateway().await?;
    let (_, en_token) = app.create_agent("Emma", &["en"], 3).await?;
    app.set_presence(&en_token, "online").await?;
    let (conv, token) = app.start_conversation("zh-CN").await?;
    let posted = app.say(&conv, &token, "转人工").await?;
    assert_eq!(
        posted["conversation"]["state"], "queued",
        "an English-only agent does not take a Chinese customer"
    );

    let (zh_id, zh_token) = app.create_agent("小王", &["zh"], 3).await?;
    app.set_presence(&zh_token, "online").await?;
    let view = app.conversation(&conv, &token).await?;
    assert_eq!(view["state"], "assigned");
    assert_eq!(view["assignee"]["id"], zh_id.as_str());

    let routing = expect_status(
        app.get(
            &format!("/v1/conversations/{conv}/routing"),
            Some(ADMIN_KEY),
        )
        .await?,
        200,
    )
    .await?;
    let candidates = &routing["items"][0]["candidates"];
    assert_eq!(candidates[0]["agent_id"], zh_id.as_str());
    assert_eq!(candidates[1]["rejected"]["reason"], "missing_skills");
    Ok(())
}

#[tokio::test]
async fn the_least_loaded_agent_gets_the_next_conversation() -> Result<()> {
    let app = spawn_gateway().await?;
    let (a_id, a_token) = app.create_agent("A", &["zh"], 4).await?;
    let (b_id, b_token) = app.create_agent("B", &["zh"], 4).await?;
    app.set_presence(&a_token, "online").await?;
    app.set_presence(&b_token, "online").await?;
    let mut owners = Vec::new();
    for _ in 0..4 {
        let (conv, token) = app.start_conversation("zh-CN").await?;
        app.say(&conv, &token, "转人工").await?;
        owners.push(
            app.conversation(&conv, &token).await?["assignee"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    let a = owners.iter().filter(|o| **o == a_id).count();
    let b = owners.iter().filter(|o| **o == b_id).count();
    assert_eq!((a, b), (2, 2), "{owners:?}");
    Ok(())
}

#[tokio::test]
async fn an_away_agent_gets_nothing_and_capacity_is_never_exceeded() -> Result<()> {
    let app = spawn_gateway().await?;
    let (agent_id, agent_token) = app.create_agent("A", &["zh"], 2).await?;
    app.set_presence(&agent_token, "away").await?;
    let (c1, t1) = app.start_conversation("zh-CN").await?;
    app.say(&c1, &t1, "转人工").await?;
    assert_eq!(app.conversation(&c1, &t1).await?["state"], "queued");
    app.set_presence(&agent_token, "online").await?;
    for _ in 0..3 {
        let (c, t) = app.start_conversation("zh-CN").await?;
        app.say(&c, &t, "转人工").await?;
    }
    let agent = expect_status(
        app.get(&format!("/v1/agents/{agent_id}"), Some(ADMIN_KEY))
            .await?,
        200,
    )
    .await?;
    assert_eq!(agent["load"], 2);
    Ok(())
}

#[tokio::test]
async fn a_new_skill_assigns_at_once_and_a_busy_agent_cannot_be_deleted() -> Result<()> {
    let app = spawn_gateway().await?;
    let (agent_id, agent_token) = app.create_agent("Emma", &["zh-tw"], 2).await?;
    app.set_presence(&agent_token, "online").await?;
    let (conv, token) = app.start_conversation("zh-CN").await?;
    app.say(&conv, &token, "转人工").await?;
    assert_eq!(app.conversation(&conv, &token).await?["state"], "queued");

    let res = app
        .client
        .patch(app.url(&format!("/v1/agents/{agent_id}")))
        .bearer_auth(ADMIN_KEY)
        .json(&json!({"skills": ["zh", "zh-tw"]}))
        .send()
        .await?;
    let agent = expect_status(res, 200).await?;
    assert_eq!(
        agent["load"], 1,
        "the new skill matched the waiting customer: {agent}"
    );

    let delete = |app: &TestApp| {
        app.client
            .delete(app.url(&format!("/v1/agents/{agent_id}")))
            .bearer_auth(ADMIN_KEY)
            .send()
    };
    expect_error(delete(&app).await?, 409, "agent_busy").await?;
    app.post(
        &format!("/v1/conversations/{conv}/resolve"),
        Some(&agent_token),
        &json!({"outcome": "resolved"}),
    )
    .await?;
    assert_eq!(delete(&app).await?.status().as_u16(), 204);
    expect_error(
        app.get("/v1/agents/me", Some(&agent_token)).await?,
        401,
        "unauthorized",
    )
    .await?;
    Ok(())
}
