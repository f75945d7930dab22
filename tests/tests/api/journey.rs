//! The whole customer → bot → handoff → agent → resolve → rating path.

use crate::helpers::*;
use anyhow::{Context, Result};
use serde_json::{json, Value};

#[tokio::test]
async fn customer_is_answered_handed_off_served_by_an_agent_and_rates() -> Result<()> {
    let app = spawn_gateway().await?;
    let (conv, token) = app.start_conversation("zh-CN").await?;
    let mut customer = app.customer_ws(&conv, &token, None).await?;
    assert_eq!(customer.next_of("state").await?["state"], "bot");

    // A known FAQ question is answered by the bot in the same response.
    let faq = demo_article("shipping", "zh-CN")?;
    let posted = app.say(&conv, &token, &faq.question).await?;
    assert_eq!(posted["message"]["author"]["role"], "customer");
    assert_eq!(posted["replies"][0]["author"]["role"], "bot");
    assert_eq!(posted["replies"][0]["bot"]["decision"], "answer");
    assert_eq!(posted["replies"][0]["bot"]["article_id"], faq.id.as_str());
    assert_eq!(posted["replies"][0]["text"], faq.answer.as_str());
    assert_eq!(posted["conversation"]["state"], "bot");

    // The customer mentions an order, then asks for a person.
    app.say(&conv, &token, "订单号 2024112212345678 一直显示待发货")
        .await?;
    let posted = app.say(&conv, &token, "我要转人工").await?;
    assert_eq!(posted["replies"][0]["bot"]["decision"], "handoff");
    assert_eq!(
        posted["replies"][0]["bot"]["reasons"],
        json!(["explicit_request"])
    );
    assert_eq!(posted["conversation"]["state"], "queued");
    assert_eq!(posted["conversation"]["queue"]["position"], 1);
    let queue = customer.next_of("queue").await.context("queue event")?;
    assert_eq!(queue["position"], 1);
    assert_eq!(queue["conversation_id"], conv.as_str());

    // An agent comes online and gets the conversation with its context.
    let (agent_id, agent_token) = app
        .create_agent("小王", &["zh", "logistics", "orders"], 3)
        .await?;
    let mut agent = app.agent_ws(&agent_token).await?;
    app.set_presence(&agent_token, "online").await?;
    let assigned = agent.next_of("assigned").await.context("assigned event")?;
    assert_eq!(assigned["conversation_id"], conv.as_str());
    let context = &assigned["context"];
    assert_eq!(context["handoff_reasons"], json!(["explicit_request"]));
    assert_eq!(
        context["entities"]["order_ids"],
        json!(["2024112212345678"])
    );
    let questions: Vec<&str> = context["questions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        questions,
        [
            faq.question.as_str(),
            "订单号 2024112212345678 一直显示待发货",
            "我要转人工"
        ]
    );
    assert!(
        context["transcript"]
            .as_array()
            .is_some_and(|t| t.len() >= 6),
        "{context}"
    );
    assert!(
        context["summary"]
            .as_str()
            .is_some_and(|s| s.contains("2024112212345678")),
        "{context}"
    );
    assert_eq!(context["bot_attempts"][0]["article_id"], faq.id.as_str());
    let skills = context["required_skills"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        skills.contains(&json!("zh")),
        "the language skill is always required: {skills:?}"
    );

    let state = customer
        .next_of("state")
        .await
        .context("assigned state event")?;
    assert_eq!(state["state"], "assigned");
    assert_eq!(state["assignee"]["id"], agent_id.as_str());
    assert_eq!(state["assignee"]["name"], "小王");

    // The context is also readable over HTTP by the agent, not by the customer.
    let ctx = expect_status(
        app.get(
            &format!("/v1/conversations/{conv}/context"),
            Some(&agent_token),
        )
        .await?,
        200,
    )
    .await?;
    assert_eq!(ctx["entities"]["order_ids"], json!(["2024112212345678"]));
    expect_error(
        app.get(&format!("/v1/conversations/{conv}/context"), Some(&token))
            .await?,
        403,
        "forbidden",
    )
    .await?;

    // The agent's reply reaches the customer's socket; the customer's reply reaches the agent.
    let reply = app
        .say(&conv, &agent_token, "您好，我是小王，马上帮您查这个订单。")
        .await?;
    assert_eq!(reply["message"]["author"]["role"], "agent");
    let seen = customer
        .messages_until(|m| m["author"]["role"] == "agent")
        .await
        .context("agent reply")?;
    assert_eq!(
        seen.last().map(|m| m["text"].clone()),
        Some(json!("您好，我是小王，马上帮您查这个订单。"))
    );
    let posted = app.say(&conv, &token, "好的谢谢").await?;
    assert!(
        posted["replies"].as_array().is_some_and(Vec::is_empty),
        "the bot stays quiet once a person holds the chat"
    );
    let relayed = agent
        .messages_until(|m| m["text"] == "好的谢谢")
        .await
        .context("customer message to agent")?;
    assert_eq!(
        relayed.last().map(|m| m["author"]["role"].clone()),
        Some(json!("customer"))
    );

    // Resolve, be invited to rate, rate once.
    let resolved = expect_status(
        app.post(
            &format!("/v1/conversations/{conv}/resolve"),
            Some(&agent_token),
            &json!({"outcome": "resolved"}),
        )
        .await?,
        200,
    )
    .await?;
    assert_eq!(resolved["state"], "resolved");
    customer
        .next_of("rating_request")
        .await
        .context("rating request")?;
    let rated = expect_status(
        app.post(
            &format!("/v1/conversations/{conv}/rating"),
            Some(&token),
            &json!({"rating": "satisfied", "comment": "很快"}),
        )
        .await?,
        201,
    )
    .await?;
    assert_eq!(rated["rating"]["rating"], "satisfied");
    expect_error(
        app.post(
            &format!("/v1/conversations/{conv}/rating"),
            Some(&token),
            &json!({"rating": "neutral"}),
        )
        .await?,
        409,
        "already_rated",
    )
    .await?;

    // The agent's load is back to zero.
    let me = expect_status(app.get("/v1/agents/me", Some(&agent_token)).await?, 200).await?;
    assert_eq!(me["load"], 0);
    Ok(())
}

