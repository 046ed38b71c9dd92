//! `[[camera]]` and `[[watch]]`, and `--camera NAME=URI`.
//!
//! ```toml
//! [[camera]]
//! name = "front"                 # [a-z0-9_-], ≤ 32 bytes, unique: camera://front
//! uri = "rtsp://10.0.0.5:8554/front"   # csi://N, v4l2:///dev/videoN, rtsp://…, file://…, test://
//! width = 640                    # optional, with height: the size asked of the source
//! height = 480
//! fps = 30                       # optional: the rate asked of the source (still images: cycled at)
//!
//! [[watch]]
//! camera = "front"               # a camera above
//! question = "Is there a person at the door?"
//! interval = "2s"                # ≥ 10 ms
//! ```
//!
//! A `--camera NAME=URI` flag adds a camera, or replaces the file's camera of that name.

use super::ConfigError;
use super::interval::serde_opt;
use crate::camera::{CameraSpec, CameraUri, WatchSpec};
use serde::Deserialize;
use std::time::Duration;

/// Most cameras one agent opens.
pub const MAX_CAMERAS: usize = 8;
/// Most standing questions.
pub const MAX_WATCHES: usize = 32;
/// Shortest interval of a standing question.
pub const MIN_WATCH_INTERVAL: Duration = Duration::from_millis(10);
/// Highest frame rate asked of a camera.
pub const MAX_CAMERA_FPS: u32 = 240;
/// Longest camera name.
pub const MAX_CAMERA_NAME: usize = 32;

/// One `[[camera]]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CameraSection {
    /// Its name.
    pub name: String,
    /// Its URI.
    pub uri: String,
    /// Width asked of the source.
    pub width: Option<u32>,
    /// Height asked of the source.
    pub height: Option<u32>,
    /// Frame rate asked of the source.
    pub fps: Option<u32>,
}

/// One `[[watch]]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchSection {
    /// The camera.
    pub camera: String,
    /// The question.
    pub question: String,
    /// How often.
    #[serde(deserialize_with = "serde_opt::deserialize")]
    pub interval: Option<Duration>,
}

fn invalid(key: String, origin: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        origin: origin.to_string(),
        reason: reason.into(),
    }
}

fn check_name(name: &str, key: String, origin: &str) -> Result<(), ConfigError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_CAMERA_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(invalid(
            key,
            origin,
            format!(
                "`{name}` must be 1–{MAX_CAMERA_NAME} of a-z, 0-9, `-`, `_` (it is camera://NAME)"
            ),
        ))
    }
}

/// The cameras: the file's, then each `--camera NAME=URI` (replacing a file camera of
/// that name).
pub fn resolve_cameras(
    file: &[CameraSection],
    flags: &[String],
    file_origin: &str,
) -> Result<Vec<CameraSpec>, ConfigError> {
    let mut cameras: Vec<CameraSpec> = Vec::new();
    for (i, c) in file.iter().enumerate() {
        let key = |k: &str| format!("camera[{i}].{k}");
        check_name(&c.name, key("name"), file_origin)?;
        if cameras.iter().any(|s| s.name == c.name) {
            return Err(invalid(
                key("name"),
                file_origin,
                format!("`{}` is named twice", c.name),
            ));
        }
        let uri = CameraUri::parse(&c.uri)
            .map_err(|e| invalid(key("uri"), file_origin, e.to_string()))?;
        let size = match (c.width, c.height) {
            (None, None) => None,
            (Some(w), Some(h)) if w > 0 && h > 0 => Some((w, h)),
            (Some(_), Some(_)) => {
                return Err(invalid(
                    key("width"),
                    file_origin,
                    "width and height must be at least 1",
                ));
            }
            _ => {
                return Err(invalid(
                    key("width"),
                    file_origin,
                    "give both width and height, or neither",
                ));
            }
        };
        if let Some(f) = c.fps
            && !(1..=MAX_CAMERA_FPS).contains(&f)
        {
            return Err(invalid(
                key("fps"),
                file_origin,
                format!("{f} is outside 1..={MAX_CAMERA_FPS}"),
            ));
        }
        cameras.push(CameraSpec {
            name: c.name.clone(),
            uri,
            size,
            fps: c.fps,
        });
    }
    for flag in flags {
        let origin = "command line (--camera)";
        let (name, uri) = flag.split_once('=').ok_or_else(|| {
            invalid(
                "--camera".into(),
                origin,
                format!("`{flag}`: expected NAME=URI"),
            )
        })?;
        check_name(name, "--camera".into(), origin)?;
        let uri =
            CameraUri::parse(uri).map_err(|e| invalid("--camera".into(), origin, e.to_string()))?;
        match cameras.iter_mut().find(|c| c.name == name) {
            Some(c) => c.uri = uri,
            None => cameras.push(CameraSpec {
                name: name.to_string(),
                uri,
                size: None,
                fps: None,
            }),
        }
    }
    if cameras.len() > MAX_CAMERAS {
        return Err(invalid(
            "camera".into(),
            file_origin,
            format!("{} cameras; at most {MAX_CAMERAS}", cameras.len()),
        ));
    }
    Ok(cameras)
}

