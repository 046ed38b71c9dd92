//! [`Images`]: still images as a camera (`file:///dir/`, `file:///dir/*.jpg`,
//! `file:///one.png`), cycled in name order at the camera's `fps`. Needs no GStreamer.
//! An image that cannot be decoded fails that read (a `Fault` naming it) and is skipped.

use super::capture::{CameraError, FrameSource};
use super::uri::is_image_path;
use crate::encoders::{InputLimits, open_image_within};
use image::RgbImage;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Still images cycled at a rate.
pub struct Images {
    pattern: String,
    interval: Duration,
    limits: InputLimits,
    files: Vec<PathBuf>,
    index: usize,
    due: Instant,
}

impl Images {
    /// Images matching `pattern` (a file, a directory ending in `/`, or a glob), one every
    /// `1 / fps` seconds, each decoded under `limits`.
    pub fn new(pattern: &str, fps: f64, limits: InputLimits) -> Self {
        Self {
            pattern: pattern.to_string(),
            interval: Duration::from_secs_f64(1.0 / fps.max(1e-3)),
            limits,
            files: Vec::new(),
            index: 0,
            due: Instant::now(),
        }
    }

    fn list(&self) -> Result<Vec<PathBuf>, CameraError> {
        let open = |e: String| CameraError::Open(format!("{}: {e}", self.pattern));
        let mut files: Vec<PathBuf> = if self.pattern.ends_with('/') {
            std::fs::read_dir(&self.pattern)
                .map_err(|e| open(e.to_string()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && is_image_path(p))
                .collect()
        } else {
            glob::glob(&self.pattern)
                .map_err(|e| open(e.to_string()))?
                .filter_map(Result::ok)
                .filter(|p| p.is_file() && is_image_path(p))
                .collect()
        };
        files.sort();
        if files.is_empty() {
            return Err(open("no image matches".into()));
        }
        Ok(files)
    }
}

impl FrameSource for Images {
    fn open(&mut self) -> Result<(), CameraError> {
        self.files = self.list()?;
        self.index %= self.files.len();
        self.due = Instant::now();
        Ok(())
    }

    fn next(&mut self, wait: Duration) -> Result<Option<RgbImage>, CameraError> {
        let now = Instant::now();
        if self.due > now {
            let nap = (self.due - now).min(wait);
            std::thread::sleep(nap);
            if Instant::now() < self.due {
                return Ok(None);
            }
        }
        self.due += self.interval;
        if self.due < Instant::now() {
            // Behind (a slow decode): keep the rate, do not burst.
            self.due = Instant::now() + self.interval;
        }
        let path = self.files[self.index].clone();
        self.index = (self.index + 1) % self.files.len();
        open_image_within(&path, &self.limits)
            .map(Some)
            .map_err(|e| CameraError::Read(e.to_string()))
    }

    fn close(&mut self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_is_cycled_in_name_order_and_a_corrupt_image_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        for (name, shade) in [("b.png", 200u8), ("a.png", 10)] {
            RgbImage::from_pixel(4, 3, image::Rgb([shade; 3]))
                .save(dir.path().join(name))
                .unwrap();
        }
        std::fs::write(dir.path().join("c.jpg"), b"not a jpeg").unwrap();
        std::fs::write(dir.path().join("notes.txt"), b"ignored").unwrap();
        let pattern = format!("{}/", dir.path().display());
        let mut s = Images::new(&pattern, 1000.0, InputLimits::default());
        s.open().unwrap();
        let mut next = || loop {
            if let Some(r) = s.next(Duration::from_millis(50)).transpose() {
                return r;
            }
        };
        assert_eq!(next().unwrap().get_pixel(0, 0).0, [10; 3]);
        assert_eq!(next().unwrap().get_pixel(0, 0).0, [200; 3]);
        let e = next().unwrap_err().to_string();
        assert!(e.contains("c.jpg"), "{e}");
        assert_eq!(next().unwrap().get_pixel(0, 0).0, [10; 3], "cycles on");

        let glob = format!("{}/b*.png", dir.path().display());
        let mut g = Images::new(&glob, 1000.0, InputLimits::default());
        g.open().unwrap();
        assert_eq!(g.files.len(), 1);
        let none = format!("{}/*.webp", dir.path().display());
        let e = Images::new(&none, 1.0, InputLimits::default())
            .open()
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("no image matches") && e.contains("*.webp"),
            "{e}"
        );
    }
}
