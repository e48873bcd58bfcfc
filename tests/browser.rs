//! The HTML digest in a real browser (Debian's chromium, headless): it loads without
//! console errors, runs no script, and the Persian story reads right to left — at a
//! 390 px phone width and a 1280 px desktop width. `.ci/run` installs chromium and sets
//! ROUNDUP_REQUIRE_BROWSER=1, so there the test fails if the browser is missing; a
//! developer machine without chromium skips it with a message.
//! `UPDATE_GOLDEN=1` also refreshes the screenshots in `docs/`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            let out = Command::new("which").arg(name).output().ok()?;
            out.status
                .success()
                .then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
        })
}

fn run(browser: &Path, profile: &Path, args: &[&str]) -> (String, String) {
    let out = Command::new(browser)
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const PROBE: &str = r#"<!DOCTYPE html><html><body><pre id="result">pending</pre>
<iframe id="f" src="digest.html" style="width:WIDTHpx;height:900px"></iframe>
<script>
document.getElementById('f').addEventListener('load', function () {
  var r = {};
  try {
    var d = document.getElementById('f').contentDocument;
    r.scripts = d.scripts.length;
    var rtl = Array.prototype.filter.call(d.querySelectorAll('article'), function (a) { return /[\u0600-\u06FF]/.test(a.textContent); });
    r.rtl_articles = rtl.length;
    r.rtl_title = rtl.map(function (a) { return getComputedStyle(a.querySelector('h3')).direction; });
    r.rtl_summary = rtl.map(function (a) { var p = a.querySelector('.summary'); return p ? getComputedStyle(p).direction : 'none'; });
    r.ltr_title = getComputedStyle(d.querySelector('article h3')).direction;
    r.overflow = d.documentElement.scrollWidth > d.documentElement.clientWidth;
  } catch (e) { r.error = String(e); }
  document.getElementById('result').textContent = 'RESULT ' + JSON.stringify(r);
});
</script></body></html>"#;

#[test]
fn html_digest_renders_in_headless_chromium() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var_os("ROUNDUP_REQUIRE_BROWSER").is_none(),
            "ROUNDUP_REQUIRE_BROWSER is set but no chromium was found"
        );
        eprintln!("SKIPPED: chromium not installed (apt-get install chromium)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // The demo's six fixture feeds, rendered by the real binary.
    let mut text = String::from("database = \"roundup.db\"\n[fetch]\ntimezone = \"Asia/Kabul\"\n");
    text.push_str(&crate::common::named_sources(crate::common::DEMO_FEEDS));
    let config = dir.path().join("roundup.toml");
    std::fs::write(&config, text).unwrap();
    let html_path = dir.path().join("digest.html");
    let status = Command::new(env!("CARGO_BIN_EXE_roundup"))
        .args(["--config", config.to_str().unwrap(), "fetch"])
        .output()
        .unwrap();
    assert!(status.status.success());
    let status = Command::new(env!("CARGO_BIN_EXE_roundup"))
        .args([
            "--config",
            config.to_str().unwrap(),
            "digest",
            "--format",
            "html",
            "--output",
        ])
        .arg(&html_path)
        .status()
        .unwrap();
    assert!(status.success());
    let profile = dir.path().join("profile");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    for width in [390, 1280] {
        let probe = dir.path().join(format!("probe-{width}.html"));
        std::fs::write(&probe, PROBE.replace("WIDTH", &width.to_string())).unwrap();
        let (dom, log) = run(
            &browser,
            &profile,
            &[
                "--allow-file-access-from-files",
                "--virtual-time-budget=5000",
                "--dump-dom",
                probe.to_str().unwrap(),
            ],
        );
        let result = dom
            .lines()
            .find_map(|l| l.split_once("RESULT ").map(|(_, r)| r.to_owned()))
            .unwrap_or_else(|| panic!("no result in DOM:\n{dom}\n{log}"));
        let r: serde_json::Value =
            serde_json::from_str(&result.replace("&quot;", "\"").replace("</pre>", "")).unwrap();
        assert!(r.get("error").is_none(), "{r}");
        assert_eq!(r["scripts"], 0, "no script in the digest");
        assert!(r["rtl_articles"].as_u64().unwrap() >= 1, "{r}");
        assert!(
            r["rtl_title"]
                .as_array()
                .unwrap()
                .iter()
                .all(|d| d == "rtl"),
            "{r}"
        );
        assert!(
            r["rtl_summary"]
                .as_array()
                .unwrap()
                .iter()
                .all(|d| d == "rtl"),
            "{r}"
        );
        assert_eq!(r["ltr_title"], "ltr");
        assert_eq!(
            r["overflow"], false,
            "no horizontal scrolling at {width}px: {r}"
        );
        let digest_console: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("CONSOLE") && l.contains("digest.html"))
            .collect();
        assert!(
            digest_console.is_empty(),
            "console messages from the digest: {digest_console:?}"
        );
        assert!(!log.contains("Refused to"), "CSP violations: {log}");
        let shot = dir.path().join(format!("digest-{width}.png"));
        run(
            &browser,
            &profile,
            &[
                &format!("--window-size={width},1400"),
                &format!("--screenshot={}", shot.display()),
                html_path.to_str().unwrap(),
            ],
        );
        assert!(
            std::fs::metadata(&shot)
                .map(|m| m.len() > 10_000)
                .unwrap_or(false),
            "screenshot at {width}px"
        );
        if update {
            std::fs::copy(
                &shot,
                Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("docs/digest-{width}.png")),
            )
            .unwrap();
        }
    }
}
