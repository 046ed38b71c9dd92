//! Image encoder and local answer head: the image graph (the easy-VQA edge model,
//! `models/vqa/`, is one) takes a preprocessed frame and gives the probe (early activations
//! for MAS), the patch features (the compact tensor's source) and the pooled image
//! embedding; the [`LocalHead`] gives the answer logits, either from the same graph (which
//! then also takes the question embedding: `fused`) or from a graph of its own (`separate`).
//!
//! Preprocessing follows the manifest's `[preprocess]` (kind `image`): decode (PNG, JPEG),
//! convert to RGB, resize to `resize` with `interpolation`, then
//! `value = (pixel · scale − mean) / std` per channel, in `layout` and `color` order.
//! A file that cannot be read or decoded is an [`ImageEncoderError::Decode`] naming it: the
//! request fails, the agent goes on.

use super::error::ImageEncoderError;
use super::head::{Fused, LocalHead, Separate, fixed_dims, take};
use super::limits::InputLimits;
use crate::mas::ProbeLayout;
use crate::pipelines::{HeadKind, PipelineSpec};
use crate::runtime::manifest::{ColorOrder, ImagePreprocess, Interpolation, Layout};
use crate::runtime::{
    InferenceRuntime, LoadedModel, ModelCatalog, ModelManifest, NamedTensor, Tensor,
};
use image::{RgbImage, imageops::FilterType};
use msao::message::{ExecProvider, Modality, Precision};
use std::path::Path;

/// What one run of the edge graph gives (batch 1, row-major).
#[derive(Debug, Clone, PartialEq)]
pub struct EdgeOutput {
    /// The probe map, `[channels, height, width]`.
    pub probe: Vec<f32>,
    /// Patch features, `[dim, rows, cols]` (channel-major).
    pub features: Vec<f32>,
    /// Pooled image embedding.
    pub image_embedding: Vec<f32>,
    /// Answer logits (uncalibrated).
    pub logits: Vec<f32>,
    /// Learned confidence in the answer, when the graph has the pipeline's confidence output.
    pub confidence: Option<f32>,
}

/// The edge model and its head, loaded. Not `Sync` (one run at a time).
pub struct ImageEncoder {
    model: Box<dyn LoadedModel>,
    head: Box<dyn LocalHead>,
    pre: ImagePreprocess,
    probe_name: String,
    probe: ProbeLayout,
    feature_dim: usize,
    names: Bindings,
    label: String,
}

/// The image graph's tensor names, from the pipeline's `[image]`.
#[derive(Debug, Clone)]
struct Bindings {
    input: String,
    features: String,
    embedding: String,
}

impl ImageEncoder {
    /// Loads the pipeline's image model at `precision` from a catalog.
    pub fn from_catalog(
        runtime: &dyn InferenceRuntime,
        catalog: &ModelCatalog,
        pipeline: &PipelineSpec,
        precision: Precision,
        provider: ExecProvider,
    ) -> Result<Self, ImageEncoderError> {
        let name = &pipeline.image.model;
        let manifest =
            catalog
                .find(name, precision)
                .ok_or_else(|| ImageEncoderError::NotInCatalog {
                    name: name.clone(),
                    precision: format!("{precision:?}").to_lowercase(),
                })?;
        Self::load(runtime, catalog, manifest, pipeline, provider)
    }

