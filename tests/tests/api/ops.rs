//! Operations endpoints.

use crate::helpers::*;
use anyhow::Result;

#[tokio::test]
async fn health_and_readiness_answer() -> Result<()> {
    let app = spawn_gateway().await?;
    let health = expect_status(app.get("/healthz", None).await?, 200).await?;
    assert_eq!(health["status"], "ok");
    let ready = expect_status(app.get("/readyz", None).await?, 200).await?;
    assert_eq!(ready["status"], "ready");
    assert!(
        ready["kb_articles"].as_u64().is_some_and(|n| n >= 40),
        "{ready}"
    );
    Ok(())
}

#[tokio::test]
async fn metrics_count_bot_turns_handoffs_and_open_sockets() -> Result<()> {
    let app = spawn_gateway().await?;
    let (conv, token) = app.start_conversation("zh-CN").await?;
    let socket = app.customer_ws(&conv, &token, None).await?;
    app.say(&conv, &token, "你好").await?;
    app.say(&conv, &token, "转人工").await?;
    let text = app.metrics_text().await?;
    let value = |series: &str| metric(&text, series);
    let turns: f64 = text
        .lines()
        .filter(|l| l.starts_with("gateway_bot_turns_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(turns, 2.0, "{text}");
    assert_eq!(
        value("gateway_bot_turns_total{decision=\"handoff\"}"),
        1.0,
        "{text}"
    );
    assert_eq!(value("gateway_handoffs_total"), 1.0, "{text}");
    assert_eq!(
        value("gateway_handoff_reasons_total{reason=\"explicit_request\"}"),
        1.0,
        "{text}"
    );
    assert_eq!(
        value("gateway_websockets_open{side=\"customer\"}"),
        1.0,
        "{text}"
    );
    assert_eq!(
        value("gateway_queue_waiting"),
        1.0,
        "no agent: the customer waits"
    );
    assert!(text.contains("# TYPE gateway_routing_decision_seconds histogram"));
    socket.close().await?;
    Ok(())
}

#[tokio::test]
async fn metrics_show_what_the_embedded_store_writer_did() -> Result<()> {
    let app = spawn_gateway().await?;
    let scrape = || async {
        let text = app.metrics_text().await?;
        let value = |series: &str| metric(&text, series);
        anyhow::Ok([
            value("gateway_store_transactions_total"),
            value("gateway_store_writes_total"),
            value("gateway_store_writer_busy_seconds_total"),
        ])
    };
    let [transactions, writes, busy] = scrape().await?;
    if crate::backend::REDIS {
        // Redis has no writer of the gateway's own: the counters exist and stay 0.
        assert_eq!([transactions, writes, busy], [0.0; 3]);
        let (conv, token) = app.start_conversation("zh-CN").await?;
        app.say(&conv, &token, "怎么开发票").await?;
        assert_eq!(scrape().await?, [0.0; 3]);
        return Ok(());
    }
    // The demo seed and the first conversation were written at start.
    assert!(transactions >= 1.0, "{transactions}");
    assert!(
        writes >= transactions,
        "{writes} writes in {transactions} transactions"
    );
    assert!(busy > 0.0, "{busy}");
    let (conv, token) = app.start_conversation("zh-CN").await?;
    app.say(&conv, &token, "怎么开发票").await?;
    app.say(&conv, &token, "满多少包邮").await?;
    let [t2, w2, b2] = scrape().await?;
    // At least the new conversation and the two bot turns (one write each), in at least one
    // more transaction; counts only grow.
    assert!(w2 >= writes + 3.0, "writes {writes} -> {w2}");
    assert!(t2 > transactions, "transactions {transactions} -> {t2}");
    assert!(w2 >= t2, "{w2} writes in {t2} transactions");
    assert!(b2 > busy, "busy {busy} -> {b2}");
    Ok(())
}

#[tokio::test]
async fn pages_answer_get_and_head() -> Result<()> {
    let app = spawn_gateway().await?;
    for path in ["/", "/widget.js", "/console", "/admin"] {
        let get = app.client.get(app.url(path)).send().await?;
        assert_eq!(get.status().as_u16(), 200, "GET {path}");
        let head = app.client.head(app.url(path)).send().await?;
        assert_eq!(head.status().as_u16(), 200, "HEAD {path}");
        assert!(head.bytes().await?.is_empty(), "HEAD {path} has no body");
    }
    let post = app.client.post(app.url("/console")).send().await?;
    assert_eq!(post.status().as_u16(), 404);
    Ok(())
}
