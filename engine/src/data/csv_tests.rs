//! Tests of the CSV loader: every malformed case names its file, line and expectation.
use super::*;
use flate2::{Compression, write::GzEncoder};
use proptest::prelude::*;
use std::io::Write;

const SPEC: Spec = Spec { columns: 4, min: 0.0, max: 16.0, classes: 10, rows: None };

fn gz(text: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(text).unwrap();
    enc.finish().unwrap()
}

/// Parses `text` through gzip and returns the error's (line, message).
fn fails(text: &str, spec: &Spec) -> (usize, String) {
    match parse_gz("t.csv.gz", &gz(text.as_bytes()), spec) {
        Err(Error::Data { file, line, msg }) => {
            assert_eq!(file, "t.csv.gz");
            (line, msg)
        }
        other => panic!("expected a data error for {text:?}, got {other:?}"),
    }
}

#[test]
fn parses_a_well_formed_file() {
    let text = "0,1,16,3\n2.5, 4 ,0,9\r\n16,16,16,0";
    let ds = parse_gz("dir/t.csv.gz", &gz(text.as_bytes()), &SPEC).unwrap();
    assert_eq!(ds.name, "t");
    assert_eq!(ds.features, 3);
    assert_eq!(ds.len(), 3);
    assert_eq!(ds.x, vec![0.0, 1.0, 16.0, 2.5, 4.0, 0.0, 16.0, 16.0, 16.0]);
    assert_eq!(ds.targets, Targets::Classes { labels: vec![3, 9, 0], classes: 10 });
}

#[test]
fn wrong_column_count_names_the_line() {
    let (line, msg) = fails("1,2,3,4\n1,2,3\n", &SPEC);
    assert_eq!(line, 2);
    assert!(msg.contains("expected 4 columns") && msg.contains("found 3"), "{msg}");
    let (line, msg) = fails("1,2,3,4\n1,2,3,4,5\n", &SPEC);
    assert_eq!(line, 2);
    assert!(msg.contains("found 5"), "{msg}");
    // A blank line in the middle is a line with one empty column.
    let (line, msg) = fails("1,2,3,4\n\n1,2,3,4\n", &SPEC);
    assert_eq!(line, 2);
    assert!(msg.contains("found 1"), "{msg}");
}

#[test]
fn bad_numbers_name_the_column_and_range() {
    for (bad, col) in [("abc", 2), ("", 1), ("NaN", 3), ("inf", 1), ("17", 2), ("-1", 3), ("1e300", 1)] {
        let mut fields = ["1", "2", "3", "4"];
        fields[col - 1] = bad;
        let text = format!("0,0,0,0\n0,0,0,0\n{}\n", fields.join(","));
        let (line, msg) = fails(&text, &SPEC);
        assert_eq!(line, 3, "{bad}");
        assert!(msg.contains(&format!("column {col}: expected a number in 0..=16")), "{msg}");
        assert!(msg.contains(&format!("`{bad}`")), "{msg}");
    }
}

#[test]
fn labels_must_be_integer_classes() {
    for bad in ["12", "10", "-1", "3.5", "x", ""] {
        let (line, msg) = fails(&format!("1,2,3,{bad}\n"), &SPEC);
        assert_eq!(line, 1);
        assert!(msg.contains("column 4 (label): expected an integer class in 0..10"), "{msg}");
        assert!(msg.contains(&format!("`{bad}`")), "{msg}");
    }
    // 9 is the last valid class; an integer written as a float is accepted.
    assert!(parse_gz("t", &gz(b"1,2,3,9\n1,2,3,4.0\n"), &SPEC).is_ok());
}

#[test]
fn truncated_gzip_is_a_data_error() {
    let text: String = (0..500).map(|i| format!("{},1,2,{}\n", i % 17, i % 10)).collect();
    let full = gz(text.as_bytes());
    assert!(parse_gz("t.csv.gz", &full, &SPEC).is_ok());
    for cut in [full.len() - 1, full.len() - 8, full.len() / 2, 12, 3, 0] {
        let err = parse_gz("t.csv.gz", &full[..cut], &SPEC).unwrap_err();
        let Error::Data { file, line, msg } = &err else { panic!("{err:?}") };
        assert_eq!(file, "t.csv.gz");
        assert!(*line >= 1, "cut {cut}: {err}");
        assert!(msg.contains("cannot read"), "cut {cut}: {err}");
    }
    // Not gzip at all.
    let err = parse_gz("t.csv.gz", text.as_bytes(), &SPEC).unwrap_err();
    assert!(err.to_string().starts_with("t.csv.gz:1: cannot read"), "{err}");
}