    /// Loads the model an image manifest describes, with the pipeline's tensor names
    /// (`[image]`), and its head (`[head]`: fused into this graph, or a separate graph from
    /// `catalog`). The manifest must name a probe output of shape `[batch, C, H, W]` and give
    /// the features `[batch, D, R, K]`; MAS splits the probe into the same R × K patches.
    pub fn load(
        runtime: &dyn InferenceRuntime,
        catalog: &ModelCatalog,
        manifest: &ModelManifest,
        pipeline: &PipelineSpec,
        provider: ExecProvider,
    ) -> Result<Self, ImageEncoderError> {
        let label = manifest.label();
        let names = Bindings {
            input: pipeline.image.input.clone(),
            features: pipeline.image.features.clone(),
            embedding: pipeline.image.embedding.clone(),
        };
        let bad = |reason: String| ImageEncoderError::Manifest {
            model: label.clone(),
            reason,
        };
        if manifest.modality != Modality::Image {
            return Err(bad("is not an image model".into()));
        }
        manifest
            .check_role(crate::runtime::manifest::Role::ImageEncoder)
            .map_err(&bad)?;
        let pre = manifest
            .preprocess
            .as_image()
            .ok_or_else(|| {
                bad(format!(
                    "[preprocess] kind is `{}`, not `image`",
                    manifest.preprocess.kind()
                ))
            })?
            .clone();
        let probe_name = manifest
            .probe
            .clone()
            .ok_or_else(|| bad("names no `probe` output".into()))?;
        let fixed = |kind: &str, name: &str, rank: usize| {
            fixed_dims(manifest, kind == "input", name, rank).map_err(&bad)
        };
        let image = fixed("input", &names.input, 3)?;
        let ch = pre.color.channels();
        let expected = match pre.layout {
            Layout::Nchw => [ch, pre.height as usize, pre.width as usize],
            Layout::Nhwc => [pre.height as usize, pre.width as usize, ch],
        };
        if image != expected {
            return Err(bad(format!(
                "input `{}` is {image:?} but [preprocess] makes {expected:?}",
                names.input
            )));
        }
        let p = fixed("output", &probe_name, 3)?;
        let f = fixed("output", &names.features, 3)?;
        let embedding_dim = fixed("output", &names.embedding, 1)?[0];
        let probe = ProbeLayout {
            channels: p[0],
            height: p[1],
            width: p[2],
            rows: f[1],
            cols: f[2],
        };
        if probe.rows == 0
            || probe.cols == 0
            || !probe.height.is_multiple_of(probe.rows)
            || !probe.width.is_multiple_of(probe.cols)
        {
            return Err(bad(format!(
                "probe {}×{} does not split into the {}×{} feature patches",
                probe.height, probe.width, probe.rows, probe.cols
            )));
        }
        let head: Box<dyn LocalHead> = match pipeline.head.kind {
            HeadKind::Fused => Box::new(Fused::new(manifest, &pipeline.head).map_err(&bad)?),
            HeadKind::Separate => Box::new(Separate::load(
                runtime,
                catalog,
                &pipeline.head,
                embedding_dim,
                provider,
            )?),
        };
        let model = runtime.load(manifest, provider)?;
        Ok(Self {
            model,
            head,
            pre,
            probe_name,
            probe,
            feature_dim: f[0],
            names,
            label,
        })
    }

    /// Model label, e.g. `vqa-edge (int8)`.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Whether the head gives a learned confidence (the pipeline's `head.confidence`).
    pub fn has_confidence(&self) -> bool {
        self.head.has_confidence()
    }

    /// The manifest of the graph whose logits the head reads (its calibration's model).
    pub fn logits_model(&self) -> &ModelManifest {
        self.head
            .logits_model()
            .unwrap_or_else(|| self.model.manifest())
    }

    /// The execution provider that actually runs the model.
    pub fn provider(&self) -> ExecProvider {
        self.model.provider()
    }

    /// How the probe splits into patches (for MAS).
    pub fn probe_layout(&self) -> ProbeLayout {
        self.probe
    }

    /// Features per patch.
    pub fn feature_dim(&self) -> usize {
        self.feature_dim
    }

    /// Answer classes.
    pub fn answers(&self) -> usize {
        self.head.answers()
    }

    /// Question embedding width.
    pub fn question_dim(&self) -> usize {
        self.head.question_dim()
    }

    /// The manifest's preprocessing.
    pub fn preprocessing(&self) -> &ImagePreprocess {
        &self.pre
    }

    /// Preprocesses a decoded frame into the model's input values.
    pub fn preprocess(&self, frame: &RgbImage) -> Vec<f32> {
        preprocess(frame, &self.pre)
    }

    /// Mirrors preprocessed values left–right in place (the second view of
    /// [`crate::brain::BrainOptions::second_view_below`]). Values of another length are left
    /// alone.
    pub fn mirror(&self, pixels: &mut [f32]) {
        mirror_horizontal(pixels, &self.pre);
    }

