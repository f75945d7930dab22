//! The web pages in a real headless Chromium: each test starts the gateway binary (embedded
//! store, a fresh data directory, the demo knowledge base), then runs one Playwright script
//! from `web/tests/` against it and fails with the script's output when the script fails.
//!
//! Needs `node` and `/usr/bin/chromium` (CI installs Debian's `chromium`); a missing one is a
//! failure, not a skip. `playwright-core` is installed with `npm ci` in `web/` on first use.
//! Screenshots land in `<target dir>/browser-artifacts/`.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const ADMIN_KEY: &str = "browser-test-admin-key";
const CHROMIUM: &str = "/usr/bin/chromium";
/// A debug build indexes the demo knowledge base and loads the models before it listens.
const START_TIMEOUT: Duration = Duration::from_secs(120);

fn web_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../web")
}

/// `<target dir>/browser-artifacts`, found from this test binary (`<target>/debug/deps/…`),
/// so that it follows `CARGO_TARGET_DIR`.
fn artifacts_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary has a path");
    exe.ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
        .join("browser-artifacts")
}

/// Node and Chromium are there, and `playwright-core` is installed (once per test binary).
fn prerequisites() {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: the browser tests need Debian's chromium \
         (apt-get install chromium; .ci/run installs it)"
    );
    let node = Command::new("node").arg("--version").output();
    assert!(
        node.as_ref().is_ok_and(|o| o.status.success()),
        "node is missing: the browser tests run Playwright scripts with Node.js 20 or later"
    );
    static INSTALL: Mutex<bool> = Mutex::new(false);
    let mut installed = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    if *installed || web_dir().join("node_modules/playwright-core").exists() {
        *installed = true;
        return;
    }
    let out = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(web_dir())
        .output()
        .expect("npm runs (it comes with node)");
    assert!(
        out.status.success(),
        "npm ci in web/ failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    *installed = true;
}

/// The gateway binary on a free port, killed when dropped.
struct Gateway {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Gateway {
    fn start() -> Self {
        let dir = tempfile::tempdir().expect("a temporary data directory");
        let log_path = dir.path().join("gateway.log");
        let log = std::fs::File::create(&log_path).expect("the log file");
        let child = Command::new(env!("CARGO_BIN_EXE_gateway"))
            .env("GATEWAY_BIND", "127.0.0.1:0")
            .env("GATEWAY_DATA_DIR", dir.path())
            .env("GATEWAY_ADMIN_KEY", ADMIN_KEY)
            .env_remove("GATEWAY_REDIS_URL")
            .env("GATEWAY_DEMO", "kb")
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::from(log.try_clone().expect("the log file")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("starting the gateway binary");
        let mut gateway = Gateway {
            child,
            port: 0,
            dir,
        };
        gateway.port = gateway.wait_for_port(&log_path);
        gateway
    }

    /// Reads the port from the "gateway listening … port=N" log line.
    fn wait_for_port(&mut self, log_path: &Path) -> u16 {
        let started = Instant::now();
        loop {
            let log = std::fs::read_to_string(log_path).unwrap_or_default();
            if let Some(port) = support::port_in_log(&log) {
                return port;
            }
            let exited = self.child.try_wait().ok().flatten();
            assert!(
                exited.is_none() && started.elapsed() < START_TIMEOUT,
                "the gateway did not start:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("gateway.log")).unwrap_or_default()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `web/tests/<script>` against a fresh gateway; panics with its output on failure.
fn run_script(script: &str) {
    prerequisites();
    let gateway = Gateway::start();
    let artifacts = artifacts_dir();
    std::fs::create_dir_all(&artifacts).expect("the artifacts directory");
    let started = Instant::now();
    // The script has its own time budget; waiting for its output waits for it.
    let output = Command::new("node")
        .arg(web_dir().join("tests").join(script))
        .current_dir(web_dir())
        .env("GATEWAY_URL", format!("http://127.0.0.1:{}", gateway.port))
        .env("GATEWAY_ADMIN_KEY", ADMIN_KEY)
        .env("ARTIFACTS_DIR", &artifacts)
        .env("CHROMIUM", CHROMIUM)
        .output()
        .expect("node runs the script");
    let status = output.status;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!(
        "{script} ({:.1} s):\n{stdout}{stderr}",
        started.elapsed().as_secs_f64()
    );
    assert!(
        status.success(),
        "web/tests/{script} failed ({status}); screenshots in {}\n--- output\n{stdout}{stderr}\n--- gateway log (last 4000 bytes)\n{}",
        artifacts.display(),
        tail(&gateway.log(), 4000)
    );
}

fn tail(text: &str, bytes: usize) -> &str {
    let mut start = text.len().saturating_sub(bytes);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

#[test]
fn customer_and_agent_journey_in_the_browser() {
    run_script("journey.mjs");
}

#[test]
fn admin_console_in_the_browser() {
    run_script("admin.mjs");
}

#[test]
fn widget_replays_what_it_missed_after_a_reconnect() {
    run_script("reconnect.mjs");
}

#[test]
fn widget_is_served_small() {
    run_script("size.mjs");
}

#[test]
fn widget_works_on_a_shop_page_of_another_origin() {
    run_script("cross-origin.mjs");
}
