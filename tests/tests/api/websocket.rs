//! Live events and replay after a disconnect.

use crate::helpers::*;
use anyhow::Result;
use serde_json::json;

#[tokio::test]
async fn a_reconnect_with_after_seq_replays_exactly_what_was_missed() -> Result<()> {
    let app = spawn_gateway().await?;
    let (conv, token) = app.start_conversation("zh-CN").await?;
    let mut ws = app.customer_ws(&conv, &token, None).await?;
    let faq = demo_article("promotion", "zh-CN")?;
    app.say(&conv, &token, &faq.question).await?;
    let seen = ws.messages_until(|m| m["author"]["role"] == "bot").await?;
    let last_seen = seen
        .last()
        .map(|m| m["seq"].as_u64().unwrap_or(0))
        .unwrap_or(0);
    assert_eq!(last_seen, 2);
    ws.close().await?;

    // While disconnected the conversation goes on.
    app.say(&conv, &token, "你好").await?;
    app.say(&conv, &token, &demo_article("invoice", "zh-CN")?.question)
        .await?;

    let mut ws = app.customer_ws(&conv, &token, Some(last_seen)).await?;
    let mut replayed = Vec::new();
    while replayed.len() < 4 {
        replayed.push(
            ws.next_of("message").await?["message"]["seq"]
                .as_u64()
                .unwrap_or(0),
        );
    }
    assert_eq!(replayed, [3, 4, 5, 6]);

    // Live messages follow the replay without a gap or a repeat.
    app.say(&conv, &token, "谢谢").await?;
    let next = ws.next_of("message").await?;
    assert_eq!(next["message"]["seq"], 7);
    Ok(())
}

#[tokio::test]
async fn messages_sent_over_the_socket_are_stored_and_answered() -> Result<()> {
    let app = spawn_gateway().await?;
    let (conv, token) = app.start_conversation("zh-CN").await?;
    let mut ws = app.customer_ws(&conv, &token, None).await?;
    let faq = demo_article("shipping", "zh-CN")?;
    let frame = json!({"type": "message", "text": faq.question, "client_message_id": "ws-1"});
    ws.send_json(&frame).await?;
    ws.send_json(&frame).await?; // a retry over the socket stores nothing new
    let seen = ws.messages_until(|m| m["author"]["role"] == "bot").await?;
    assert_eq!(seen[0]["client_message_id"], "ws-1");
    assert_eq!(seen[1]["bot"]["article_id"], faq.id.as_str());
    let page = expect_status(
        app.get(&format!("/v1/conversations/{conv}/messages"), Some(&token))
            .await?,
        200,
    )
    .await?;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(2));

    // A broken frame gets an error event, and the socket stays usable.
    ws.send_json(&json!({"type": "message", "text": ""}))
        .await?;
    let error = ws.next_of("error").await?;
    assert_eq!(error["error"]["code"], "invalid_field");
    Ok(())
}

#[tokio::test]
async fn another_customers_token_cannot_open_the_socket() -> Result<()> {
    let app = spawn_gateway().await?;
    let (conv, _) = app.start_conversation("zh-CN").await?;
    let (_, other_token) = app.start_conversation("zh-CN").await?;
    let res = app
        .get(
            &format!("/v1/conversations/{conv}/ws?token={other_token}"),
            None,
        )
        .await?;
    expect_error(res, 403, "forbidden").await?;
    let res = app
        .get(&format!("/v1/conversations/{conv}/ws"), None)
        .await?;
    expect_error(res, 401, "unauthorized").await?;
    Ok(())
}

#[tokio::test]
async fn sockets_per_conversation_are_limited() -> Result<()> {
    let app = spawn_with(tempfile::tempdir()?, |s| s.limits.sockets_per_subject = 2).await?;
    let (conv, token) = app.start_conversation("zh-CN").await?;
    let _a = app.customer_ws(&conv, &token, None).await?;
    let _b = app.customer_ws(&conv, &token, None).await?;
    let refused = app.customer_ws(&conv, &token, None).await;
    assert!(refused.is_err(), "a third socket is refused");
    Ok(())
}

#[tokio::test]
async fn an_oversized_frame_closes_the_socket_with_1009_and_nothing_else() -> Result<()> {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
    use tokio_tungstenite::tungstenite::Message as WsMessage;
    let app = spawn_gateway().await?;
    let (conv, token) = app.start_conversation("zh-CN").await?;
    let url = format!(
        "ws://127.0.0.1:{}/v1/conversations/{conv}/ws?token={token}",
        app.port
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(&url).await?;
    // 100 KiB of text in one frame: over the 64 KiB limit.
    let huge = serde_json::json!({
        "type": "message", "text": "长".repeat(34_000), "client_message_id": "big-1"
    })
    .to_string();
    socket.send(WsMessage::text(huge)).await?;
    let code = tokio::time::timeout(EVENT_TIMEOUT, async {
        while let Some(frame) = socket.next().await {
            match frame {
                Ok(WsMessage::Close(Some(close))) => return Some(close.code),
                Ok(WsMessage::Close(None)) => return None,
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
        None
    })
    .await?;
    assert_eq!(code, Some(CloseCode::Size), "closed with 1009");

    // The conversation is unharmed: nothing was stored, and a new socket and a normal
    // message work.
    let mut again = app.customer_ws(&conv, &token, None).await?;
    let posted = app.say(&conv, &token, "你好").await?;
    assert_eq!(
        posted["message"]["seq"], 1,
        "the oversized frame stored nothing"
    );
    assert_eq!(again.next_of("message").await?["message"]["seq"], 1);
    Ok(())
}
