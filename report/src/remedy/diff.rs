//! A unified diff of two texts (`diff -u` format, three lines of context), to show what a remedy
//! changed in a scenario file. Scenario files are small, so the longest common subsequence of their
//! lines is found by plain dynamic programming.

/// `diff -u` of `old` (labelled `a`) against `new` (labelled `b`); empty when they are equal.
pub fn unified(a: &str, b: &str, old: &str, new: &str) -> String {
    let (x, y): (Vec<&str>, Vec<&str>) = (old.lines().collect(), new.lines().collect());
    let ops = script(&x, &y);
    if ops.iter().all(|o| matches!(o, Op::Same(..))) {
        return String::new();
    }
    let mut out = format!("--- {a}\n+++ {b}\n");
    const CONTEXT: usize = 3;
    // Hunks: runs of changes with up to 2·CONTEXT unchanged lines between them.
    let changed: Vec<usize> = (0..ops.len()).filter(|&k| !matches!(ops[k], Op::Same(..))).collect();
    let mut k = 0;
    while k < changed.len() {
        let start = changed[k].saturating_sub(CONTEXT);
        let mut end = changed[k];
        while k + 1 < changed.len() && changed[k + 1] <= end + 2 * CONTEXT + 1 {
            k += 1;
            end = changed[k];
        }
        let end = (end + CONTEXT + 1).min(ops.len());
        let hunk = &ops[start..end];
        // Line numbers (from 1) where the hunk starts in each file.
        let (mut i0, mut j0) = (1, 1);
        for o in &ops[..start] {
            match o {
                Op::Same(..) => (i0, j0) = (i0 + 1, j0 + 1),
                Op::Del(_) => i0 += 1,
                Op::Add(_) => j0 += 1,
            }
        }
        let dels = hunk.iter().filter(|o| !matches!(o, Op::Add(_))).count();
        let adds = hunk.iter().filter(|o| !matches!(o, Op::Del(_))).count();
        out.push_str(&format!("@@ -{i0},{dels} +{j0},{adds} @@\n"));
        for o in hunk {
            match o {
                Op::Same(l) => out.push_str(&format!(" {l}\n")),
                Op::Del(l) => out.push_str(&format!("-{l}\n")),
                Op::Add(l) => out.push_str(&format!("+{l}\n")),
            }
        }
        k += 1;
    }
    out
}

enum Op<'a> {
    Same(&'a str),
    Del(&'a str),
    Add(&'a str),
}

/// The edit script from the longest common subsequence table.
fn script<'a>(x: &[&'a str], y: &[&'a str]) -> Vec<Op<'a>> {
    let (n, m) = (x.len(), y.len());
    // lcs[i][j]: longest common subsequence of x[i..] and y[j..].
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if x[i] == y[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    let (mut i, mut j, mut ops) = (0, 0, Vec::new());
    while i < n || j < m {
        if i < n && j < m && x[i] == y[j] {
            ops.push(Op::Same(x[i]));
            (i, j) = (i + 1, j + 1);
        } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
            ops.push(Op::Del(x[i]));
            i += 1;
        } else {
            ops.push(Op::Add(y[j]));
            j += 1;
        }
    }
    ops
}

#[cfg(test)]
mod tests {
    use super::unified;

    #[test]
    fn one_changed_line_in_context() {
        let old = "a\nb\nc\nd\ne\nf\ng\nh\n";
        let new = "a\nb\nc\nd\nE\nf\ng\nh\n";
        let d = unified("x", "y", old, new);
        assert_eq!(d, "--- x\n+++ y\n@@ -2,7 +2,7 @@\n b\n c\n d\n-e\n+E\n f\n g\n h\n");
        assert_eq!(unified("x", "y", old, old), "");
    }

    #[test]
    fn far_apart_changes_make_two_hunks() {
        let old: String = (0..20).map(|i| format!("{i}\n")).collect();
        let new: String = (0..20)
            .map(|i| match i {
                2 => "two\n".to_string(),
                17 => "seventeen\n".to_string(),
                i => format!("{i}\n"),
            })
            .collect();
        let d = unified("x", "y", &old, &new);
        assert_eq!(d.matches("@@").count(), 4, "{d}");
        assert!(d.contains("@@ -15,6 +15,6 @@"), "{d}");
    }
}
