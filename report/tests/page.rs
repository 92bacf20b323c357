//! The page's head as a search engine or a link preview reads it: a title and a meta description, both
//! present and non-empty, from a real (small) run of the report binary.
mod common;

/// The `content` of `<meta name="NAME" content="...">`, if the page has that tag.
fn meta<'a>(html: &'a str, name: &str) -> Option<&'a str> {
    let head = &html[..html.find("</head>")?];
    let tag_at = head.find(&format!("<meta name=\"{name}\""))?;
    let tag = &head[tag_at..tag_at + head[tag_at..].find('>')?];
    let content = tag.split_once("content=\"")?.1;
    Some(&content[..content.find('"')?])
}

/// The text of `<title>` in the head.
fn title(html: &str) -> Option<&str> {
    let head = &html[..html.find("</head>")?];
    let start = head.find("<title>")? + "<title>".len();
    Some(&head[start..start + head[start..].find("</title>")?])
}

#[test]
fn the_checks_catch_a_missing_or_empty_description() {
    let good = r#"<html><head><title>T</title><meta name="description" content="What it is."></head><body>"#;
    assert_eq!(meta(good, "description"), Some("What it is."));
    assert_eq!(title(good), Some("T"));
    let empty = good.replace("What it is.", "");
    assert_eq!(meta(&empty, "description"), Some(""));
    let missing = good.replace(r#"<meta name="description" content="What it is.">"#, "");
    assert_eq!(meta(&missing, "description"), None);
    // A description in the body is no description of the page.
    let in_body = missing.replace("<body>", r#"<body><meta name="description" content="x">"#);
    assert_eq!(meta(&in_body, "description"), None);
}

#[test]
fn the_page_has_a_title_and_a_meta_description() {
    let out = common::temp_dir("page-head").join("out");
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_report"))
        .args(["--quick", "--only", "activations", "--out"])
        .arg(&out)
        .arg("--scenarios")
        .arg(common::scenarios_dir())
        .output()
        .expect("the report binary starts");
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let html = std::fs::read_to_string(out.join(report::PAGE)).unwrap();
    let description = meta(&html, "description").expect("a <meta name=\"description\"> in the head");
    assert!(description.split_whitespace().count() >= 10, "a sentence or two, not {description:?}");
    assert!(!description.contains("{{"), "the template rendered: {description:?}");
    assert!(title(&html).is_some_and(|t| !t.trim().is_empty()), "a non-empty <title>");
}
