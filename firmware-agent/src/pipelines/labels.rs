//! [`Labels`]: a classification head's answer labels, one per line of a text file, in
//! logit order.

use super::PipelineError;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Most labels a head may have: `RequestTrace.answer` carries the class id as a `u16`.
pub const MAX_LABELS: usize = u16::MAX as usize;

/// A head's labels, in logit order, and the file they came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Labels {
    names: Vec<String>,
    path: PathBuf,
    sha256: String,
}

impl Labels {
    /// Reads a labels file: one label per line, UTF-8, trimmed; blank lines and lines
    /// starting with `#` are skipped; labels are unique and there is at least one.
    pub fn load(path: &Path) -> Result<Self, PipelineError> {
        let err = |reason: String| PipelineError::Labels {
            path: path.to_path_buf(),
            reason,
        };
        let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
        let text = std::str::from_utf8(&bytes).map_err(|e| err(format!("not UTF-8: {e}")))?;
        let mut names: Vec<String> = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let label = line.trim();
            if label.is_empty() || label.starts_with('#') {
                continue;
            }
            if names.iter().any(|n| n == label) {
                return Err(err(format!(
                    "line {}: label `{label}` appears twice",
                    i + 1
                )));
            }
            names.push(label.to_string());
        }
        if names.is_empty() {
            return Err(err("has no labels".into()));
        }
        if names.len() > MAX_LABELS {
            return Err(err(format!(
                "has {} labels, more than {MAX_LABELS}",
                names.len()
            )));
        }
        let sha256 = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok(Self {
            names,
            path: path.to_path_buf(),
            sha256,
        })
    }

    /// How many classes.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Never true for a loaded file (kept for the `len` convention).
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The label of class `class`.
    pub fn get(&self, class: usize) -> Option<&str> {
        self.names.get(class).map(String::as_str)
    }

    /// The class of a label.
    pub fn class_of(&self, label: &str) -> Option<usize> {
        self.names.iter().position(|n| n == label)
    }

    /// All labels, in logit order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The file they were read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Lowercase hex sha256 of the file's bytes.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// Checks that a model output of `len` values has one value per label.
    pub fn check_outputs(&self, what: &str, len: usize) -> Result<(), PipelineError> {
        if len == self.len() {
            Ok(())
        } else {
            Err(PipelineError::Labels {
                path: self.path.clone(),
                reason: format!("has {} labels but {what} gives {len} values", self.len()),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("labels.txt");
        std::fs::write(&p, text).unwrap();
        (dir, p)
    }

    #[test]
    fn labels_in_order_comments_and_blanks_skipped() {
        let (_d, p) = write("# answers\ncat\n\n dog \nbird\n");
        let l = Labels::load(&p).unwrap();
        assert_eq!(l.names(), ["cat", "dog", "bird"]);
        assert_eq!(l.get(1), Some("dog"));
        assert_eq!(l.class_of("bird"), Some(2));
        assert_eq!(l.get(3), None);
        assert_eq!(l.sha256().len(), 64);
        l.check_outputs("logits", 3).unwrap();
        let e = l
            .check_outputs("output `logits`", 4)
            .unwrap_err()
            .to_string();
        assert!(e.contains("3 labels but output `logits` gives 4"), "{e}");
    }

    #[test]
    fn duplicates_empty_and_missing_files_are_named() {
        let (_d, p) = write("a\nb\na\n");
        let e = Labels::load(&p).unwrap_err().to_string();
        assert!(
            e.contains("line 3") && e.contains("`a` appears twice"),
            "{e}"
        );
        let (_d, p) = write("# nothing\n\n");
        let e = Labels::load(&p).unwrap_err().to_string();
        assert!(
            e.contains("has no labels") && e.contains("labels.txt"),
            "{e}"
        );
        let e = Labels::load(Path::new("/nonexistent/labels.txt"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("/nonexistent/labels.txt"), "{e}");
    }

    #[test]
    fn the_hash_follows_the_bytes() {
        let (_d, a) = write("x\ny\n");
        let (_e, b) = write("y\nx\n");
        let (la, lb) = (Labels::load(&a).unwrap(), Labels::load(&b).unwrap());
        assert_ne!(la.sha256(), lb.sha256());
    }
}
