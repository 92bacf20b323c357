//! The source documents by their titles: a scenario names its source by file name (the documents live
//! outside the repository), the page names it by the document's own title and keeps the file name as a
//! footnote. The titles are each document's first heading that reads as a title ([`title_of`]); a test
//! checks them against the documents where they are present.

/// (file name, title) of every source document.
pub const SOURCES: [(&str, &str); 5] = [
    ("000_b69492989fc13f20.txt", "Artificial Neural Network (ANN) Gradient Visualization"),
    ("001_4c52fe2161f98c85.txt", "Vanishing and Exploding Gradients in Deep Learning with Python"),
    ("002_68c96f427dc0ee47.txt", "Vanishing (or Exploding) Gradients"),
    ("003_329da3b06dde4f0f.txt", "Week 5 - Day 3: Vanishing & Exploding Gradients"),
    ("004_52a98d029cfafbd9.txt", "Notes on Tutorial 8 - Vanishing Gradient Problem"),
];

/// The title of a source file name, `None` for a file the table does not know (or "beyond the sources").
pub fn title(file: &str) -> Option<&'static str> {
    SOURCES.iter().find(|(f, _)| *f == file).map(|(_, t)| *t)
}

/// A source's footnote number on the page (1-based, in table order).
pub fn number(file: &str) -> Option<usize> {
    SOURCES.iter().position(|(f, _)| *f == file).map(|i| i + 1)
}

/// Replaces references to a source by its file prefix ("also 001 slide 9") with its title, so the page
/// never shows a bare file number.
pub fn name_references(text: &str) -> String {
    let mut out = text.to_string();
    for (file, title) in SOURCES {
        let prefix = &file[..3];
        let mut result = String::with_capacity(out.len());
        let mut rest = out.as_str();
        while let Some(i) = rest.find(prefix) {
            let before = rest[..i].chars().next_back();
            let mut next = rest[i + 3..].chars();
            let after = next.next();
            // Part of a number ("0.001", "001.5") is not a reference; a full stop that ends a sentence is.
            let decimal =
                before == Some('.') || after == Some('.') && next.next().is_some_and(|c| c.is_ascii_digit());
            let alone = !decimal
                && !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
                && !after.is_some_and(|c| c.is_alphanumeric() || c == '_');
            result.push_str(&rest[..i]);
            result.push_str(if alone { title } else { prefix });
            rest = &rest[i + 3..];
        }
        result.push_str(rest);
        out = result;
    }
    out
}

/// A document's title: its first Markdown heading that reads as one, with leading emoji (or their
/// mis-encoded bytes) and marks dropped. A heading of one hyphenated word is a repository's name, not a
/// title, and is skipped.
pub fn title_of(text: &str) -> Option<String> {
    text.lines()
        .filter_map(|l| l.trim_start().strip_prefix('#'))
        .map(|h| h.trim_start_matches('#').trim_start_matches(|c: char| !c.is_ascii_alphanumeric()).trim())
        .find(|h| h.contains(' '))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_come_from_the_first_real_heading() {
        assert_eq!(title_of("# my-repo\n```\n# A Real Title\n## Overview").as_deref(), Some("A Real Title"));
        assert_eq!(
            title_of("intro\n# Ã°Å¸â€œËœ Vanishing (or Exploding) Gradients").as_deref(),
            Some("Vanishing (or Exploding) Gradients")
        );
        assert_eq!(title_of("no heading"), None);
    }

    #[test]
    fn file_numbers_become_titles_only_where_they_stand_alone() {
        assert_eq!(
            name_references("part 4; also 001 slide 9, not 0010 or 001_x"),
            "part 4; also Vanishing and Exploding Gradients in Deep Learning with Python slide 9, not 0010 or 001_x"
        );
        assert_eq!(
            name_references("Adam(learning_rate=0.001), 001.5 and 001."),
            "Adam(learning_rate=0.001), 001.5 and Vanishing and Exploding Gradients in Deep Learning with Python."
        );
    }

    /// The table's titles are the documents' own, where the documents are at hand (beside the checkout).
    #[test]
    fn the_table_matches_the_documents() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/seeds");
        if !dir.is_dir() {
            eprintln!("skipped: the source documents are not at {}", dir.display());
            return;
        }
        for (file, title) in SOURCES {
            let text = std::fs::read_to_string(dir.join(file)).unwrap();
            assert_eq!(title_of(&text).as_deref(), Some(title), "{file}");
        }
    }
}
