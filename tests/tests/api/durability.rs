//! A restart on the same data directory finds everything that was acknowledged.

use crate::helpers::*;
use anyhow::Result;
use serde_json::json;

#[tokio::test]
async fn a_restart_keeps_messages_states_the_queue_and_agents() -> Result<()> {
    let app = spawn_gateway().await?;
    let (agent_id, agent_token) = app.create_agent("小李", &["zh", "aftersales"], 1).await?;
    app.set_presence(&agent_token, "online").await?;

    // One conversation assigned to the agent, one waiting behind it, one still with the bot.
    let (first, first_token) = app.start_conversation("zh-CN").await?;
    app.say(&first, &first_token, "转人工").await?;
    let (second, second_token) = app.start_conversation("zh-CN").await?;
    app.say(&second, &second_token, "订单 123456789012345 我要人工")
        .await?;
    let (third, third_token) = app.start_conversation("en").await?;
    let faq = demo_article("invoice", "en")?;
    app.say(&third, &third_token, &faq.question).await?;

    let transcript = |app: &TestApp, id: String, token: String| {
        let client = app.client.clone();
        let url = app.url(&format!("/v1/conversations/{id}/messages"));
        async move { expect_status(client.get(url).bearer_auth(token).send().await?, 200).await }
    };
    let before = [
        transcript(&app, first.clone(), first_token.clone()).await?,
        transcript(&app, second.clone(), second_token.clone()).await?,
        transcript(&app, third.clone(), third_token.clone()).await?,
    ];

    let app = spawn_in(app.stop().await?).await?;

    let after = [
        transcript(&app, first.clone(), first_token.clone()).await?,
        transcript(&app, second.clone(), second_token.clone()).await?,
        transcript(&app, third.clone(), third_token.clone()).await?,
    ];
    assert_eq!(
        before, after,
        "every acknowledged message is still there, in order"
    );
    assert_eq!(
        app.conversation(&first, &first_token).await?["state"],
        "assigned"
    );
    let waiting = app.conversation(&second, &second_token).await?;
    assert_eq!(waiting["state"], "queued");
    assert_eq!(waiting["queue"]["position"], 1);
    assert_eq!(
        app.conversation(&third, &third_token).await?["state"],
        "bot"
    );
    let agent = expect_status(
        app.get(&format!("/v1/agents/{agent_id}"), Some(ADMIN_KEY))
            .await?,
        200,
    )
    .await?;
    assert_eq!(agent["conversations"], json!([first]));
    assert_eq!(agent["status"], "online");

    // The restarted server still routes: resolving the first hands the agent the second.
    let mut agent_ws = app.agent_ws(&agent_token).await?;
    assert_eq!(
        agent_ws.next_of("assigned").await?["conversation_id"],
        first.as_str()
    );
    app.post(
        &format!("/v1/conversations/{first}/resolve"),
        Some(&agent_token),
        &json!({"outcome": "resolved"}),
    )
    .await?;
    assert_eq!(
        agent_ws.next_of("assigned").await?["conversation_id"],
        second.as_str()
    );
    Ok(())
}

#[tokio::test]
async fn the_generated_admin_key_is_kept_across_restarts() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let app = spawn_with(dir, |s| s.admin_key = None).await?;
    let key = std::fs::read_to_string(app.data_dir.path().join("admin-key.txt"))?
        .trim()
        .to_owned();
    expect_status(app.get("/v1/agents", Some(&key)).await?, 200).await?;
    let app = spawn_with(app.stop().await?, |s| s.admin_key = None).await?;
    expect_status(app.get("/v1/agents", Some(&key)).await?, 200).await?;
    Ok(())
}