#[tokio::test]
async fn english_customer_is_answered_in_english() -> Result<()> {
    let app = spawn_gateway().await?;
    let (conv, token) = app.start_conversation("en").await?;
    let faq = demo_article("return_refund", "en")?;
    let posted = app.say(&conv, &token, &faq.question).await?;
    assert_eq!(posted["replies"][0]["bot"]["decision"], "answer");
    assert_eq!(posted["replies"][0]["bot"]["article_id"], faq.id.as_str());
    Ok(())
}

#[tokio::test]
async fn every_wording_of_asking_for_a_person_hands_off() -> Result<()> {
    let app = spawn_gateway().await?;
    for text in [
        "转人工",
        "人工客服",
        "human",
        "agent",
        "I want to talk to a real person please",
        "能不能找个真人",
    ] {
        let (conv, token) = app.start_conversation("zh-CN").await?;
        let posted = app.say(&conv, &token, text).await?;
        assert_eq!(posted["replies"][0]["bot"]["decision"], "handoff", "{text}");
        assert_eq!(posted["conversation"]["state"], "queued", "{text}");
    }
    Ok(())
}

#[tokio::test]
async fn the_handoff_button_queues_the_conversation() -> Result<()> {
    let app = spawn_gateway().await?;
    let (conv, token) = app.start_conversation("zh-CN").await?;
    let res = app
        .post(
            &format!("/v1/conversations/{conv}/handoff"),
            Some(&token),
            &json!({}),
        )
        .await?;
    let view = expect_status(res, 200).await?;
    assert_eq!(view["state"], "queued");
    assert_eq!(view["queue"]["position"], 1);
    assert!(view["queue"]["eta_seconds"].as_u64().is_some());
    let ctx = expect_status(
        app.get(
            &format!("/v1/conversations/{conv}/context"),
            Some(ADMIN_KEY),
        )
        .await?,
        200,
    )
    .await?;
    assert_eq!(ctx["handoff_reasons"], json!(["customer_button"]));
    Ok(())
}

#[tokio::test]
async fn unknown_questions_are_not_answered_and_two_in_a_row_hand_off() -> Result<()> {
    let app = spawn_gateway().await?;
    let (conv, token) = app.start_conversation("zh-CN").await?;
    let first = app.say(&conv, &token, "你们老板喜欢什么颜色的猫").await?;
    assert_ne!(first["replies"][0]["bot"]["decision"], "answer", "{first}");
    assert_eq!(first["conversation"]["state"], "bot");
    let second = app.say(&conv, &token, "火星上能收到快递吗宇宙飞船").await?;
    assert_eq!(
        second["replies"][0]["bot"]["decision"], "handoff",
        "{second}"
    );
    assert_eq!(
        second["replies"][0]["bot"]["reasons"],
        json!(["repeated_failure"])
    );
    assert_eq!(second["conversation"]["state"], "queued");
    Ok(())
}

