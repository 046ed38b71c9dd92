//! [`CameraUri`]: a camera named as jetson-utils' `videoSource` names it.
//!
//! | URI | source |
//! |-----|--------|
//! | `csi://0` | a MIPI CSI sensor through `nvarguscamerasrc` (Jetson) |
//! | `v4l2:///dev/video0` | a V4L2 device (USB cameras) |
//! | `rtsp://host:port/path` | an RTSP stream (reconnected with backoff when it drops) |
//! | `file:///path/video.mp4` | a video file, played at its own rate and looped |
//! | `file:///path/frames/`, `file:///path/*.png`, `file:///path/one.jpg` | still images, cycled at `fps` |
//! | `test://` or `test://ball` | GStreamer's `videotestsrc` (a pattern name from its `pattern` property) |
//!
//! Parsing needs no GStreamer: a config naming a camera is validated in every build, and a
//! build without the `camera` feature says which cameras it cannot open.

use std::fmt;
use std::path::PathBuf;

/// Still-image extensions a `file://` source cycles through (anything else is a video).
pub const IMAGE_EXTENSIONS: [&str; 5] = ["png", "jpg", "jpeg", "webp", "bmp"];

/// True when `path` names a still image by its extension (any case).
pub fn is_image_path(path: impl AsRef<std::path::Path>) -> bool {
    path.as_ref()
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Where a camera's frames come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CameraUri {
    /// MIPI CSI sensor `N` (`nvarguscamerasrc sensor-id=N`).
    Csi(u32),
    /// A V4L2 device node.
    V4l2(PathBuf),
    /// An RTSP URL (kept whole, credentials included).
    Rtsp(String),
    /// A video file.
    Video(PathBuf),
    /// Still images: one file, every image of a directory, or a glob, in name order.
    Images(String),
    /// `videotestsrc` with this pattern (`smpte` when none is given).
    Test(String),
}

/// Why a URI was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("camera URI `{uri}`: {reason}")]
pub struct UriError {
    /// The URI as given.
    pub uri: String,
    /// What is wrong and what is expected.
    pub reason: String,
}

impl CameraUri {
    /// Parses a URI; the error says which schemes exist.
    pub fn parse(uri: &str) -> Result<Self, UriError> {
        let err = |reason: &str| UriError {
            uri: uri.to_string(),
            reason: reason.to_string(),
        };
        let (scheme, rest) = uri.split_once("://").ok_or_else(|| {
            err("expected SCHEME://…, one of csi://N, v4l2:///dev/videoN, rtsp://…, file://…, test://")
        })?;
        match scheme {
            "csi" => rest
                .parse::<u32>()
                .map(Self::Csi)
                .map_err(|_| err("csi:// takes a sensor number, e.g. csi://0")),
            "v4l2" => {
                if !rest.starts_with('/') || rest.len() < 2 {
                    return Err(err("v4l2:// takes a device path, e.g. v4l2:///dev/video0"));
                }
                Ok(Self::V4l2(PathBuf::from(rest)))
            }
            "rtsp" | "rtsps" => {
                if rest.is_empty() || rest.starts_with('/') {
                    return Err(err(
                        "rtsp:// takes a host, e.g. rtsp://192.168.1.20:8554/cam",
                    ));
                }
                Ok(Self::Rtsp(uri.to_string()))
            }
            "file" => {
                if !rest.starts_with('/') {
                    return Err(err(
                        "file:// takes an absolute path, e.g. file:///data/cam.mp4",
                    ));
                }
                if rest.ends_with('/') || rest.contains(['*', '?', '[']) || is_image_path(rest) {
                    Ok(Self::Images(rest.to_string()))
                } else {
                    Ok(Self::Video(PathBuf::from(rest)))
                }
            }
            "test" => {
                let pattern = rest.trim_matches('/');
                if !pattern
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-')
                {
                    return Err(err(
                        "test:// takes a videotestsrc pattern name, e.g. test://ball",
                    ));
                }
                Ok(Self::Test(if pattern.is_empty() {
                    "smpte".into()
                } else {
                    pattern.into()
                }))
            }
            other => Err(err(&format!(
                "unknown scheme `{other}`; expected csi, v4l2, rtsp, file or test"
            ))),
        }
    }

    /// True when frames come through GStreamer (everything but still images).
    pub fn needs_gstreamer(&self) -> bool {
        !matches!(self, Self::Images(_))
    }

    /// True for sources that can drop and come back (RTSP): reconnected with backoff.
    pub fn is_network(&self) -> bool {
        matches!(self, Self::Rtsp(_))
    }
}

impl fmt::Display for CameraUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Csi(n) => write!(f, "csi://{n}"),
            Self::V4l2(p) => write!(f, "v4l2://{}", p.display()),
            // Credentials are not logged.
            Self::Rtsp(u) => match (u.find("://"), u.find('@')) {
                (Some(s), Some(at)) if at > s => write!(f, "{}://…@{}", &u[..s], &u[at + 1..]),
                _ => f.write_str(u),
            },
            Self::Video(p) => write!(f, "file://{}", p.display()),
            Self::Images(p) => write!(f, "file://{p}"),
            Self::Test(p) => write!(f, "test://{p}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jetson_utils_uris_parse() {
        assert_eq!(CameraUri::parse("csi://0").unwrap(), CameraUri::Csi(0));
        assert_eq!(
            CameraUri::parse("v4l2:///dev/video1").unwrap(),
            CameraUri::V4l2("/dev/video1".into())
        );
        assert_eq!(
            CameraUri::parse("rtsp://10.0.0.5:8554/front").unwrap(),
            CameraUri::Rtsp("rtsp://10.0.0.5:8554/front".into())
        );
        assert_eq!(
            CameraUri::parse("file:///data/a.mp4").unwrap(),
            CameraUri::Video("/data/a.mp4".into())
        );
        for images in [
            "file:///data/frames/",
            "file:///data/*.png",
            "file:///x/one.JPG",
        ] {
            assert!(
                matches!(CameraUri::parse(images).unwrap(), CameraUri::Images(_)),
                "{images}"
            );
        }
        assert_eq!(
            CameraUri::parse("test://").unwrap(),
            CameraUri::Test("smpte".into())
        );
        assert_eq!(
            CameraUri::parse("test://ball").unwrap(),
            CameraUri::Test("ball".into())
        );
    }

    #[test]
    fn bad_uris_say_what_is_expected() {
        for (uri, says) in [
            ("/dev/video0", "SCHEME://"),
            ("csi://front", "sensor number"),
            ("v4l2://video0", "device path"),
            ("rtsp:///x", "host"),
            ("file://relative.mp4", "absolute path"),
            ("test://a b", "pattern"),
            ("http://cam/x.mjpg", "unknown scheme `http`"),
        ] {
            let e = CameraUri::parse(uri).unwrap_err().to_string();
            assert!(e.contains(uri) && e.contains(says), "{uri}: {e}");
        }
    }

    #[test]
    fn rtsp_credentials_are_not_displayed() {
        let u = CameraUri::parse("rtsp://admin:secret@10.0.0.5/stream").unwrap();
        assert_eq!(u.to_string(), "rtsp://…@10.0.0.5/stream");
    }
}
