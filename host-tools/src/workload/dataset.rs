//! A directory in the easy-VQA layout: `questions.json` (`[[question, answer, image_id],
//! …]`) and `images/<image_id>.png`. The easy-VQA package (MIT) ships `train/` and `test/`
//! directories in this layout; `scripts/fetch-easy-vqa.sh` unpacks them.

use image::RgbImage;
use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

/// One question about one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    /// The question text.
    pub text: String,
    /// The expected answer (one of the 13 easy-VQA answers).
    pub answer: String,
}

/// The questions of a dataset directory, by image id.
#[derive(Debug, Clone)]
pub struct Dataset {
    dir: PathBuf,
    /// Image id → its questions, in file order.
    pub questions: BTreeMap<u32, Vec<Question>>,
}

/// A dataset directory that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    /// I/O.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// `questions.json` is not the easy-VQA shape.
    #[error(
        "{path} is not an easy-VQA questions file ([[question, answer, image_id], …]): {source}"
    )]
    Questions {
        /// The file.
        path: PathBuf,
        /// Why.
        source: serde_json::Error,
    },
    /// No questions at all.
    #[error("{path} holds no questions")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// An image that will not decode.
    #[error("image {path} cannot be decoded: {source}")]
    Image {
        /// The file.
        path: PathBuf,
        /// Why.
        source: image::ImageError,
    },
}

impl Dataset {
    /// Reads `dir/questions.json`.
    pub fn open(dir: &Path) -> Result<Self, DatasetError> {
        let path = dir.join("questions.json");
        let text = std::fs::read_to_string(&path).map_err(|source| DatasetError::Io {
            path: path.clone(),
            source,
        })?;
        let rows: Vec<(String, String, u32)> =
            serde_json::from_str(&text).map_err(|source| DatasetError::Questions {
                path: path.clone(),
                source,
            })?;
        if rows.is_empty() {
            return Err(DatasetError::Empty { path });
        }
        let mut questions: BTreeMap<u32, Vec<Question>> = BTreeMap::new();
        for (text, answer, id) in rows {
            questions
                .entry(id)
                .or_default()
                .push(Question { text, answer });
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            questions,
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Image ids, ascending.
    pub fn ids(&self) -> Vec<u32> {
        self.questions.keys().copied().collect()
    }

    /// Path of an image.
    pub fn image_path(&self, id: u32) -> PathBuf {
        self.dir.join("images").join(format!("{id}.png"))
    }

    /// Decodes an image as RGB.
    pub fn image(&self, id: u32) -> Result<RgbImage, DatasetError> {
        let path = self.image_path(id);
        image::open(&path)
            .map(|i| i.to_rgb8())
            .map_err(|source| DatasetError::Image { path, source })
    }
}
