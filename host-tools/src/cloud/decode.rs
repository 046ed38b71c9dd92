//! Decoding `vqa-full`'s `image` tensor: the bytes of a JPEG or PNG file, refused (400,
//! naming the tensor) when they are not one, are corrupt or are too large.

use super::state::RequestError;
use image::{ImageFormat, ImageReader, Limits, RgbImage};
use std::io::Cursor;

/// Largest encoded image accepted, in bytes.
pub const MAX_IMAGE_BYTES: usize = 16 * 1024 * 1024;
/// Largest width and height accepted, in pixels.
pub const MAX_IMAGE_SIDE: u32 = 4096;
/// Most memory the decoder may allocate: a 4096×4096 RGBA frame is 64 MiB.
const MAX_DECODE_ALLOC: u64 = 128 * 1024 * 1024;

/// Decodes tensor `tensor`'s bytes (a JPEG or PNG file) into RGB.
pub fn decode_image(bytes: &[u8], tensor: &str) -> Result<RgbImage, RequestError> {
    let bad = |what: String| RequestError::Bad(format!("tensor `{tensor}`: {what}"));
    if bytes.len() > MAX_IMAGE_BYTES {
        return Err(bad(format!(
            "{} bytes, more than the {MAX_IMAGE_BYTES} accepted",
            bytes.len()
        )));
    }
    let reader = || {
        ImageReader::new(Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| bad(format!("cannot read the image: {e}")))
    };
    match reader()?.format() {
        Some(ImageFormat::Jpeg | ImageFormat::Png) => {}
        _ => {
            return Err(bad(format!(
                "not a JPEG or PNG file ({} bytes starting {:02x?})",
                bytes.len(),
                &bytes[..bytes.len().min(4)]
            )));
        }
    }
    // The header first: an oversized image is refused before any pixel is decoded.
    let (width, height) = reader()?
        .into_dimensions()
        .map_err(|e| bad(format!("corrupt image: {e}")))?;
    if width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE {
        return Err(bad(format!(
            "{width}×{height} image, larger than the {MAX_IMAGE_SIDE}×{MAX_IMAGE_SIDE} accepted"
        )));
    }
    if width == 0 || height == 0 {
        return Err(bad(format!("empty image ({width}×{height})")));
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    limits.max_alloc = Some(MAX_DECODE_ALLOC);
    let mut r = reader()?;
    r.limits(limits);
    let image = r.decode().map_err(|e| bad(format!("corrupt image: {e}")))?;
    Ok(image.to_rgb8())
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::codecs::jpeg::JpegEncoder;
    use image::codecs::png::PngEncoder;
    use image::{ExtendedColorType, ImageEncoder};

    fn png(width: u32, height: u32) -> Vec<u8> {
        let mut out = Vec::new();
        let pixels = vec![128u8; width as usize * height as usize * 3];
        PngEncoder::new(&mut out)
            .write_image(&pixels, width, height, ExtendedColorType::Rgb8)
            .unwrap();
        out
    }

    fn message(r: Result<RgbImage, RequestError>) -> String {
        match r {
            Err(RequestError::Bad(t)) => t,
            other => panic!("expected a bad request, got {other:?}"),
        }
    }

    #[test]
    fn png_and_jpeg_decode_to_rgb() {
        let img = decode_image(&png(5, 3), "image").unwrap();
        assert_eq!(img.dimensions(), (5, 3));
        let mut jpeg = Vec::new();
        JpegEncoder::new_with_quality(&mut jpeg, 90)
            .encode(img.as_raw(), 5, 3, ExtendedColorType::Rgb8)
            .unwrap();
        assert_eq!(decode_image(&jpeg, "image").unwrap().dimensions(), (5, 3));
    }

    #[test]
    fn bad_images_are_refused_naming_the_tensor() {
        let m = message(decode_image(b"GIF89a......", "image"));
        assert!(m.starts_with("tensor `image`: not a JPEG or PNG"), "{m}");
        let mut cut = png(8, 8);
        cut.truncate(cut.len() / 2);
        let m = message(decode_image(&cut, "image"));
        assert!(m.starts_with("tensor `image`: corrupt image"), "{m}");
        let m = message(decode_image(&png(MAX_IMAGE_SIDE + 1, 1), "image"));
        assert!(m.contains("4097×1 image, larger than"), "{m}");
        let mut big = png(1, 1);
        big.resize(MAX_IMAGE_BYTES + 1, 0);
        let m = message(decode_image(&big, "image"));
        assert!(m.contains("more than the 16777216 accepted"), "{m}");
    }
}
