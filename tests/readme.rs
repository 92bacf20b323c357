//! The README's Rust snippet is the body of `examples/03_readme.rs` (which
//! `cargo test` compiles): every line of the snippet must appear there, in
//! order, so the README cannot drift from code that builds.
fn rust_block(readme: &str) -> Vec<&str> {
    let start = readme.find("```rust\n").expect("the README has a ```rust block") + "```rust\n".len();
    let len = readme[start..].find("```").expect("the block is closed");
    readme[start..start + len].lines().map(str::trim).filter(|l| !l.is_empty()).collect()
}

fn lines_in_order(snippet: &[&str], code: &str) -> Result<(), String> {
    let mut rest = code.lines().map(str::trim);
    for line in snippet {
        if !rest.any(|c| c == *line) {
            return Err(format!("README line not found (in order) in examples/03_readme.rs: {line:?}"));
        }
    }
    Ok(())
}

#[test]
fn the_readme_snippet_is_the_compiled_example() {
    let root = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let example = std::fs::read_to_string(format!("{root}/examples/03_readme.rs")).unwrap();
    let snippet = rust_block(&readme);
    assert!(snippet.len() >= 10, "{snippet:?}");
    lines_in_order(&snippet, &example).unwrap();
    // The check catches a drifted line.
    let drifted: Vec<&str> =
        snippet.iter().map(|l| if l.contains(".epochs(") { ".epochs(30)" } else { l }).collect();
    assert!(lines_in_order(&drifted, &example).is_err());
}
