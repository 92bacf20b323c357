//! End to end in a real browser: the generated page opened in headless Chromium (Debian's `chromium`)
//! must draw every chart with a non-empty size, log nothing to the console, fetch nothing (it is
//! self-contained), and a screenshot is saved. Without Chromium these tests fail, unless
//! `GRADLAB_SKIP_BROWSER=1` says to skip them.
//!
//! The product page has no scripts. The check runs on a test-only copy of it with a probe script
//! injected first in `<head>`: it records errors (script errors, failed loads, console.error/warn), and
//! on `load` measures each chart's box and drawn content and writes the results, as JSON, into the DOM,
//! which `--dump-dom` prints. Chromium's own console log (`--enable-logging=stderr`) is checked too.
mod common;

use serde_json::Value;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const SKIP: &str = "GRADLAB_SKIP_BROWSER";
const PROBE_ID: &str = "gradlab-probe";
const PROBE: &str = r#"<script>
window.__gradlabErrors = [];
(function () {
  var push = function (m) { window.__gradlabErrors.push(String(m)); };
  window.addEventListener('error', function (e) {
    var t = e.target;
    if (t && t !== window && (t.src || t.href)) { push('failed to load ' + (t.src || t.href)); }
    else { push(e.message || 'error event'); }
  }, true);
  window.addEventListener('unhandledrejection', function (e) { push('unhandled rejection: ' + e.reason); });
  ['error', 'warn'].forEach(function (level) {
    var original = console[level];
    console[level] = function () {
      push('console.' + level + ': ' + Array.prototype.join.call(arguments, ' '));
      return original.apply(console, arguments);
    };
  });
  window.addEventListener('load', function () {
    var charts = Array.prototype.map.call(document.querySelectorAll('figure.chart'), function (f) {
      var svgs = f.querySelectorAll('svg');
      var s = svgs[0];
      var box = s ? s.getBoundingClientRect() : { width: 0, height: 0 };
      var drawn = { width: 0, height: 0 };
      try { if (s) { drawn = s.getBBox(); } } catch (e) { }
      return { id: f.id, svgs: svgs.length, width: box.width, height: box.height,
               drawn_width: drawn.width, drawn_height: drawn.height,
               elements: s ? s.querySelectorAll('*').length : 0 };
    });
    var brokenAnchors = Array.prototype.filter.call(document.querySelectorAll("a[href^='#']"), function (a) {
      return !document.getElementById(decodeURIComponent(a.getAttribute('href').slice(1)));
    }).map(function (a) { return a.getAttribute('href'); });
    var out = document.createElement('pre');
    out.id = 'gradlab-probe';
    out.textContent = JSON.stringify({
      charts: charts,
      broken_anchors: brokenAnchors,
      page_width: document.documentElement.scrollWidth,
      window_width: window.innerWidth,
      svgs: document.querySelectorAll('svg').length,
      errors: window.__gradlabErrors,
      resources: performance.getEntriesByType('resource').map(function (r) { return r.name; })
    });
    document.body.appendChild(out);
  });
})();
</script>"#;

/// `None` (after saying why) when the browser tests are skipped: on purpose with `GRADLAB_SKIP_BROWSER=1`,
/// or because Chromium is missing on a machine that is not CI. Where `CI` is set the test is required, so a
/// missing Chromium fails it.
fn chromium() -> Option<PathBuf> {
    if std::env::var(SKIP).is_ok_and(|v| v == "1") {
        eprintln!("{SKIP}=1: skipping the headless-Chromium test");
        return None;
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path).map(|d| d.join("chromium")).find(|p| p.is_file());
    let required = std::env::var_os("CI").is_some_and(|v| !v.is_empty());
    match (found, required) {
        (Some(p), _) => Some(p),
        (None, false) => {
            // Written to stderr directly, past the test harness's capture, so the skip is seen.
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: the end-to-end browser test needs `chromium` on PATH (Debian's chromium package, \
                 `apt-get install -y chromium`), and this machine has none. It is required where CI is set."
            );
            None
        }
        (None, true) => panic!(
            "`chromium` is not on PATH and CI is set, so the end-to-end test is required. Install Debian's \
             chromium package (`apt-get install -y chromium`; .ci/run does it when missing), or set {SKIP}=1."
        ),
    }
}

