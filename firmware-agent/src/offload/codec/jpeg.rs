//! [`Jpeg`]: what an application sends a vision-language server — the frame as a JPEG,
//! encoded on the edge (and counted in the latency), and the question as text.

use super::{CodecError, CodecInput, OffloadCodec, Target};
use crate::cloud::InferTensor;
use crate::pipelines::Cloud as CloudNames;

/// JPEG quality of the cloud-only baseline's uploads (the `image` crate's encoder; 90 is
/// the high end of what camera and VLM clients send).
pub const CLOUD_ONLY_JPEG_QUALITY: u8 = 90;

/// The whole-frame JPEG codec.
#[derive(Debug, Clone)]
pub struct Jpeg {
    image: String,
    question: String,
    quality: u8,
}

impl Jpeg {
    /// With the full model's input names and a JPEG quality (1–100).
    pub fn new(names: &CloudNames, quality: u8) -> Self {
        Self {
            image: names.full_image.clone(),
            question: names.full_question.clone(),
            quality,
        }
    }
}

impl OffloadCodec for Jpeg {
    fn name(&self) -> &'static str {
        "jpeg"
    }

    fn target(&self) -> Target {
        Target::Full
    }

    fn needs_edge(&self) -> bool {
        false
    }

    fn encode(&self, input: &CodecInput<'_>) -> Result<Vec<InferTensor>, CodecError> {
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, self.quality)
            .encode_image(input.frame)
            .map_err(|e| CodecError::Image {
                format: "JPEG",
                reason: e.to_string(),
            })?;
        Ok(vec![
            InferTensor::bytes(&self.image, vec![1], vec![jpeg]),
            InferTensor::bytes(
                &self.question,
                vec![1],
                vec![input.question.as_bytes().to_vec()],
            ),
        ])
    }
}
