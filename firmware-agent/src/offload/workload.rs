//! Reading a camera-size workload (`msao-host workload`, `docs/workload.md`): the
//! manifest's frames and requests, as the pipeline needs them.

use serde::Deserialize;
use std::path::{Path, PathBuf};

/// One frame of the workload.
#[derive(Debug, Clone, Deserialize)]
pub struct WorkloadFrame {
    /// Frame index.
    pub index: u32,
    /// PNG file, relative to the workload directory.
    pub file: String,
    /// Scene number.
    #[serde(default)]
    pub scene: u32,
    /// Ground-truth box of the placed image `[x, y, w, h]`.
    #[serde(default)]
    pub bbox: Option<[u32; 4]>,
}

/// One request of the workload.
#[derive(Debug, Clone, Deserialize)]
pub struct WorkloadRequest {
    /// Request id.
    pub request_id: u32,
    /// Index of its frame.
    pub frame: u32,
    /// The question.
    pub question: String,
    /// Expected answer, when known.
    #[serde(default)]
    pub answer: Option<String>,
    /// Audio track, relative to the workload directory.
    #[serde(default)]
    pub audio: Option<String>,
}

/// A workload manifest and its directory.
#[derive(Debug, Clone, Deserialize)]
pub struct Workload {
    /// Format name, `msao-workload`.
    pub format: String,
    /// Format version.
    pub version: u32,
    /// Frame width.
    pub width: u32,
    /// Frame height.
    pub height: u32,
    /// Frames.
    pub frames: Vec<WorkloadFrame>,
    /// Requests.
    pub requests: Vec<WorkloadRequest>,
    /// Directory the manifest was read from.
    #[serde(skip)]
    pub dir: PathBuf,
}

/// The workload could not be read.
#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    /// I/O.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Not a workload manifest.
    #[error("{path}: {reason}")]
    Format {
        /// The file.
        path: String,
        /// What was wrong.
        reason: String,
    },
}

impl Workload {
    /// Reads `DIR/workload.json`.
    pub fn open(dir: &Path) -> Result<Self, WorkloadError> {
        let path = dir.join("workload.json");
        let text = std::fs::read_to_string(&path).map_err(|source| WorkloadError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let fmt = |reason: String| WorkloadError::Format {
            path: path.display().to_string(),
            reason,
        };
        let mut w: Workload = serde_json::from_str(&text).map_err(|e| fmt(e.to_string()))?;
        if w.format != "msao-workload" || w.version != 1 {
            return Err(fmt(format!(
                "format `{}` version {} is not msao-workload version 1",
                w.format, w.version
            )));
        }
        for r in &w.requests {
            if w.frames
                .get(r.frame as usize)
                .is_none_or(|f| f.index != r.frame)
            {
                return Err(fmt(format!(
                    "request {} names frame {}, which is not frames[{}]",
                    r.request_id, r.frame, r.frame
                )));
            }
        }
        w.dir = dir.to_path_buf();
        Ok(w)
    }

    /// A request's frame (checked to exist by [`Self::open`]).
    pub fn frame(&self, request: &WorkloadRequest) -> Option<&WorkloadFrame> {
        self.frames.get(request.frame as usize)
    }

    /// Path of a request's frame.
    pub fn frame_path(&self, request: &WorkloadRequest) -> Option<PathBuf> {
        self.frame(request).map(|f| self.dir.join(&f.file))
    }

    /// Path of a request's audio track.
    pub fn audio_path(&self, request: &WorkloadRequest) -> Option<PathBuf> {
        request.audio.as_ref().map(|a| self.dir.join(a))
    }
}
