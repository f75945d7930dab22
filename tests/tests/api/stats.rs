//! KPIs (`GET /v1/stats`) from a scripted timeline on a manual clock: every figure is known
//! in advance to the second and checked exactly.

use crate::helpers::*;
use anyhow::Result;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

/// 2026-11-02 09:00 in China (UTC+8), a Monday.
fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-02T01:00:00Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

struct Timeline {
    app: TestApp,
    clock: gateway::Clock,
}

impl Timeline {
    fn wait(&self, seconds: i64) {
        self.clock.advance(Duration::seconds(seconds));
    }

    async fn agent_says(&self, conv: &str, agent: &str, text: &str) -> Result<()> {
        expect_status(
            self.app
                .post(
                    &format!("/v1/conversations/{conv}/messages"),
                    Some(agent),
                    &json!({"text": text, "client_message_id": uuid_like()}),
                )
                .await?,
            201,
        )
        .await?;
        Ok(())
    }

    async fn handoff_button(&self, conv: &str, token: &str) -> Result<Value> {
        expect_status(
            self.app
                .post(
                    &format!("/v1/conversations/{conv}/handoff"),
                    Some(token),
                    &json!({}),
                )
                .await?,
            200,
        )
        .await
    }

    async fn resolve(&self, conv: &str, agent: &str) -> Result<()> {
        expect_status(
            self.app
                .post(
                    &format!("/v1/conversations/{conv}/resolve"),
                    Some(agent),
                    &json!({"outcome": "resolved"}),
                )
                .await?,
            200,
        )
        .await?;
        Ok(())
    }

    async fn rate(&self, conv: &str, token: &str, rating: &str, reasons: &[&str]) -> Result<()> {
        expect_status(
            self.app
                .post(
                    &format!("/v1/conversations/{conv}/rating"),
                    Some(token),
                    &json!({"rating": rating, "reasons": reasons}),
                )
                .await?,
            201,
        )
        .await?;
        Ok(())
    }

    async fn stats(&self, query: &str, token: &str) -> Result<Value> {
        expect_status(
            self.app
                .get(&format!("/v1/stats?{query}"), Some(token))
                .await?,
            200,
        )
        .await
    }
}

fn assignee(view: &Value) -> Value {
    view["conversation"]["assignee"]["id"].clone()
}

