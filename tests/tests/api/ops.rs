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