#[tokio::test]
async fn a_repeated_client_message_id_returns_the_original_and_stores_nothing() -> Result<()> {
    let app = spawn_gateway().await?;
    let (conv, token) = app.start_conversation("zh-CN").await?;
    let faq = demo_article("payment", "zh-CN")?;
    let first = expect_status(
        app.send(&conv, &token, &faq.question, "same-id").await?,
        201,
    )
    .await?;
    let again = expect_status(
        app.send(&conv, &token, &faq.question, "same-id").await?,
        201,
    )
    .await?;
    assert_eq!(first["message"], again["message"]);
    assert_eq!(first["replies"], again["replies"]);
    let page = expect_status(
        app.get(&format!("/v1/conversations/{conv}/messages"), Some(&token))
            .await?,
        200,
    )
    .await?;
    let seqs: Vec<u64> = page["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["seq"].as_u64())
        .collect();
    assert_eq!(seqs, [1, 2], "one customer message and one bot reply");
    Ok(())
}

#[tokio::test]
async fn the_bot_stays_quiet_after_handoff_and_a_repeated_question_is_counted() -> Result<()> {
    let app = spawn_gateway().await?;
    let (conv, token) = app.start_conversation("zh-CN").await?;
    let faq = demo_article("return_refund", "zh-CN")?;
    app.say(&conv, &token, &faq.question).await?;
    app.say(&conv, &token, "转人工").await?;
    // Queued: the bot never answers again, and asking the same thing again is noticed.
    let posted = app.say(&conv, &token, &faq.question).await?;
    assert!(
        posted["replies"].as_array().is_some_and(Vec::is_empty),
        "{posted}"
    );
    assert_eq!(posted["conversation"]["repeats_after_handoff"], 1);
    let posted = app.say(&conv, &token, "请问什么时候能处理").await?;
    assert_eq!(
        posted["conversation"]["repeats_after_handoff"], 1,
        "a new question is no repeat"
    );
    Ok(())
}

#[tokio::test]
async fn a_resolved_conversation_the_customer_comes_back_to_starts_with_the_bot() -> Result<()> {
    let app = spawn_gateway().await?;
    let (_, agent_token) = app.create_agent("小王", &["zh"], 2).await?;
    app.set_presence(&agent_token, "online").await?;
    let (conv, token) = app.start_conversation("zh-CN").await?;
    app.say(&conv, &token, "转人工").await?;
    expect_status(
        app.post(
            &format!("/v1/conversations/{conv}/resolve"),
            Some(&agent_token),
            &json!({"outcome": "resolved"}),
        )
        .await?,
        200,
    )
    .await?;
    let faq = demo_article("invoice", "zh-CN")?;
    let posted = app.say(&conv, &token, &faq.question).await?;
    assert_eq!(posted["replies"][0]["bot"]["article_id"], faq.id.as_str());
    assert_eq!(posted["conversation"]["state"], "bot");
    assert!(posted["conversation"].get("assignee").is_none(), "{posted}");
    // The earlier handoff context is still there for the next agent.
    let ctx = expect_status(
        app.get(
            &format!("/v1/conversations/{conv}/context"),
            Some(ADMIN_KEY),
        )
        .await?,
        200,
    )
    .await?;
    assert_eq!(ctx["handoff_reasons"], json!(["explicit_request"]));
    Ok(())
}

#[tokio::test]
async fn conversation_ids_grow_in_creation_order() -> Result<()> {
    // Time-ordered ids keep the conversations being written at one time next to each other in
    // the embedded store's B-trees (fewer pages written per commit).
    let app = spawn_gateway().await?;
    let mut ids = Vec::new();
    for _ in 0..20 {
        ids.push(app.start_conversation("zh-CN").await?.0);
    }
    for id in &ids {
        let hex = id.strip_prefix("conv_").unwrap_or_default();
        assert!(
            hex.len() == 32 && hex.chars().all(|c| c.is_ascii_hexdigit()),
            "{id}"
        );
    }
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    Ok(())
}