#[test]
fn wrong_checksum_names_the_file_and_both_hashes() {
    let bytes = gz(b"1,2,3,4\n");
    let good = sha256_hex(&bytes);
    assert_eq!(good.len(), 64);
    assert!(load_gz("digits.csv.gz", &bytes, &good.to_uppercase(), &SPEC).is_ok());
    let wrong = "0".repeat(64);
    let err = load_gz("digits.csv.gz", &bytes, &wrong, &SPEC).unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("digits.csv.gz:0: SHA-256 mismatch"), "{text}");
    assert!(text.contains(&wrong) && text.contains(&good), "{text}");
}

#[test]
fn sha256_matches_a_known_vector() {
    // FIPS 180-2 example "abc".
    assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

#[test]
fn row_count_is_checked_both_ways() {
    let spec = Spec { rows: Some(2), ..SPEC };
    let (line, msg) = fails("1,2,3,4\n", &spec);
    assert_eq!((line, msg.as_str()), (2, "expected 2 rows, found 1"));
    let (line, msg) = fails("1,2,3,4\n1,2,3,4\n1,2,3,4\n", &spec);
    assert_eq!((line, msg.as_str()), (3, "expected 2 rows, found more"));
    assert_eq!(parse_gz("t", &gz(b"1,2,3,4\n5,6,7,8\n"), &spec).unwrap().len(), 2);
}

#[test]
fn empty_files_non_utf8_and_long_lines_are_rejected() {
    let (line, msg) = fails("", &SPEC);
    assert_eq!(line, 0);
    assert!(msg.contains("no rows"), "{msg}");
    let err = parse_gz("t", &gz(b"1,2,3,4\n1,\xff,3,4\n"), &SPEC).unwrap_err();
    assert!(err.to_string().starts_with("t:2: not UTF-8"), "{err}");
    let long = format!("1,2,3,4\n{}\n", "0".repeat(100_000));
    let (line, msg) = fails(&long, &SPEC);
    assert_eq!(line, 2);
    assert!(msg.contains("line longer than"), "{msg}");
}

#[test]
fn invalid_spec_is_an_error_not_a_panic() {
    for spec in [
        Spec { columns: 1, ..SPEC },
        Spec { classes: 0, ..SPEC },
        Spec { min: 2.0, max: 1.0, ..SPEC },
        Spec { min: f64::NAN, ..SPEC },
    ] {
        let err = parse_gz("t", &gz(b"1,2,3,4\n"), &spec).unwrap_err();
        assert!(err.to_string().contains("invalid spec"), "{err}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = parse_gz("r", &bytes, &SPEC);
        let _ = parse_csv("r", &bytes[..], &SPEC);
        let _ = load_gz("r", &bytes, "00", &SPEC);
    }

    #[test]
    fn random_text_inside_valid_gzip_never_panics(text in "[0-9,.\\-e\\n\\r a-z]{0,300}") {
        let _ = parse_gz("r", &gz(text.as_bytes()), &SPEC);
    }

    #[test]
    fn well_formed_rows_round_trip(rows in proptest::collection::vec(
        (0u8..=16, 0u8..=16, 0u8..=16, 0usize..10), 1..50)) {
        let text: String = rows.iter().map(|(a, b, c, l)| format!("{a},{b},{c},{l}\n")).collect();
        let ds = parse_gz("r", &gz(text.as_bytes()), &SPEC).unwrap();
        prop_assert_eq!(ds.len(), rows.len());
        for (i, (a, b, c, l)) in rows.iter().enumerate() {
            prop_assert_eq!(&ds.x[3 * i..3 * i + 3], &[*a as f32, *b as f32, *c as f32][..]);
            let Targets::Classes { labels, .. } = &ds.targets else { unreachable!() };
            prop_assert_eq!(labels[i], *l);
        }
    }
}