/// The report the browser tests look at, built once per test binary by the real `report` binary, and
/// how many charts that run says it drew.
fn report() -> &'static (PathBuf, usize) {
    static REPORT: OnceLock<(PathBuf, usize)> = OnceLock::new();
    REPORT.get_or_init(|| {
        let out = common::temp_dir("browser").join("out");
        let run = common::run_report_binary(&out, 2);
        let drawn = run
            .stderr
            .split(" scenarios, ")
            .nth(1)
            .and_then(|rest| rest.split(" charts").next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no chart count in the report's output:\n{}", run.stderr));
        (out, drawn)
    })
}

fn report_dir() -> &'static Path {
    &report().0
}

/// The charts the page must show: as many as the run drew, and at least one per chart the scenarios
/// declare (a heatmap draws one per variant).
fn expected_charts() -> usize {
    let declared: usize = report::scenario::discover(&common::scenarios_dir())
        .unwrap()
        .iter()
        .map(|s| s.spec.charts.len())
        .sum();
    let drawn = report().1;
    assert!(drawn >= declared, "the run drew {drawn} charts for {declared} declared");
    drawn
}

fn file_url(path: &Path) -> String {
    let abs = path.canonicalize().unwrap();
    let mut url = String::from("file://");
    for c in abs.to_string_lossy().chars() {
        match c {
            ' ' => url.push_str("%20"),
            '%' => url.push_str("%25"),
            '#' => url.push_str("%23"),
            '?' => url.push_str("%3F"),
            c => url.push(c),
        }
    }
    url
}