    /// Runs the graph on preprocessed values and a question embedding.
    pub fn run(
        &mut self,
        pixels: Vec<f32>,
        question: &[f32],
    ) -> Result<EdgeOutput, ImageEncoderError> {
        if question.len() != self.head.question_dim() {
            return Err(ImageEncoderError::QuestionLength {
                model: self.label.clone(),
                got: question.len(),
                expected: self.head.question_dim(),
            });
        }
        let manifest_err = |e: crate::runtime::tensor::ShapeMismatch| ImageEncoderError::Manifest {
            model: self.label.clone(),
            reason: e.to_string(),
        };
        let image = image_tensor(pixels, &self.pre).map_err(manifest_err)?;
        let question = Tensor::f32(vec![1, self.head.question_dim()], question.to_vec())
            .map_err(manifest_err)?;
        let mut inputs = vec![NamedTensor::new(&self.names.input, image)];
        inputs.extend(self.head.image_graph_inputs(&question));
        let outputs = self.model.run(&inputs)?;
        let patches = self.probe.patches();
        let image_embedding = take(
            &outputs,
            &self.label,
            &self.names.embedding,
            self.feature_dim,
        )?;
        let head = self.head.answer(&outputs, &image_embedding, &question)?;
        Ok(EdgeOutput {
            probe: take(&outputs, &self.label, &self.probe_name, self.probe.len())?,
            features: take(
                &outputs,
                &self.label,
                &self.names.features,
                self.feature_dim * patches,
            )?,
            image_embedding,
            logits: head.logits,
            confidence: head.confidence,
        })
    }

    /// Decodes, preprocesses and runs one image file.
    pub fn run_file(
        &mut self,
        path: &Path,
        question: &[f32],
    ) -> Result<EdgeOutput, ImageEncoderError> {
        let frame = open_image(path)?;
        let pixels = self.preprocess(&frame);
        self.run(pixels, question)
    }
}

/// Mirrors preprocessed model input left–right in place, in the manifest's layout. Values
/// whose length is not `3 × width × height` are left alone.
pub fn mirror_horizontal(pixels: &mut [f32], pre: &ImagePreprocess) {
    let (w, h, ch) = (
        pre.width as usize,
        pre.height as usize,
        pre.color.channels(),
    );
    if w == 0 || pixels.len() != ch * w * h {
        return;
    }
    match pre.layout {
        // Planes of rows: reverse each row of each plane.
        Layout::Nchw => pixels.chunks_exact_mut(w).for_each(<[f32]>::reverse),
        // Rows of pixels of `ch` values: reverse the pixels' order, keep each pixel.
        Layout::Nhwc => {
            for row in pixels.chunks_exact_mut(ch * w) {
                for x in 0..w / 2 {
                    let (a, b) = (ch * x, ch * (w - 1 - x));
                    for c in 0..ch {
                        row.swap(a + c, b + c);
                    }
                }
            }
        }
    }
}

/// Reads and decodes an image file to RGB under the default [`InputLimits`]; errors name
/// the file.
pub fn open_image(path: &Path) -> Result<RgbImage, ImageEncoderError> {
    open_image_within(path, &InputLimits::default())
}

/// Reads and decodes an image file to RGB; a file or frame over `limits` is refused from
/// its size and header, before anything is decoded. Errors name the file.
pub fn open_image_within(path: &Path, limits: &InputLimits) -> Result<RgbImage, ImageEncoderError> {
    let name = path.display().to_string();
    let unreadable = |e: std::io::Error| ImageEncoderError::Decode {
        source_name: name.clone(),
        reason: e.to_string(),
    };
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let len = file.metadata().map_err(unreadable)?.len();
    limits
        .check_frame_bytes(len)
        .map_err(|limit| ImageEncoderError::Limit {
            source_name: name.clone(),
            limit,
        })?;
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    // `take`: a file that grew after the size check still reads at most the limit (+1, so
    // the growth is seen and refused).
    std::io::Read::read_to_end(
        &mut std::io::Read::take(file, limits.max_frame_bytes.saturating_add(1)),
        &mut bytes,
    )
    .map_err(unreadable)?;
    limits
        .check_frame_bytes(bytes.len() as u64)
        .map_err(|limit| ImageEncoderError::Limit {
            source_name: name.clone(),
            limit,
        })?;
    decode_image_within(&bytes, &name, limits)
}

/// Decodes image bytes (PNG or JPEG) to RGB under the default [`InputLimits`];
/// `source_name` names them in errors.
pub fn decode_image(bytes: &[u8], source_name: &str) -> Result<RgbImage, ImageEncoderError> {
    decode_image_within(bytes, source_name, &InputLimits::default())
}