/// The standing questions; each names one of `cameras`.
pub fn resolve_watches(
    file: &[WatchSection],
    cameras: &[CameraSpec],
    max_question_bytes: usize,
    origin: &str,
) -> Result<Vec<WatchSpec>, ConfigError> {
    if file.len() > MAX_WATCHES {
        return Err(invalid(
            "watch".into(),
            origin,
            format!("{} standing questions; at most {MAX_WATCHES}", file.len()),
        ));
    }
    file.iter()
        .enumerate()
        .map(|(i, w)| {
            let key = |k: &str| format!("watch[{i}].{k}");
            if !cameras.iter().any(|c| c.name == w.camera) {
                let names: Vec<&str> = cameras.iter().map(|c| c.name.as_str()).collect();
                return Err(invalid(
                    key("camera"),
                    origin,
                    format!(
                        "no camera `{}` (cameras: {})",
                        w.camera,
                        if names.is_empty() {
                            "none".into()
                        } else {
                            names.join(", ")
                        }
                    ),
                ));
            }
            let question = w.question.trim();
            if question.is_empty() || question.len() > max_question_bytes {
                return Err(invalid(
                    key("question"),
                    origin,
                    format!("must be 1–{max_question_bytes} bytes ([limits] max_question_bytes)"),
                ));
            }
            let interval = w
                .interval
                .ok_or_else(|| invalid(key("interval"), origin, "required, e.g. \"2s\""))?;
            if interval < MIN_WATCH_INTERVAL {
                return Err(invalid(
                    key("interval"),
                    origin,
                    format!("{interval:?} is shorter than {MIN_WATCH_INTERVAL:?}"),
                ));
            }
            Ok(WatchSpec {
                camera: w.camera.clone(),
                question: question.to_string(),
                interval,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cam(name: &str, uri: &str) -> CameraSection {
        CameraSection {
            name: name.into(),
            uri: uri.into(),
            width: None,
            height: None,
            fps: None,
        }
    }

    #[test]
    fn flags_add_or_replace_cameras_and_errors_name_the_key() {
        let file = [
            cam("front", "test://ball"),
            cam("door", "v4l2:///dev/video0"),
        ];
        let c = resolve_cameras(
            &file,
            &["door=rtsp://h/x".into(), "yard=csi://0".into()],
            "a.toml",
        )
        .unwrap();
        let names: Vec<(&str, String)> = c
            .iter()
            .map(|c| (c.name.as_str(), c.uri.to_string()))
            .collect();
        assert_eq!(
            names,
            [
                ("front", "test://ball".to_string()),
                ("door", "rtsp://h/x".to_string()),
                ("yard", "csi://0".to_string())
            ]
        );
        let e = resolve_cameras(&[cam("Front", "test://")], &[], "a.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("camera[0].name") && e.contains("a.toml"), "{e}");
        let e = resolve_cameras(&[cam("a", "test://"), cam("a", "csi://0")], &[], "a.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("camera[1].name") && e.contains("twice"), "{e}");
        let e = resolve_cameras(&[cam("a", "http://x")], &[], "a.toml")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("camera[0].uri") && e.contains("unknown scheme"),
            "{e}"
        );
        let mut half = cam("a", "test://");
        half.width = Some(640);
        let e = resolve_cameras(&[half], &[], "a.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("camera[0].width") && e.contains("both"), "{e}");
        let e = resolve_cameras(&[], &["front".into()], "a.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("--camera") && e.contains("NAME=URI"), "{e}");
    }

    #[test]
    fn a_watch_names_a_camera_and_an_interval() {
        let cams = resolve_cameras(&[cam("front", "test://")], &[], "a.toml").unwrap();
        let w = |camera: &str, interval: Option<Duration>| WatchSection {
            camera: camera.into(),
            question: " what colour is the shape? ".into(),
            interval,
        };
        let ok = resolve_watches(
            &[w("front", Some(Duration::from_secs(2)))],
            &cams,
            512,
            "a.toml",
        )
        .unwrap();
        assert_eq!(ok[0].question, "what colour is the shape?");
        let e = resolve_watches(
            &[w("back", Some(Duration::from_secs(2)))],
            &cams,
            512,
            "a.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("watch[0].camera") && e.contains("cameras: front"),
            "{e}"
        );
        let e = resolve_watches(&[w("front", None)], &cams, 512, "a.toml")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("watch[0].interval") && e.contains("required"),
            "{e}"
        );
        let e = resolve_watches(
            &[w("front", Some(Duration::from_millis(1)))],
            &cams,
            512,
            "a.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("shorter"), "{e}");
    }
}
