//! Writing report files: every page racegate writes (a run's reports, the
//! history view, a scenario's pages, the `--out` index) goes to disk through
//! [`write_pages`], so a missing directory is created and a failure names
//! the file the same way everywhere.

use std::path::{Path, PathBuf};

/// A named file's contents, e.g. `("report.md", text)`.
pub type Page = (&'static str, String);

/// A report file could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {}: {source}", path.display())]
pub struct WriteError {
    /// The file (or the directory that could not be created).
    pub path: PathBuf,
    /// Why.
    pub source: std::io::Error,
}

/// Writes each page into `dir`, creating it first.
pub fn write_pages(dir: &Path, pages: impl IntoIterator<Item = Page>) -> Result<(), WriteError> {
    std::fs::create_dir_all(dir).map_err(|source| WriteError {
        path: dir.to_owned(),
        source,
    })?;
    for (name, text) in pages {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|source| WriteError { path, source })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_land_in_a_created_directory_and_failures_name_the_file() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let dir = tmp.path().join("a/b");
        write_pages(&dir, [("x.md", "x".to_owned()), ("y.md", "y".to_owned())])
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            std::fs::read_to_string(dir.join("y.md")).ok().as_deref(),
            Some("y")
        );
        // A directory where the file should be: the error names that path.
        std::fs::create_dir(dir.join("z.md")).unwrap_or_else(|e| panic!("{e}"));
        let err = write_pages(&dir, [("z.md", String::new())])
            .err()
            .unwrap_or_else(|| panic!("writing over a directory must fail"));
        assert_eq!(err.path, dir.join("z.md"));
    }
}