#[tokio::test]
async fn every_kpi_of_a_scripted_timeline_is_exact() -> Result<()> {
    let clock = gateway::Clock::manual(t0());
    let moved = clock.clone();
    let app = spawn_with(tempfile::tempdir()?, move |s| {
        s.clock = moved;
        // The timeline decides when agents answer; no timeout may move a conversation.
        s.routing.accept_timeout_secs = 864_000;
        s.routing.disconnect_grace_secs = 864_000;
    })
    .await?;
    let tl = Timeline { app, clock };
    let app = &tl.app;
    let skills = [
        "zh",
        "presales",
        "orders",
        "logistics",
        "aftersales",
        "complaints",
    ];
    let (a_id, a) = app.create_agent("小王", &skills, 5).await?;
    let (b_id, b) = app.create_agent("小李", &skills, 5).await?;
    app.set_presence(&a, "online").await?;
    let faq = demo_article("return_refund", "zh-CN")?;

    // c1, 09:00: the bot answers and the customer needs nothing more: contained.
    let (c1, t1) = app.start_conversation("zh-CN").await?;
    let answered = app.say(&c1, &t1, &faq.question).await?;
    assert_eq!(answered["replies"][0]["bot"]["decision"], "answer");

    // c2, 09:01: a customer opens the chat and leaves without a word: left with the bot.
    tl.wait(60);
    let (_c2, _t2) = app.start_conversation("zh-CN").await?;

    // c3, 09:02: asks for a person in words; A answers after 30 s, then again 60 s after the
    // customer's next message, resolves; satisfied.
    tl.wait(60);
    let (c3, t3) = app.start_conversation("zh-CN").await?;
    let handed = app.say(&c3, &t3, "我要转人工").await?;
    assert_eq!(handed["conversation"]["assignee"]["id"], a_id.as_str());
    tl.wait(30);
    tl.agent_says(&c3, &a, "您好，我是小王，请问有什么可以帮您？")
        .await?;
    tl.wait(30);
    app.say(&c3, &t3, "我的订单还没发货").await?;
    tl.wait(60);
    tl.agent_says(&c3, &a, "已经为您催促仓库，今天发出").await?;
    tl.wait(60);
    tl.resolve(&c3, &a).await?;
    tl.rate(&c3, &t3, "satisfied", &[]).await?;

    // c4, 09:10: the button; A answers after 240 s, transfers to B; the customer writes and
    // B answers after 100 s, resolves; disappointed with B's attitude.
    tl.wait(8 * 60 - 180);
    let (c4, t4) = app.start_conversation("zh-CN").await?;
    let view = tl.handoff_button(&c4, &t4).await?;
    assert_eq!(view["assignee"]["id"], a_id.as_str(), "{view}");
    tl.wait(240);
    tl.agent_says(&c4, &a, "您好，稍等，我帮您转给售后同事")
        .await?;
    app.set_presence(&b, "online").await?;
    expect_status(
        app.post(
            &format!("/v1/conversations/{c4}/transfer"),
            Some(&a),
            &json!({"agent_id": b_id, "note": "售后问题"}),
        )
        .await?,
        200,
    )
    .await?;
    tl.wait(20);
    app.say(&c4, &t4, "还要等多久").await?;
    tl.wait(100);
    tl.agent_says(&c4, &b, "我来处理，请提供订单号").await?;
    tl.wait(60);
    tl.resolve(&c4, &b).await?;
    tl.rate(&c4, &t4, "disappointed", &["attitude", "slow"])
        .await?;
    app.set_presence(&b, "away").await?;

    // c5, 09:20: the button, assigned to A; the customer leaves after 60 s unanswered.
    tl.wait(20 * 60 - 10 * 60 - 240 - 20 - 100 - 60);
    let (c5, t5) = app.start_conversation("zh-CN").await?;
    let view = tl.handoff_button(&c5, &t5).await?;
    assert_eq!(view["assignee"]["id"], a_id.as_str(), "{view}");
    tl.wait(60);
    expect_status(
        app.post(
            &format!("/v1/conversations/{c5}/close"),
            Some(&t5),
            &json!({}),
        )
        .await?,
        200,
    )
    .await?;

    // c6, 09:30: the button with nobody online; 10 minutes later the customer gives up.
    tl.wait(10 * 60 - 60);
    app.set_presence(&a, "away").await?;
    let (c6, t6) = app.start_conversation("zh-CN").await?;
    let view = tl.handoff_button(&c6, &t6).await?;
    assert_eq!(view["state"], "queued", "{view}");
    tl.wait(600);
    expect_status(
        app.post(
            &format!("/v1/conversations/{c6}/close"),
            Some(&t6),
            &json!({}),
        )
        .await?,
        200,
    )
    .await?;

    // c7, the next day 09:00: a question the bot answers, then a person; the customer asks
    // the same again (repeated); A answers after 10 s, resolves; neutral, slow.
    tl.clock.set(t0() + Duration::days(1));
    app.set_presence(&a, "online").await?;
    let (c7, t7) = app.start_conversation("zh-CN").await?;
    app.say(&c7, &t7, &faq.question).await?;
    tl.wait(10);
    let handed = app.say(&c7, &t7, "转人工").await?;
    assert_eq!(assignee(&handed), json!(a_id), "{handed}");
    let repeated = app.say(&c7, &t7, &faq.question).await?;
    assert_eq!(repeated["conversation"]["repeats_after_handoff"], 1);
    tl.wait(10);
    tl.agent_says(&c7, &a, "退货请在订单页申请，我帮您看一下")
        .await?;
    tl.wait(120);
    tl.resolve(&c7, &a).await?;
    tl.rate(&c7, &t7, "neutral", &["slow"]).await?;
    tl.wait(3600);

    // Two local days in China: 2026-11-02 and 2026-11-03 (UTC+8).
    let period = "from=2026-11-01T16:00:00Z&to=2026-11-03T16:00:00Z&tz_offset_minutes=480";
    let s = tl.stats(period, ADMIN_KEY).await?;
    let expect = |field: &str, value: Value| {
        assert_eq!(s[field], value, "{field} in {s:#}");
    };
    expect("conversations", json!(7));
    expect("bot_contained", json!(1));
    expect("bot_containment_rate", json!(1.0 / 7.0));
    expect("left_with_bot", json!(1));
    expect("left_with_bot_rate", json!(1.0 / 7.0));
    expect("handed_off", json!(5));
    expect("handoff_rate", json!(5.0 / 7.0));
    expect(
        "handoff_reasons",
        json!({"customer_button": 3, "explicit_request": 2}),
    );
    expect(
        "handoff_rate_by_reason",
        json!({"customer_button": 3.0 / 7.0, "explicit_request": 2.0 / 7.0}),
    );
    // First responses 30 s (c3), 240 s (c4), 10 s (c7); nearest rank.
    expect(
        "first_response_seconds",
        json!({"p50": 30.0, "p90": 240.0, "count": 3}),
    );
    // Known outcomes: c3 and c7 within 3 min, c4 not, c6 unanswered for 10 min; c5 left
    // unanswered after 60 s and counts neither way.
    expect("response_within_3min_rate", json!(0.5));
    // Every wait an agent ended: 30, 60 (c3), 240, 100 (c4), 10 (c7).
    expect("average_response_seconds", json!(88.0));
    expect("resolved", json!(3));
    expect("resolution_rate", json!(0.6));
    expect("first_contact_resolved", json!(2));
    expect("first_contact_resolution_rate", json!(0.4));
    expect("transferred", json!(1));
    expect("transfer_rate", json!(0.2));
    expect(
        "ratings",
        json!({"satisfied": 1, "neutral": 1, "disappointed": 1, "attitude_complaints": 1}),
    );
    expect("good_rate", json!(1.0 / 3.0));
    expect("attitude_complaint_rate", json!(0.5));
    expect("repeated", json!(1));
    expect("repeated_rate", json!(0.2));

    let per_agent = s["per_agent"].as_array().cloned().unwrap_or_default();
    assert_eq!(per_agent.len(), 2, "{s:#}");
    let of = |id: &str| {
        per_agent
            .iter()
            .find(|row| row["agent_id"] == id)
            .cloned()
            .unwrap_or_default()
    };
    let row_a = of(&a_id);
    assert_eq!(row_a["name"], "小王");
    assert_eq!(row_a["conversations"], 4, "c3, c4, c5, c7: {row_a:#}");
    assert_eq!(
        row_a["first_response_seconds"],
        json!({"p50": 30.0, "p90": 240.0, "count": 3})
    );
    assert_eq!(row_a["response_within_3min_rate"], json!(2.0 / 3.0));
    assert_eq!(row_a["average_response_seconds"], json!(85.0));
    assert_eq!(row_a["resolved"], 2);
    assert_eq!(row_a["resolution_rate"], json!(0.5));
    assert_eq!(row_a["transfers"], 1);
    assert_eq!(row_a["good_rate"], json!(0.5));
    assert_eq!(row_a["attitude_complaint_rate"], json!(0.0));
    let row_b = of(&b_id);
    assert_eq!(row_b["conversations"], 1, "{row_b:#}");
    assert_eq!(
        row_b["first_response_seconds"],
        json!({"p50": null, "p90": null, "count": 0})
    );
    assert_eq!(row_b["average_response_seconds"], json!(100.0));
    assert_eq!(row_b["resolution_rate"], json!(1.0));
    assert_eq!(row_b["good_rate"], json!(0.0));
    assert_eq!(row_b["attitude_complaint_rate"], json!(1.0));

    // The daily series, by local day.
    let series = s["series"].as_array().cloned().unwrap_or_default();
    let days: Vec<(Value, Value)> = series
        .iter()
        .map(|d| (d["date"].clone(), d["conversations"].clone()))
        .collect();
    assert_eq!(
        days,
        vec![
            (json!("2026-11-02"), json!(6)),
            (json!("2026-11-03"), json!(1))
        ]
    );
    assert_eq!(series[1]["first_response_seconds"]["p50"], json!(10.0));
    assert_eq!(series[1]["good_rate"], json!(0.0));
    assert_eq!(series[0]["bot_containment_rate"], json!(1.0 / 6.0));

    // One agent's figures: B held only c4.
    let only_b = tl
        .stats(&format!("{period}&agent_id={b_id}"), ADMIN_KEY)
        .await?;
    assert_eq!(only_b["conversations"], 1, "{only_b:#}");
    assert_eq!(only_b["transfer_rate"], json!(1.0));
    assert_eq!(only_b["per_agent"].as_array().map(Vec::len), Some(1));

    // The second day alone: only c7.
    let day2 = tl
        .stats(
            "from=2026-11-02T16:00:00Z&to=2026-11-03T16:00:00Z",
            ADMIN_KEY,
        )
        .await?;
    assert_eq!(day2["conversations"], 1);
    assert_eq!(day2["repeated_rate"], json!(1.0));

    // An agent sees their own figures and nobody else's; customers see none.
    let own = tl.stats(period, &a).await?;
    assert_eq!(own["agent_id"], a_id.as_str());
    assert_eq!(own["conversations"], 4);
    expect_error(
        app.get(&format!("/v1/stats?{period}&agent_id={b_id}"), Some(&a))
            .await?,
        403,
        "forbidden",
    )
    .await?;
    let res = app.get("/v1/stats", Some(&t7)).await?;
    assert_eq!(res.status().as_u16(), 403);
    Ok(())
}

