//! The routing policy through the running server: accept timeouts, lost agents, transfers,
//! escalations, stickiness, draining, priority, the queue estimate and the metrics.

use crate::helpers::*;
use anyhow::{anyhow, Result};
use serde_json::{json, Value};
use std::time::Duration;

/// A gateway whose timeouts are short enough for a test.
async fn fast_gateway() -> Result<TestApp> {
    spawn_with(tempfile::tempdir()?, |s| {
        s.routing.accept_timeout_secs = 1;
        s.routing.disconnect_grace_secs = 1;
        s.routing_tick_ms = 100;
    })
    .await
}

async fn supervisor(app: &TestApp, name: &str, skills: &[&str]) -> Result<(String, String)> {
    let res = app
        .post(
            "/v1/agents",
            Some(ADMIN_KEY),
            &json!({"name": name, "skills": skills, "max_concurrent": 3, "role": "supervisor"}),
        )
        .await?;
    let body = expect_status(res, 201).await?;
    Ok((str_at(&body, "/agent/id")?, str_at(&body, "/token")?))
}

async fn routing(app: &TestApp, conversation: &str) -> Result<Vec<Value>> {
    let body = expect_status(
        app.get(
            &format!("/v1/conversations/{conversation}/routing"),
            Some(ADMIN_KEY),
        )
        .await?,
        200,
    )
    .await?;
    body["items"]
        .as_array()
        .cloned()
        .ok_or_else(|| anyhow!("no items: {body}"))
}

async fn assignee(app: &TestApp, conversation: &str, token: &str) -> Result<Option<String>> {
    Ok(
        app.conversation(conversation, token).await?["assignee"]["id"]
            .as_str()
            .map(str::to_owned),
    )
}

async fn agent_record(app: &TestApp, id: &str) -> Result<Value> {
    expect_status(
        app.get(&format!("/v1/agents/{id}"), Some(ADMIN_KEY))
            .await?,
        200,
    )
    .await
}

/// The assigned agent answers; expects 201.
async fn agent_says(
    app: &TestApp,
    conversation: &str,
    agent_token: &str,
    text: &str,
) -> Result<()> {
    let path = format!("/v1/conversations/{conversation}/messages");
    let body = json!({"text": text, "client_message_id": uuid_like()});
    expect_status(app.post(&path, Some(agent_token), &body).await?, 201).await?;
    Ok(())
}

/// The agent resolves; expects 200.
async fn resolve(app: &TestApp, conversation: &str, agent_token: &str) -> Result<()> {
    let path = format!("/v1/conversations/{conversation}/resolve");
    let body = json!({"outcome": "resolved"});
    expect_status(app.post(&path, Some(agent_token), &body).await?, 200).await?;
    Ok(())
}

/// Hands a new zh-CN conversation to people; returns (id, customer token).
async fn handed_off(app: &TestApp) -> Result<(String, String)> {
    let (conv, token) = app.start_conversation("zh-CN").await?;
    app.say(&conv, &token, "转人工").await?;
    Ok((conv, token))
}