/// Decodes image bytes (PNG or JPEG) to RGB: the header's dimensions are checked against
/// `limits` first, and the decode itself runs under the same limits
/// ([`InputLimits::decoder_limits`]), so no frame larger than allowed is ever allocated.
pub fn decode_image_within(
    bytes: &[u8],
    source_name: &str,
    limits: &InputLimits,
) -> Result<RgbImage, ImageEncoderError> {
    let decode_error = |e: image::ImageError| ImageEncoderError::Decode {
        source_name: source_name.to_string(),
        reason: e.to_string(),
    };
    let reader = || {
        image::ImageReader::new(std::io::Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| ImageEncoderError::Decode {
                source_name: source_name.to_string(),
                reason: e.to_string(),
            })
    };
    let (width, height) = reader()?.into_dimensions().map_err(decode_error)?;
    limits
        .check_image(width, height)
        .map_err(|limit| ImageEncoderError::Limit {
            source_name: source_name.to_string(),
            limit,
        })?;
    let mut reader = reader()?;
    reader.limits(limits.decoder_limits());
    reader
        .decode()
        .map(|img| img.to_rgb8())
        .map_err(decode_error)
}

fn filter(i: Interpolation) -> FilterType {
    match i {
        Interpolation::Nearest => FilterType::Nearest,
        Interpolation::Triangle => FilterType::Triangle,
        Interpolation::CatmullRom => FilterType::CatmullRom,
        Interpolation::Lanczos3 => FilterType::Lanczos3,
    }
}

/// Resizes (when the size differs) and normalises a frame as `pre` says.
/// Preprocessed pixels as the batch-1 input tensor `[1, C, H, W]` or `[1, H, W, C]`.
pub fn image_tensor(
    pixels: Vec<f32>,
    pre: &ImagePreprocess,
) -> Result<Tensor, crate::runtime::tensor::ShapeMismatch> {
    let (h, w, ch) = (
        pre.height as usize,
        pre.width as usize,
        pre.color.channels(),
    );
    let shape = match pre.layout {
        Layout::Nchw => vec![1, ch, h, w],
        Layout::Nhwc => vec![1, h, w, ch],
    };
    Tensor::f32(shape, pixels)
}

pub fn preprocess(frame: &RgbImage, pre: &ImagePreprocess) -> Vec<f32> {
    let resized;
    let img = if frame.width() == pre.width && frame.height() == pre.height {
        frame
    } else {
        resized = image::imageops::resize(frame, pre.width, pre.height, filter(pre.interpolation));
        &resized
    };
    let (w, h, ch) = (
        pre.width as usize,
        pre.height as usize,
        pre.color.channels(),
    );
    let mut out = vec![0.0f32; ch * w * h];
    let order: &[usize] = match pre.color {
        ColorOrder::Rgb => &[0, 1, 2],
        ColorOrder::Bgr => &[2, 1, 0],
        ColorOrder::Gray => &[0],
    };
    // `scale = 1/255` cannot be held exactly in f32, and `pixel · fl(1/255)` differs from the
    // reference `pixel / 255` in the last bit for half the byte values: divide by the
    // integer when the scale is the reciprocal of one.
    let inverse = 1.0 / f64::from(pre.scale);
    let divisor = ((inverse - inverse.round()).abs() < 1.0e-3 && inverse >= 1.0)
        .then_some(inverse.round() as f32);
    for (x, y, px) in img.enumerate_pixels() {
        let (x, y) = (x as usize, y as usize);
        for (c, &src) in order.iter().enumerate() {
            let value = match pre.color {
                ColorOrder::Gray => luma(px.0),
                _ => px[src],
            };
            let scaled = match divisor {
                Some(d) => f32::from(value) / d,
                None => f32::from(value) * pre.scale,
            };
            let v = (scaled - pre.mean[c]) / pre.std[c];
            let i = match pre.layout {
                Layout::Nchw => c * w * h + y * w + x,
                Layout::Nhwc => (y * w + x) * ch + c,
            };
            out[i] = v;
        }
    }
    out
}

