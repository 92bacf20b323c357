//! Fuzzing the scenario parser: arbitrary text and shipped scenario files with one mutation (a byte
//! replaced, inserted or removed, the file cut short) parse, or give a scenario error that names the
//! file and a line and column inside it; never a panic.
mod common;

use proptest::prelude::*;
use report::error::ReportError;
use report::scenario::Scenario;
use std::path::Path;

fn check(text: &str) -> Result<(), TestCaseError> {
    if let Err(e) = Scenario::parse(Path::new("scenarios/f.toml"), text.to_string()) {
        match e {
            ReportError::Scenario { path, line, column, msg } => {
                prop_assert_eq!(path, Path::new("scenarios/f.toml"));
                prop_assert!(line >= 1 && line <= text.lines().count().max(1) + 1, "line {line}: {msg}");
                prop_assert!(column >= 1, "column {column}: {msg}");
            }
            other => prop_assert!(false, "not a scenario error with a place: {other}"),
        }
    }
    Ok(())
}

fn shipped(name: &str) -> String {
    std::fs::read_to_string(common::scenarios_dir().join(name)).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        check(&String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn mutated_scenarios_never_panic(
        file in prop::sample::select(vec!["xor.toml", "zoo_rnn_short.toml", "activations.toml"]),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        how in 0..4u8,
    ) {
        let mut text = shipped(file).into_bytes();
        let i = at.index(text.len());
        match how {
            0 => text[i] = byte,
            1 => text.insert(i, byte),
            2 => { text.remove(i); }
            _ => text.truncate(i),
        }
        check(&String::from_utf8_lossy(&text))?;
    }
}
