//! Replacing the output directory only when a run succeeded: everything is written into a fresh sibling
//! directory, which is then renamed into place; a failed run removes its sibling and leaves the
//! previous report as it was.
use crate::error::{ReportError, Result};
use std::path::{Path, PathBuf};

/// Runs `write` on a fresh temporary directory next to `out` and, if it succeeds, puts that directory
/// at `out` (replacing what was there). On failure `out` is untouched and the temporary one removed.
pub fn replace_dir<T>(out: &Path, write: impl FnOnce(&Path) -> Result<T>) -> Result<T> {
    let out = normalise(out);
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(|e| ReportError::io(&parent, e))?;
    let Some(name) = out.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return Err(ReportError::Usage(format!(
            "--out {}: name a directory to create, e.g. out/",
            out.display()
        )));
    };
    let pid = std::process::id();
    let tmp = parent.join(format!(".{name}.tmp-{pid}"));
    let old = parent.join(format!(".{name}.old-{pid}"));
    for stale in [&tmp, &old] {
        if stale.exists() {
            std::fs::remove_dir_all(stale).map_err(|e| ReportError::io(stale, e))?;
        }
    }
    std::fs::create_dir(&tmp).map_err(|e| ReportError::io(&tmp, e))?;
    let value = match write(&tmp) {
        Ok(v) => v,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
    };
    // Two renames: the old report is moved aside first so the new one never mixes with it.
    let had_old = out.exists();
    if had_old {
        std::fs::rename(&out, &old).map_err(|e| ReportError::io(&out, e))?;
    }
    if let Err(e) = std::fs::rename(&tmp, &out) {
        if had_old {
            let _ = std::fs::rename(&old, &out);
        }
        return Err(ReportError::io(&out, e));
    }
    if had_old {
        std::fs::remove_dir_all(&old).map_err(|e| ReportError::io(&old, e))?;
    }
    Ok(value)
}

/// `out/` and `out` name the same directory; drop trailing separators and `.` components.
fn normalise(p: &Path) -> PathBuf {
    p.components().filter(|c| !matches!(c, std::path::Component::CurDir)).collect()
}