/// Pillow's `convert("L")` luma of an RGB pixel (ITU-R 601 weights in 16-bit fixed point).
fn luma([r, g, b]: [u8; 3]) -> u8 {
    let l = (19595 * u32::from(r) + 38470 * u32::from(g) + 7471 * u32::from(b) + 0x8000) >> 16;
    u8::try_from(l).unwrap_or(u8::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gray_is_pillows_luma_in_one_channel() {
        // Pillow 11: Image.new("RGB", (1, 1), c).convert("L").getpixel((0, 0)).
        assert_eq!(luma([255, 255, 255]), 255);
        assert_eq!(luma([0, 0, 0]), 0);
        assert_eq!(luma([255, 0, 0]), 76);
        assert_eq!(luma([0, 255, 0]), 150);
        assert_eq!(luma([0, 0, 255]), 29);
        assert_eq!(luma([10, 200, 30]), 124);
        let mut p = pre(Layout::Nchw, ColorOrder::Gray);
        (p.width, p.height) = (2, 1);
        let img = RgbImage::from_fn(2, 1, |x, _| {
            image::Rgb(if x == 0 { [255, 0, 0] } else { [0, 0, 255] })
        });
        let v = preprocess(&img, &p);
        assert_eq!(v.len(), 2, "one channel");
        assert_eq!(v, [76.0 / 255.0, 29.0 / 255.0]);
        let mut m = v.clone();
        mirror_horizontal(&mut m, &p);
        assert_eq!(m, [v[1], v[0]]);
        p.layout = Layout::Nhwc;
        mirror_horizontal(&mut m, &p);
        assert_eq!(m, v);
    }

    #[test]
    fn mirror_reverses_columns_in_either_layout() {
        let mut p = pre(Layout::Nchw, ColorOrder::Rgb);
        (p.width, p.height) = (3, 2);
        // NCHW: 3 planes × 2 rows × 3 columns, value = 100·c + 10·y + x.
        let nchw: Vec<f32> = (0..3)
            .flat_map(|c| {
                (0..2).flat_map(move |y| (0..3).map(move |x| (100 * c + 10 * y + x) as f32))
            })
            .collect();
        let mut m = nchw.clone();
        mirror_horizontal(&mut m, &p);
        for c in 0..3 {
            for y in 0..2 {
                for x in 0..3 {
                    assert_eq!(m[c * 6 + y * 3 + x], nchw[c * 6 + y * 3 + (2 - x)]);
                }
            }
        }
        mirror_horizontal(&mut m, &p);
        assert_eq!(m, nchw, "mirroring twice is the identity");
        // NHWC: 2 rows × 3 columns × 3 channels; triples move whole.
        p.layout = Layout::Nhwc;
        let nhwc: Vec<f32> = (0..2)
            .flat_map(|y| {
                (0..3).flat_map(move |x| (0..3).map(move |c| (100 * c + 10 * y + x) as f32))
            })
            .collect();
        let mut m = nhwc.clone();
        mirror_horizontal(&mut m, &p);
        for y in 0..2 {
            for x in 0..3 {
                for c in 0..3 {
                    assert_eq!(m[(y * 3 + x) * 3 + c], nhwc[(y * 3 + (2 - x)) * 3 + c]);
                }
            }
        }
        // The wrong length is left alone.
        let mut short = vec![1.0, 2.0, 3.0];
        mirror_horizontal(&mut short, &p);
        assert_eq!(short, [1.0, 2.0, 3.0]);
    }

    fn pre(layout: Layout, color: ColorOrder) -> ImagePreprocess {
        ImagePreprocess {
            width: 2,
            height: 1,
            layout,
            color,
            scale: 1.0 / 255.0,
            mean: [0.0, 0.5, 0.0],
            std: [1.0, 0.5, 1.0],
            interpolation: Interpolation::Triangle,
        }
    }

    #[test]
    fn normalises_in_layout_and_colour_order() {
        let img = RgbImage::from_raw(2, 1, vec![255, 0, 51, 0, 255, 102]).unwrap();
        let nchw = preprocess(&img, &pre(Layout::Nchw, ColorOrder::Rgb));
        // R plane, G plane ((g/255 − 0.5) / 0.5), B plane.
        let expect = [1.0, 0.0, -1.0, 1.0, 0.2, 0.4];
        for (a, b) in nchw.iter().zip(expect) {
            assert!((a - b).abs() < 1e-6, "{nchw:?}");
        }
        let nhwc = preprocess(&img, &pre(Layout::Nhwc, ColorOrder::Bgr));
        let expect = [0.2, -1.0, 1.0, 0.4, 1.0, 0.0];
        for (a, b) in nhwc.iter().zip(expect) {
            assert!((a - b).abs() < 1e-6, "{nhwc:?}");
        }
    }

    #[test]
    fn resizes_to_the_manifest_size() {
        let img = RgbImage::from_pixel(8, 4, image::Rgb([10, 20, 30]));
        let v = preprocess(&img, &pre(Layout::Nchw, ColorOrder::Rgb));
        assert_eq!(v.len(), 6);
        assert!((v[0] - 10.0 / 255.0).abs() < 1e-6);
    }

    #[test]
    fn corrupt_bytes_are_a_named_error() {
        let err = decode_image(b"\x89PNG\r\n\x1a\nnot really", "frame 7").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("frame 7"), "{text}");
    }
}
