//! Every claim quotes its source: each quote (parts joined by " ... ") must be found, whitespace aside,
//! in one of the five source documents. They are kept beside the repository (`../shared/seeds/`), not
//! in it: where they are absent (a clean clone) the check says so and is skipped.
mod common;

use std::path::Path;

/// The page's scenarios and the sweeps beside them.
fn all_scenarios() -> Vec<report::scenario::Scenario> {
    let dir = common::scenarios_dir();
    let mut all = report::scenario::discover(&dir).unwrap();
    all.extend(report::scenario::discover(&dir.join("sweeps")).unwrap());
    all
}

fn normalise(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The parts of `quote` not found in `sources`.
fn missing_parts<'q>(quote: &'q str, sources: &str) -> Vec<&'q str> {
    quote.split(" ... ").filter(|part| !sources.contains(&normalise(part))).collect()
}

#[test]
fn the_checker_catches_a_misquote() {
    let src = normalise("Slide 3: Vanishing gradients are   often caused\nby sigmoid.");
    assert!(missing_parts("gradients are often caused by sigmoid", &src).is_empty());
    assert!(missing_parts("Slide 3: ... by sigmoid", &src).is_empty());
    assert_eq!(missing_parts("Slide 3: ... by tanh", &src), ["by tanh"]);
    assert_eq!(missing_parts("gradients are always caused", &src), ["gradients are always caused"]);
}

#[test]
fn every_claim_quotes_a_source_verbatim() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/seeds");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!("skipped: the source documents are not at {}", dir.display());
        return;
    };
    let mut sources = String::new();
    for e in entries {
        let path = e.unwrap().path();
        if path.extension().is_some_and(|x| x == "txt") {
            sources.push_str(&normalise(&std::fs::read_to_string(&path).unwrap()));
            sources.push('\n');
        }
    }
    let mut bad = Vec::new();
    for s in all_scenarios() {
        for c in &s.spec.claims {
            let c = c.get_ref();
            for part in missing_parts(&c.quote, &sources) {
                bad.push(format!("{}: claim `{}`: \"{part}\"", s.name, c.key));
            }
        }
    }
    assert!(bad.is_empty(), "quotes not found in any source document:\n{}", bad.join("\n"));
}

/// A claim's argument is prose over the run's figures like the rest of the page: a number in it is a
/// setting or a quotation (in `code`), or a template over the data, never a measurement typed by hand.
#[test]
fn no_claim_argument_types_a_measured_number() {
    let mut found = Vec::new();
    for s in all_scenarios() {
        for c in &s.spec.claims {
            let c = c.get_ref();
            for field in [&c.argument, &c.source_setting] {
                for lit in report::prose::measured_literals(field) {
                    found.push(format!("{}: claim `{}`: {lit}", s.name, c.key));
                }
            }
        }
    }
    assert!(found.is_empty(), "measured-looking numbers typed into claims:\n{}", found.join("\n"));
}
