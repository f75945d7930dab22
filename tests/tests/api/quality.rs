//! Quality inspection of agent messages before sending: forbidden phrases, the same canned
//! reply again, `check_only` drafts, the flags list, and the shop's own phrase list.

use crate::helpers::*;
use anyhow::Result;
use serde_json::{json, Value};

/// A conversation handed to a fresh agent: (conversation, customer token, agent id, agent token).
async fn assigned(app: &TestApp) -> Result<(String, String, String, String)> {
    let (agent_id, agent_token) = app.create_agent("小王", &["zh"], 3).await?;
    app.set_presence(&agent_token, "online").await?;
    let (conv, token) = app.start_conversation("zh-CN").await?;
    let posted = app.say(&conv, &token, "转人工").await?;
    assert_eq!(posted["conversation"]["state"], "assigned");
    Ok((conv, token, agent_id, agent_token))
}

fn kinds(warnings: &Value) -> Vec<(String, String)> {
    warnings
        .as_array()
        .map(|w| {
            w.iter()
                .map(|f| {
                    (
                        f["kind"].as_str().unwrap_or_default().to_owned(),
                        f["phrase"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_draft_is_checked_without_being_sent() -> Result<()> {
    let app = spawn_gateway().await?;
    let (conv, token, _, agent_token) = assigned(&app).await?;
    let path = format!("/v1/conversations/{conv}/messages?check_only=true");
    let checked = expect_status(
        app.post(
            &path,
            Some(&agent_token),
            &json!({"text": "这个我不知道，你想怎样？"}),
        )
        .await?,
        200,
    )
    .await?;
    assert_eq!(
        kinds(&checked["warnings"]),
        [
            ("forbidden_phrase".to_owned(), "不知道".to_owned()),
            ("forbidden_phrase".to_owned(), "你想怎样".to_owned()),
        ]
    );
    let clean = expect_status(
        app.post(
            &path,
            Some(&agent_token),
            &json!({"text": "您好，我帮您查一下"}),
        )
        .await?,
        200,
    )
    .await?;
    assert_eq!(clean["warnings"], json!([]));

    // Nothing was stored, nothing flagged.
    let transcript = expect_status(
        app.get(&format!("/v1/conversations/{conv}/messages"), Some(&token))
            .await?,
        200,
    )
    .await?;
    assert!(transcript["items"]
        .as_array()
        .is_some_and(|items| items.iter().all(|m| m["author"]["role"] != "agent")));
    let flags = expect_status(app.get("/v1/qa/flags", Some(ADMIN_KEY)).await?, 200).await?;
    assert_eq!(flags["items"], json!([]));

    // Only the agent holding the conversation may check drafts in it.
    expect_error(
        app.post(&path, Some(&token), &json!({"text": "x"})).await?,
        403,
        "forbidden",
    )
    .await?;
    let (_, other) = app.create_agent("小李", &["zh"], 3).await?;
    expect_error(
        app.post(&path, Some(&other), &json!({"text": "x"})).await?,
        403,
        "forbidden",
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn a_sent_message_carries_its_warnings_and_is_listed_with_agent_and_conversation(
) -> Result<()> {
    let app = spawn_gateway().await?;
    let (conv, _, agent_id, agent_token) = assigned(&app).await?;
    let canned = "亲，您的订单已发货，物流单号可以在订单详情里查看哦";
    let first = app.say(&conv, &agent_token, canned).await?;
    assert!(first.get("warnings").is_none(), "a clean reply has none");
    let again = app.say(&conv, &agent_token, canned).await?;
    assert_eq!(
        kinds(&again["warnings"]),
        [("repeated_reply".to_owned(), String::new())]
    );
    assert_eq!(again["warnings"][0]["repeats_seq"], first["message"]["seq"]);
    let rude = app.say(&conv, &agent_token, "不是告诉你了么").await?;
    assert_eq!(
        kinds(&rude["warnings"]),
        [("forbidden_phrase".to_owned(), "不是告诉你了".to_owned())]
    );

    let flags = expect_status(app.get("/v1/qa/flags", Some(ADMIN_KEY)).await?, 200).await?;
    let items = flags["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 2, "{flags}");
    assert_eq!(items[0]["text"], "不是告诉你了么", "newest first");
    assert_eq!(items[1]["seq"], again["message"]["seq"]);
    for item in &items {
        assert_eq!(item["conversation_id"], conv.as_str());
        assert_eq!(item["agent_id"], agent_id.as_str());
        assert_eq!(item["agent_name"], "小王");
    }
    let by_agent = expect_status(
        app.get(
            &format!("/v1/qa/flags?agent_id={agent_id}&limit=1"),
            Some(ADMIN_KEY),
        )
        .await?,
        200,
    )
    .await?;
    assert_eq!(by_agent["items"].as_array().map(Vec::len), Some(1));
    let elsewhere = expect_status(
        app.get("/v1/qa/flags?conversation_id=conv_none", Some(ADMIN_KEY))
            .await?,
        200,
    )
    .await?;
    assert_eq!(elsewhere["items"], json!([]));
    // Agents do not read the team's flags.
    expect_error(
        app.get("/v1/qa/flags", Some(&agent_token)).await?,
        403,
        "forbidden",
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn a_retried_message_is_not_its_own_repeat() -> Result<()> {
    let app = spawn_gateway().await?;
    let (conv, _, _, agent_token) = assigned(&app).await?;
    let text = "亲，您的订单已发货，物流单号可以在订单详情里查看哦";
    let first = expect_status(app.send(&conv, &agent_token, text, "retry-1").await?, 201).await?;
    let retry = expect_status(app.send(&conv, &agent_token, text, "retry-1").await?, 201).await?;
    assert_eq!(retry["message"]["id"], first["message"]["id"]);
    assert!(retry.get("warnings").is_none(), "{retry}");
    Ok(())
}

#[tokio::test]
async fn the_shop_replaces_the_phrase_list() -> Result<()> {
    let app = spawn_gateway().await?;
    let (conv, _, _, agent_token) = assigned(&app).await?;
    let shipped = expect_status(app.get("/v1/qa/phrases", Some(ADMIN_KEY)).await?, 200).await?;
    assert!(shipped["items"]
        .as_array()
        .is_some_and(|p| p.iter().any(|p| p["phrase"] == "不关我的事")));

    let mine = json!({"items": [{"phrase": "稍安勿躁", "category": "rude", "suggestion": "理解您的心情"}]});
    let replaced = expect_status(
        app.put("/v1/qa/phrases", Some(ADMIN_KEY), &mine).await?,
        200,
    )
    .await?;
    assert_eq!(replaced["items"][0]["phrase"], "稍安勿躁");
    let path = format!("/v1/conversations/{conv}/messages?check_only=true");
    let checked = expect_status(
        app.post(
            &path,
            Some(&agent_token),
            &json!({"text": "稍安勿躁，不知道"}),
        )
        .await?,
        200,
    )
    .await?;
    assert_eq!(
        kinds(&checked["warnings"]),
        [("forbidden_phrase".to_owned(), "稍安勿躁".to_owned())],
        "the shop's list replaces the shipped one"
    );

    for bad in [
        json!({"items": [{"phrase": " ", "category": "rude"}]}),
        json!({"items": [{"phrase": "x", "category": "friendly"}]}),
        json!({"items": [{"phrase": "a", "category": "rude"}, {"phrase": "A", "category": "rude"}]}),
    ] {
        expect_error(
            app.put("/v1/qa/phrases", Some(ADMIN_KEY), &bad).await?,
            422,
            "invalid_field",
        )
        .await?;
    }
    expect_error(
        app.put("/v1/qa/phrases", Some(&agent_token), &mine).await?,
        403,
        "forbidden",
    )
    .await?;
    Ok(())
}
