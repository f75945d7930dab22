//! Customers across conversations: tags that follow a verified customer to every agent, and
//! their earlier conversations in the handoff package.

use crate::helpers::*;
use anyhow::Result;
use serde_json::{json, Value};

const SECRET: &str = "shop-secret-for-customer-tests";

async fn signed(app: &TestApp, external_id: &str) -> Result<(String, String, String)> {
    let signature = gateway::auth::sign_customer(SECRET, external_id);
    let body = expect_status(
        app.post(
            "/v1/conversations",
            None,
            &json!({"customer": {"external_id": external_id, "signature": signature, "name": "林小姐"}}),
        )
        .await?,
        201,
    )
    .await?;
    Ok((
        str_at(&body, "/conversation/id")?,
        str_at(&body, "/token")?,
        str_at(&body, "/conversation/customer/id")?,
    ))
}

async fn context(app: &TestApp, conversation: &str, token: &str) -> Result<Value> {
    expect_status(
        app.get(
            &format!("/v1/conversations/{conversation}/context"),
            Some(token),
        )
        .await?,
        200,
    )
    .await
}

#[tokio::test]
async fn tags_and_earlier_conversations_follow_a_verified_customer() -> Result<()> {
    let app = spawn_with(tempfile::tempdir()?, |s| {
        s.shop_secret = Some(SECRET.into());
    })
    .await?;
    let (agent_id, agent_token) = app
        .create_agent("小王", &["zh", "orders", "logistics", "aftersales"], 5)
        .await?;
    app.set_presence(&agent_token, "online").await?;

    let (first, first_token, customer) = signed(&app, "user-7").await?;
    app.say(&first, &first_token, "我的订单 123456789012 还没发货")
        .await?;
    app.say(&first, &first_token, "转人工").await?;
    let package = context(&app, &first, &agent_token).await?;
    assert_eq!(package["customer"]["id"], customer.as_str());
    assert_eq!(package["customer"]["previous_conversations"], json!([]));
    assert_eq!(package["customer"]["tags"], json!([]));

    // The agent tags the customer; the tags are in the package at once.
    let tagged = expect_status(
        app.put(
            &format!("/v1/customers/{customer}/tags"),
            Some(&agent_token),
            &json!({"tags": [" 退货多 ", "VIP", "VIP"]}),
        )
        .await?,
        200,
    )
    .await?;
    assert_eq!(tagged["tags"], json!(["退货多", "VIP"]));
    assert_eq!(
        context(&app, &first, &agent_token).await?["customer"]["tags"],
        json!(["退货多", "VIP"])
    );
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

    // The same customer comes back: same id, the tags, and the first conversation.
    let (second, second_token, again) = signed(&app, "user-7").await?;
    assert_eq!(again, customer, "a verified customer keeps one id");
    app.say(&second, &second_token, "转人工").await?;
    let package = context(&app, &second, &agent_token).await?;
    assert_eq!(package["customer"]["tags"], json!(["退货多", "VIP"]));
    let previous = &package["customer"]["previous_conversations"];
    assert_eq!(previous.as_array().map(Vec::len), Some(1), "{previous}");
    assert_eq!(previous[0]["id"], first.as_str());
    assert_eq!(previous[0]["state"], "resolved");
    assert_eq!(previous[0]["agent"], "小王");
    assert!(previous[0]["summary"]
        .as_str()
        .is_some_and(|s| !s.is_empty()));

    // The customer record, for the console.
    let record = expect_status(
        app.get(&format!("/v1/customers/{customer}"), Some(ADMIN_KEY))
            .await?,
        200,
    )
    .await?;
    assert_eq!(record["tags"], json!(["退货多", "VIP"]));
    let ids: Vec<&str> = record["conversations"]
        .as_array()
        .map(|c| c.iter().filter_map(|c| c["id"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(ids, [second.as_str(), first.as_str()], "newest first");

    // Another (unsigned) customer shares nothing.
    let (other, other_token) = app.start_conversation("zh-CN").await?;
    app.say(&other, &other_token, "转人工").await?;
    let package = context(&app, &other, &agent_token).await?;
    assert_ne!(package["customer"]["id"], customer.as_str());
    assert_eq!(package["customer"]["tags"], json!([]));
    assert_eq!(package["customer"]["previous_conversations"], json!([]));
    let _ = agent_id;
    Ok(())
}

#[tokio::test]
async fn customer_records_are_for_the_service_team_and_checked() -> Result<()> {
    let app = spawn_with(tempfile::tempdir()?, |s| {
        s.shop_secret = Some(SECRET.into());
    })
    .await?;
    let (_, customer_token, customer) = signed(&app, "user-8").await?;
    let path = format!("/v1/customers/{customer}/tags");
    expect_error(
        app.put(&path, Some(&customer_token), &json!({"tags": ["x"]}))
            .await?,
        403,
        "forbidden",
    )
    .await?;
    expect_error(
        app.get(&format!("/v1/customers/{customer}"), Some(&customer_token))
            .await?,
        403,
        "forbidden",
    )
    .await?;
    expect_error(
        app.put(&path, None, &json!({"tags": ["x"]})).await?,
        401,
        "unauthorized",
    )
    .await?;
    expect_error(
        app.put(&path, Some(ADMIN_KEY), &json!({"tags": ["x".repeat(33)]}))
            .await?,
        422,
        "invalid_field",
    )
    .await?;
    let many: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
    expect_error(
        app.put(&path, Some(ADMIN_KEY), &json!({"tags": many}))
            .await?,
        422,
        "invalid_field",
    )
    .await?;
    expect_error(
        app.put(
            "/v1/customers/cust_nobody/tags",
            Some(ADMIN_KEY),
            &json!({"tags": ["x"]}),
        )
        .await?,
        404,
        "not_found",
    )
    .await?;
    expect_status(
        app.put(&path, Some(ADMIN_KEY), &json!({"tags": []}))
            .await?,
        200,
    )
    .await?;
    Ok(())
}
