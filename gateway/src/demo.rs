//! The demo shop a first start loads: the shipped knowledge base and a few agents.

use crate::domain::AgentRole;
use crate::service::NewAgent;
use crate::settings::DemoSeed;
use crate::state::AppState;
use std::collections::BTreeSet;
use std::io::Write;

const SEEDED: &str = "demo_seeded";

fn skills(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// The demo team: two Chinese front-line agents with different specialties, an English
/// agent, and a bilingual supervisor.
fn demo_agents() -> Vec<NewAgent> {
    vec![
        NewAgent {
            name: "小王".into(),
            skills: skills(&["zh", "presales", "orders", "logistics"]),
            max_concurrent: 5,
            role: AgentRole::Agent,
        },
        NewAgent {
            name: "小李".into(),
            skills: skills(&["zh", "aftersales", "complaints", "orders"]),
            max_concurrent: 5,
            role: AgentRole::Agent,
        },
        NewAgent {
            name: "Emma".into(),
            skills: skills(&[
                "en",
                "presales",
                "orders",
                "logistics",
                "aftersales",
                "complaints",
            ]),
            max_concurrent: 5,
            role: AgentRole::Agent,
        },
        NewAgent {
            name: "张主管".into(),
            skills: skills(&[
                "zh",
                "en",
                "presales",
                "orders",
                "logistics",
                "aftersales",
                "complaints",
                "vip",
            ]),
            max_concurrent: 3,
            role: AgentRole::Supervisor,
        },
    ]
}

/// Seeds an empty data directory once; later starts keep whatever admins changed.
pub async fn seed(state: &AppState) -> anyhow::Result<()> {
    if state.settings.demo == DemoSeed::Off || state.store.get_meta(SEEDED).await?.is_some() {
        return Ok(());
    }
    for article in kb::demo_articles()? {
        state.store.put_article(&article).await?;
    }
    if state.settings.demo == DemoSeed::Full {
        let mut lines = String::from("# Demo agent tokens (shown once at first start)\n");
        for new in demo_agents() {
            let (agent, token) = state.create_agent(new).await?;
            lines.push_str(&format!("{}\t{}\t{}\n", agent.name, agent.id, token));
        }
        let path = state.settings.data_dir.join("demo-agents.txt");
        write_private(&path, &lines)?;
        println!("Demo agents (also in {}):\n{lines}", path.display());
    }
    state.store.put_meta(SEEDED, "1").await?;
    Ok(())
}

/// Writes a file only its owner can read.
pub fn write_private(path: &std::path::Path, contents: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(contents.as_bytes())
}