/// Runs Chromium headless with a fresh profile; returns (stdout, stderr). Killed after two minutes.
fn run_chromium(browser: &Path, work: &Path, args: &[String]) -> (String, String) {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let profile = work.join(format!("profile-{n}"));
    let (stdout_path, stderr_path) = (work.join(format!("stdout-{n}")), work.join(format!("stderr-{n}")));
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout_path).unwrap())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .expect("chromium starts");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 120 s: {args:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = std::fs::read_to_string(&stdout_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    assert!(status.success(), "chromium failed ({status}) on {args:?}:\n{stderr}");
    let _ = std::fs::remove_dir_all(profile);
    (stdout, stderr)
}

/// The probe's JSON from a dumped DOM (text inside `<pre>` has only `&`, `<`, `>` escaped).
fn probe_json(dom: &str) -> Option<Value> {
    let open = format!("<pre id=\"{PROBE_ID}\">");
    let start = dom.find(&open)? + open.len();
    let end = start + dom[start..].find("</pre>")?;
    let text = dom[start..end].replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&");
    serde_json::from_str(&text).ok()
}

/// Everything wrong with a page, from the probe's findings and Chromium's console log.
fn problems(probe: &Value, stderr: &str, expected_charts: usize) -> Vec<String> {
    let mut found = Vec::new();
    let charts = probe["charts"].as_array().cloned().unwrap_or_default();
    if charts.len() != expected_charts {
        found.push(format!("{} chart figures on the page, the run drew {expected_charts}", charts.len()));
    }
    if probe["svgs"].as_u64() != Some(charts.len() as u64) {
        found.push(format!("{} inline SVGs for {} chart figures", probe["svgs"], charts.len()));
    }
    for c in &charts {
        let id = c["id"].as_str().unwrap_or("?");
        let f = |k: &str| c[k].as_f64().unwrap_or(0.0);
        if c["svgs"].as_u64() != Some(1) {
            found.push(format!("chart {id}: {} SVGs, expected 1", c["svgs"]));
        }
        if f("width") < 1.0 || f("height") < 1.0 {
            found.push(format!("chart {id}: rendered {} × {} px", f("width"), f("height")));
        }
        if f("drawn_width") < 1.0 || f("drawn_height") < 1.0 || f("elements") < 5.0 {
            found.push(format!(
                "chart {id}: draws nothing ({} elements, content {} × {})",
                c["elements"],
                f("drawn_width"),
                f("drawn_height")
            ));
        }
    }
    for a in probe["broken_anchors"].as_array().into_iter().flatten() {
        found.push(format!("link {} points at no element", a.as_str().unwrap_or_default()));
    }
    let (page, window) =
        (probe["page_width"].as_f64().unwrap_or(0.0), probe["window_width"].as_f64().unwrap_or(0.0));
    if page > window {
        found.push(format!("the page is {page} px wide in a {window} px window: it scrolls sideways"));
    }
    for e in probe["errors"].as_array().into_iter().flatten() {
        found.push(format!("page error: {}", e.as_str().unwrap_or_default()));
    }
    for r in probe["resources"].as_array().into_iter().flatten() {
        found.push(format!("fetched {}: the page must be self-contained", r.as_str().unwrap_or_default()));
    }
    for line in stderr.lines().filter(|l| l.contains(":CONSOLE")) {
        found.push(format!("console: {line}"));
    }
    found
}

/// Opens a test copy of `page` (probe injected) and returns everything wrong with it.
fn check_page(browser: &Path, page: &Path, expected_charts: usize) -> Result<(), Vec<String>> {
    let html = std::fs::read_to_string(page).unwrap();
    let at = html.find("<head>").expect("the page has a <head>") + "<head>".len();
    let probed = page.with_extension("probe.html");
    std::fs::write(&probed, format!("{}{PROBE}{}", &html[..at], &html[at..])).unwrap();
    let work = page.parent().unwrap().parent().unwrap();
    // A laptop-sized window: the page must fit its width.
    let args = ["--window-size=1280,900".into(), "--dump-dom".into(), file_url(&probed)];
    let (dom, stderr) = run_chromium(browser, work, &args);
    let _ = std::fs::remove_file(&probed);
    let Some(probe) = probe_json(&dom) else {
        return Err(vec![format!("the probe wrote no results; chromium said:\n{stderr}")]);
    };
    let found = problems(&probe, &stderr, expected_charts);
    if found.is_empty() { Ok(()) } else { Err(found) }
}

/// A copy of the generated report, changed by `edit`, in a fresh folder (so data links still resolve).
fn edited_copy(tag: &str, edit: impl FnOnce(String) -> String) -> PathBuf {
    let dir = common::temp_dir(tag).join("out");
    std::fs::create_dir_all(&dir).unwrap();
    let html = std::fs::read_to_string(report_dir().join(report::PAGE)).unwrap();
    let page = dir.join(report::PAGE);
    std::fs::write(&page, edit(html)).unwrap();
    page
}

#[test]
fn every_chart_renders_with_a_size_and_the_console_stays_quiet() {
    let Some(browser) = chromium() else { return };
    let expected = expected_charts();
    assert!(expected > 0, "the scenarios declare no charts");
    let page = report_dir().join(report::PAGE);
    if let Err(found) = check_page(&browser, &page, expected) {
        panic!("the report does not render cleanly in Chromium:\n  {}", found.join("\n  "));
    }

    // Every relative link (data files, the checksums, timings.json) points at a file that was written.
    let html = std::fs::read_to_string(&page).unwrap();
    // minijinja escapes `/` in attributes as `&#x2f;`, which the browser reads back as `/`.
    let links: Vec<String> = html
        .match_indices("href=\"")
        .map(|(i, m)| {
            html[i + m.len()..].split('"').next().unwrap().replace("&#x2f;", "/").replace("&amp;", "&")
        })
        .filter(|h| !h.starts_with('#') && !h.contains("://"))
        .collect();
    assert!(links.iter().any(|l| l.starts_with("data/")), "no data links: {links:?}");
    for l in &links {
        assert!(report_dir().join(l).is_file(), "the page links to {l}, which was not written");
    }

    // The screenshot goes beside the report and, to outlive the temporary folder, under target/.
    let shot = report_dir().join("report.png");
    run_chromium(
        &browser,
        report_dir().parent().unwrap(),
        &[format!("--screenshot={}", shot.display()), "--window-size=1280,4000".into(), file_url(&page)],
    );
    let png = std::fs::read(&shot).expect("chromium wrote the screenshot");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    let dims = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
    assert_eq!((dims(16), dims(20)), (1280, 4000), "screenshot size from the PNG header");
    assert!(
        png.len() > 20_000,
        "a {}-byte screenshot of a page with charts is suspiciously empty",
        png.len()
    );
    let keep = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-e2e.png");
    std::fs::copy(&shot, &keep).unwrap();
    eprintln!("screenshot: {}", keep.display());
}

#[test]
fn broken_charts_fail_the_check() {
    let Some(browser) = chromium() else { return };
    let ids: Vec<String> = {
        let html = std::fs::read_to_string(report_dir().join(report::PAGE)).unwrap();
        html.match_indices("<figure class=\"chart\" id=\"")
            .map(|(i, m)| html[i + m.len()..].split('"').next().unwrap().to_string())
            .collect()
    };
    assert!(ids.len() >= 3, "need three charts to break, have {ids:?}");
    let page = edited_copy("browser-broken-svg", |html| {
        let mut html = html;
        // First chart: an SVG that draws nothing. Second: one that is not displayed (zero size).
        // Third: truncated markup, as a half-written SVG would be.
        let svg_of = |html: &str, id: &str| {
            let fig = html.find(&format!("id=\"{id}\"")).unwrap();
            let start = fig + html[fig..].find("<svg").unwrap();
            let end = start + html[start..].find("</svg>").unwrap() + "</svg>".len();
            (start, end)
        };
        let (s, e) = svg_of(&html, &ids[0]);
        html.replace_range(
            s..e,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"640\" height=\"400\"></svg>",
        );
        let (s, _) = svg_of(&html, &ids[1]);
        html.insert_str(s + "<svg".len(), " style=\"display:none\"");
        let (s, e) = svg_of(&html, &ids[2]);
        // A half-written page: it ends halfway through this SVG (the later charts never arrive). A cut
        // that only removes the SVG's second half is repaired by the HTML parser and can still draw.
        html.truncate(s + html[s..s + (e - s) / 2].rfind('<').unwrap());
        html
    });
    let found =
        check_page(&browser, &page, expected_charts()).expect_err("broken charts must fail the check");
    let text = found.join("\n");
    eprintln!("found, as it should:\n{text}");
    assert!(text.contains(&format!("chart {}: draws nothing", ids[0])), "{text}");
    assert!(text.contains(&format!("chart {}: rendered 0 × 0 px", ids[1])), "{text}");
    assert!(found.iter().any(|f| f.contains(&ids[2]) || f.contains("chart figures")), "truncation: {text}");
}

#[test]
fn script_errors_console_errors_external_resources_and_layout_defects_fail_the_check() {
    let Some(browser) = chromium() else { return };
    let page = edited_copy("browser-js-error", |html| {
        let at = html.find("</main>").unwrap();
        let bad = "<script>console.error('deliberate console error');</script>\
                   <script>gradlabNoSuchFunction();</script>\
                   <img src=\"missing-image.png\" alt=\"\">\
                   <a href=\"#no-such-section\">dangling</a><div style=\"width: 3000px\">too wide</div>";
        format!("{}{bad}{}", &html[..at], &html[at..])
    });
    let found = check_page(&browser, &page, expected_charts()).expect_err("errors must fail the check");
    let text = found.join("\n");
    eprintln!("found, as it should:\n{text}");
    assert!(text.contains("page error: console.error: deliberate console error"), "{text}");
    assert!(text.contains("gradlabNoSuchFunction is not defined"), "{text}");
    assert!(text.contains("failed to load") && text.contains("missing-image.png"), "{text}");
    assert!(text.contains("console: "), "chromium's own console log is read too: {text}");
    assert!(text.contains("link #no-such-section points at no element"), "{text}");
    assert!(text.contains("scrolls sideways"), "{text}");
}

#[test]
fn the_findings_name_every_problem() {
    // The judging half on its own (no browser): a clean probe passes, each defect is named.
    let clean = serde_json::json!({
        "charts": [{ "id": "a-c1", "svgs": 1, "width": 800.0, "height": 500.0,
                     "drawn_width": 790.0, "drawn_height": 490.0, "elements": 120 }],
        "svgs": 1, "errors": [], "resources": [], "broken_anchors": [],
        "page_width": 1280.0, "window_width": 1280.0
    });
    assert!(problems(&clean, "", 1).is_empty());
    assert!(problems(&clean, "", 2)[0].contains("drew 2"));
    let mut bad = clean.clone();
    bad["charts"][0]["height"] = 0.0.into();
    bad["resources"] = serde_json::json!(["https://fonts.example/x.woff2"]);
    bad["broken_anchors"] = serde_json::json!(["#nowhere"]);
    bad["page_width"] = 1500.0.into();
    let found = problems(&bad, "[1:1:INFO:CONSOLE:3] \"oops\", source: x (3)", 1);
    assert_eq!(found.len(), 5, "{found:?}");
    assert!(found[0].contains("a-c1") && found[1].contains("#nowhere") && found[2].contains("sideways"));
    assert!(found[3].contains("self-contained") && found[4].contains("oops"));
    assert_eq!(probe_json("<pre id=\"gradlab-probe\">{\"a\":\"&lt;b&gt;\"}</pre>").unwrap()["a"], "<b>");
}