#[tokio::test]
async fn an_agent_who_does_not_answer_in_time_loses_the_conversation_to_the_next() -> Result<()> {
    let app = fast_gateway().await?;
    let (slow_id, slow_token) = app.create_agent("慢", &["zh"], 3).await?;
    app.set_presence(&slow_token, "online").await?;
    let mut slow = app.agent_ws(&slow_token).await?;
    let (conv, token) = handed_off(&app).await?;
    assert_eq!(
        slow.next_of("assigned").await?["conversation_id"],
        conv.as_str()
    );

    let (next_id, next_token) = app.create_agent("快", &["zh"], 3).await?;
    app.set_presence(&next_token, "online").await?;
    let mut next = app.agent_ws(&next_token).await?;
    // Nobody answers: after the accept timeout the conversation moves on, context and all.
    let unassigned = slow.next_of("unassigned").await?;
    assert_eq!(unassigned["reason"], "accept_timeout");
    let assigned = next.next_of("assigned").await?;
    assert_eq!(assigned["conversation_id"], conv.as_str());
    assert!(assigned["context"]["summary"].as_str().is_some());
    assert_eq!(assignee(&app, &conv, &token).await?, Some(next_id.clone()));

    // The new agent answers in time and keeps it.
    agent_says(&app, &conv, &next_token, "您好，我来帮您处理").await?;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(assignee(&app, &conv, &token).await?, Some(next_id.clone()));

    let events: Vec<(String, String)> = routing(&app, &conv)
        .await?
        .iter()
        .map(|r| {
            (
                r["event"].as_str().unwrap_or_default().to_owned(),
                r["agent_id"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        events,
        vec![
            ("assigned".to_owned(), slow_id.clone()),
            ("accept_timeout".to_owned(), slow_id.clone()),
            ("assigned".to_owned(), next_id),
        ]
    );
    assert_eq!(agent_record(&app, &slow_id).await?["missed_accepts"], 1);
    assert_eq!(agent_record(&app, &slow_id).await?["load"], 0);
    let metrics = app.metrics_text().await?;
    assert!(
        metrics.contains("gateway_routing_accept_timeouts_total 1"),
        "{metrics}"
    );
    Ok(())
}

#[tokio::test]
async fn an_agent_whose_socket_stays_away_goes_away_and_the_conversation_returns_first(
) -> Result<()> {
    let app = fast_gateway().await?;
    let (lost_id, lost_token) = app.create_agent("断线", &["zh"], 1).await?;
    app.set_presence(&lost_token, "online").await?;
    let mut lost = app.agent_ws(&lost_token).await?;
    let (first, first_token) = handed_off(&app).await?;
    assert_eq!(
        lost.next_of("assigned").await?["conversation_id"],
        first.as_str()
    );
    // The agent answers, so only the dropped socket can take the conversation back.
    agent_says(&app, &first, &lost_token, "在的").await?;
    // A second customer waits behind; the returned one must go before them.
    let (second, second_token) = handed_off(&app).await?;
    assert_eq!(
        app.conversation(&second, &second_token).await?["state"],
        "queued"
    );

    lost.close().await?;
    // Losing an agent is several steps (away; its conversations back to the queue; the
    // routing record): wait for all of them.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let agent = agent_record(&app, &lost_id).await?;
        let state = app.conversation(&first, &first_token).await?["state"].clone();
        let last = routing(&app, &first)
            .await?
            .last()
            .map(|r| r["event"].clone());
        if agent["status"] == "away" && state == "queued" && last == Some(json!("agent_lost")) {
            break;
        }
        if tokio::time::Instant::now() > deadline {
            return Err(anyhow!("the agent never went away: {agent}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let view = app.conversation(&first, &first_token).await?;
    assert_eq!(view["state"], "queued");
    assert_eq!(
        view["queue"]["position"], 1,
        "returned to the front: {view}"
    );
    let events = routing(&app, &first).await?;
    assert_eq!(
        events.last().map(|r| r["event"].clone()),
        Some(json!("agent_lost"))
    );

    // The next agent gets the returned conversation first.
    let (_, next_token) = app.create_agent("接手", &["zh"], 1).await?;
    let mut next = app.agent_ws(&next_token).await?;
    app.set_presence(&next_token, "online").await?;
    assert_eq!(
        next.next_of("assigned").await?["conversation_id"],
        first.as_str()
    );
    Ok(())
}

#[tokio::test]
async fn a_transfer_to_a_skill_brings_the_note_and_the_whole_context() -> Result<()> {
    let app = spawn_gateway().await?;
    let (from_id, from_token) = app.create_agent("售前", &["zh"], 3).await?;
    app.set_presence(&from_token, "online").await?;
    let (conv, token) = handed_off(&app).await?;
    assert_eq!(assignee(&app, &conv, &token).await?, Some(from_id.clone()));

    let (to_id, to_token) = app.create_agent("售后", &["zh", "aftersales"], 3).await?;
    app.set_presence(&to_token, "online").await?;
    let mut to = app.agent_ws(&to_token).await?;
    let path = format!("/v1/conversations/{conv}/transfer");
    let moved = expect_status(
        app.post(
            &path,
            Some(&from_token),
            &json!({"skill": "aftersales", "note": "客户要退货，订单已签收"}),
        )
        .await?,
        200,
    )
    .await?;
    assert_eq!(moved["assignee"]["id"], to_id.as_str());
    let assigned = to.next_of("assigned").await?;
    assert_eq!(assigned["conversation_id"], conv.as_str());
    let notes = &assigned["context"]["notes"];
    assert_eq!(notes[0]["note"], "客户要退货，订单已签收");
    assert_eq!(notes[0]["from_agent_id"], from_id.as_str());
    assert_eq!(notes[0]["target"], "skill:aftersales");
    assert!(assigned["context"]["transcript"]
        .as_array()
        .is_some_and(|t| t.len() >= 3));

    // The agent who handed it on has nothing left to do with it.
    expect_error(
        app.post(
            &path,
            Some(&from_token),
            &json!({"skill": "zh", "note": "x"}),
        )
        .await?,
        403,
        "forbidden",
    )
    .await?;
    let events = routing(&app, &conv).await?;
    assert_eq!(events[1]["event"], "transferred");
    assert_eq!(events[1]["note"], "客户要退货，订单已签收");
    Ok(())
}

#[tokio::test]
async fn a_transfer_to_a_named_agent_needs_them_online_with_room() -> Result<()> {
    let app = spawn_gateway().await?;
    let (from_id, from_token) = app.create_agent("A", &["zh"], 3).await?;
    app.set_presence(&from_token, "online").await?;
    let (conv, token) = handed_off(&app).await?;
    let (named_id, named_token) = app.create_agent("B", &["zh"], 1).await?;
    let path = format!("/v1/conversations/{conv}/transfer");
    let to_named = json!({"agent_id": named_id, "note": "请您接手"});

    expect_error(
        app.post(&path, Some(&from_token), &to_named).await?,
        409,
        "agent_unavailable",
    )
    .await?;
    assert_eq!(assignee(&app, &conv, &token).await?, Some(from_id.clone()));
    for bad in [
        json!({"note": "no target"}),
        json!({"skill": "zh", "agent_id": named_id, "note": "both"}),
        json!({"agent_id": named_id, "note": "   "}),
        json!({"agent_id": named_id}),
    ] {
        let res = app.post(&path, Some(&from_token), &bad).await?;
        assert_eq!(res.status().as_u16(), 422, "{bad}");
    }
    expect_error(
        app.post(
            &path,
            Some(&from_token),
            &json!({"agent_id": "agt_missing", "note": "x"}),
        )
        .await?,
        404,
        "not_found",
    )
    .await?;

    app.set_presence(&named_token, "online").await?;
    let moved = expect_status(app.post(&path, Some(&from_token), &to_named).await?, 200).await?;
    assert_eq!(moved["assignee"]["id"], named_id.as_str());
    assert_eq!(agent_record(&app, &from_id).await?["load"], 0);
    Ok(())
}

#[tokio::test]
async fn an_escalation_goes_to_a_supervisor() -> Result<()> {
    let app = spawn_gateway().await?;
    let (_, agent_token) = app.create_agent("A", &["zh"], 3).await?;
    app.set_presence(&agent_token, "online").await?;
    let (conv, _) = handed_off(&app).await?;
    let path = format!("/v1/conversations/{conv}/escalate");
    expect_error(
        app.post(&path, Some(&agent_token), &json!({"note": "客户要求主管"}))
            .await?,
        409,
        "no_supervisor",
    )
    .await?;

    let (sup_id, sup_token) = supervisor(&app, "张主管", &["zh"]).await?;
    app.set_presence(&sup_token, "online").await?;
    // An idle ordinary agent is passed over: escalations are for supervisors.
    let (_, idle_token) = app.create_agent("空闲", &["zh"], 3).await?;
    app.set_presence(&idle_token, "online").await?;
    let moved = expect_status(
        app.post(&path, Some(&agent_token), &json!({"note": "客户要求主管"}))
            .await?,
        200,
    )
    .await?;
    assert_eq!(moved["assignee"]["id"], sup_id.as_str());
    let context = expect_status(
        app.get(
            &format!("/v1/conversations/{conv}/context"),
            Some(&sup_token),
        )
        .await?,
        200,
    )
    .await?;
    assert_eq!(context["notes"][0]["kind"], "escalate");
    let record = routing(&app, &conv).await?;
    let last = record.last().ok_or_else(|| anyhow!("no records"))?;
    assert!(last["candidates"].as_array().is_some_and(|c| c
        .iter()
        .any(|c| c["rejected"]["reason"] == "not_supervisor")));
    Ok(())
}

#[tokio::test]
async fn a_returning_customer_goes_back_to_their_agent() -> Result<()> {
    let app = spawn_gateway().await?;
    let (first_id, first_token) = app.create_agent("老朋友", &["zh"], 5).await?;
    app.set_presence(&first_token, "online").await?;
    let (conv, token) = handed_off(&app).await?;
    assert_eq!(assignee(&app, &conv, &token).await?, Some(first_id.clone()));
    resolve(&app, &conv, &first_token).await?;
    // Someone idler comes online; the first agent holds two other conversations.
    for _ in 0..2 {
        handed_off(&app).await?;
    }
    let (_, idle_token) = app.create_agent("空闲", &["zh"], 5).await?;
    app.set_presence(&idle_token, "online").await?;

    app.say(&conv, &token, "我又来了").await?;
    app.say(&conv, &token, "转人工").await?;
    assert_eq!(assignee(&app, &conv, &token).await?, Some(first_id));
    let record = routing(&app, &conv).await?;
    assert_eq!(
        record.last().map(|r| r["rule"].clone()),
        Some(json!("sticky"))
    );
    Ok(())
}

#[tokio::test]
async fn a_draining_agent_keeps_its_conversations_and_takes_no_new_one() -> Result<()> {
    let app = spawn_gateway().await?;
    let (agent_id, agent_token) = app.create_agent("A", &["zh"], 3).await?;
    app.set_presence(&agent_token, "online").await?;
    let (held, held_token) = handed_off(&app).await?;
    app.set_presence(&agent_token, "draining").await?;
    let (waiting, waiting_token) = handed_off(&app).await?;
    assert_eq!(
        app.conversation(&waiting, &waiting_token).await?["state"],
        "queued"
    );
    assert_eq!(
        assignee(&app, &held, &held_token).await?,
        Some(agent_id.clone())
    );
    agent_says(&app, &held, &agent_token, "还在处理").await?;
    assert_eq!(agent_record(&app, &agent_id).await?["status"], "draining");
    Ok(())
}

#[tokio::test]
async fn an_angry_customer_is_served_before_a_calm_one_who_came_first() -> Result<()> {
    let app = spawn_gateway().await?;
    // Every specialty, so that no preferred skill keeps anyone waiting here.
    let all = [
        "zh",
        "presales",
        "orders",
        "logistics",
        "aftersales",
        "complaints",
    ];
    let (_, agent_token) = app.create_agent("A", &all, 1).await?;
    app.set_presence(&agent_token, "online").await?;
    let (busy, _) = handed_off(&app).await?;
    let (calm, calm_token) = handed_off(&app).await?;
    let (angry, angry_token) = app.start_conversation("zh-CN").await?;
    app.say(
        &angry,
        &angry_token,
        "你们太垃圾了，气死我了，骗子店铺，我要投诉！",
    )
    .await?;
    let angry_view = app.conversation(&angry, &angry_token).await?;
    assert_eq!(angry_view["state"], "queued", "{angry_view}");
    assert_eq!(angry_view["queue"]["position"], 1, "{angry_view}");
    assert_eq!(
        app.conversation(&calm, &calm_token).await?["queue"]["position"],
        2
    );

    resolve(&app, &busy, &agent_token).await?;
    assert_eq!(
        app.conversation(&angry, &angry_token).await?["state"],
        "assigned"
    );
    let record = routing(&app, &angry).await?;
    let score = &record[0]["score"];
    assert!(score["anger"].as_f64().is_some_and(|a| a > 0.0), "{score}");
    assert!(score["sla_slack"].as_f64().is_some(), "{score}");
    Ok(())
}

#[tokio::test]
async fn waiting_customers_hear_their_place_and_wait_as_they_change() -> Result<()> {
    let app = spawn_gateway().await?;
    let (_, agent_token) = app.create_agent("A", &["zh"], 1).await?;
    app.set_presence(&agent_token, "online").await?;
    // The only seat is taken: the next two wait.
    handed_off(&app).await?;
    let (first, first_token) = handed_off(&app).await?;
    let (second, second_token) = app.start_conversation("zh-CN").await?;
    let mut ws = app.customer_ws(&second, &second_token, None).await?;
    app.say(&second, &second_token, "转人工").await?;
    let place = ws.next_of("queue").await?;
    assert_eq!(place["position"], 2);
    let eta_at_2 = place["eta_seconds"].as_u64().unwrap_or_default();
    assert!(eta_at_2 > 0, "{place}");
    let view = app.conversation(&first, &first_token).await?;
    assert_eq!(view["queue"]["position"], 1);

    // The first waiting customer leaves: the second moves up, and hears it.
    expect_status(
        app.post(
            &format!("/v1/conversations/{first}/close"),
            Some(&first_token),
            &json!({}),
        )
        .await?,
        200,
    )
    .await?;
    let place = ws.next_of("queue").await?;
    assert_eq!(place["position"], 1);
    assert!(
        place["eta_seconds"].as_u64().unwrap_or(u64::MAX) < eta_at_2,
        "{place}"
    );
    Ok(())
}

/// Starts a conversation for a shop-signed customer.
async fn signed_conversation(
    app: &TestApp,
    external_id: &str,
    signature: &str,
    vip: bool,
) -> Result<reqwest::Response> {
    app.post(
        "/v1/conversations",
        None,
        &json!({"customer": {"external_id": external_id, "signature": signature, "vip": vip, "locale": "zh-CN"}}),
    )
    .await
}

#[tokio::test]
async fn a_verified_customer_goes_back_to_their_agent_in_a_new_conversation() -> Result<()> {
    const SECRET: &str = "shop-secret-for-tests";
    let app = spawn_with(tempfile::tempdir()?, |s| {
        s.shop_secret = Some(SECRET.into());
    })
    .await?;
    let signature = gateway::auth::sign_customer(SECRET, "user-42");
    expect_error(
        signed_conversation(&app, "user-42", "00ff", false).await?,
        401,
        "unauthorized",
    )
    .await?;
    expect_error(
        signed_conversation(&app, "user-43", &signature, false).await?,
        401,
        "unauthorized",
    )
    .await?;
    let res = app
        .post(
            "/v1/conversations",
            None,
            &json!({"customer": {"signature": signature}}),
        )
        .await?;
    assert_eq!(res.status().as_u16(), 422);

    let (first_agent, first_token) = app.create_agent("老朋友", &["zh", "vip"], 5).await?;
    app.set_presence(&first_token, "online").await?;
    let body = expect_status(
        signed_conversation(&app, "user-42", &signature, true).await?,
        201,
    )
    .await?;
    let (conv, token) = (str_at(&body, "/conversation/id")?, str_at(&body, "/token")?);
    assert_eq!(body["conversation"]["customer"]["verified"], true);
    assert_eq!(body["conversation"]["customer"]["vip"], true);
    app.say(&conv, &token, "转人工").await?;
    assert_eq!(
        assignee(&app, &conv, &token).await?,
        Some(first_agent.clone())
    );
    let score = &routing(&app, &conv).await?[0]["score"];
    assert_eq!(
        score["value"], 60.0,
        "a verified VIP is worth more: {score}"
    );
    resolve(&app, &conv, &first_token).await?;

    // A busier first agent, an idle second one; the customer comes back in a new conversation.
    handed_off(&app).await?;
    let (_, idle_token) = app.create_agent("空闲", &["zh"], 5).await?;
    app.set_presence(&idle_token, "online").await?;
    let body = expect_status(
        signed_conversation(&app, "user-42", &signature, false).await?,
        201,
    )
    .await?;
    let (again, again_token) = (str_at(&body, "/conversation/id")?, str_at(&body, "/token")?);
    app.say(&again, &again_token, "转人工").await?;
    assert_eq!(
        assignee(&app, &again, &again_token).await?,
        Some(first_agent)
    );
    let record = routing(&app, &again).await?;
    assert_eq!(record[0]["rule"], "sticky");

    // An unsigned customer claiming VIP is not one.
    let (plain, plain_token) = app.start_conversation("zh-CN").await?;
    assert_eq!(
        app.conversation(&plain, &plain_token).await?["customer"]["vip"],
        false
    );
    Ok(())
}