#[tokio::test]
async fn a_bad_period_is_refused_and_an_empty_one_has_null_rates() -> Result<()> {
    let app = spawn_gateway().await?;
    for (query, code) in [
        (
            "from=2026-11-03T00:00:00Z&to=2026-11-02T00:00:00Z",
            "invalid_range",
        ),
        (
            "from=2024-01-01T00:00:00Z&to=2026-01-01T00:00:00Z",
            "range_too_large",
        ),
        ("tz_offset_minutes=900", "invalid_field"),
    ] {
        expect_error(
            app.get(&format!("/v1/stats?{query}"), Some(ADMIN_KEY))
                .await?,
            422,
            code,
        )
        .await?;
    }
    expect_error(
        app.get("/v1/stats?from=yesterday", Some(ADMIN_KEY)).await?,
        422,
        "invalid_field",
    )
    .await?;
    let res = app.get("/v1/stats", None).await?;
    assert_eq!(res.status().as_u16(), 401);

    let empty = expect_status(
        app.get(
            "/v1/stats?from=2020-01-01T00:00:00Z&to=2020-01-02T00:00:00Z",
            Some(ADMIN_KEY),
        )
        .await?,
        200,
    )
    .await?;
    assert_eq!(empty["conversations"], 0);
    for field in [
        "bot_containment_rate",
        "handoff_rate",
        "good_rate",
        "resolution_rate",
    ] {
        assert_eq!(empty[field], Value::Null, "{field}: {empty:#}");
    }
    assert_eq!(empty["series"].as_array().map(Vec::len), Some(1));
    Ok(())
}
