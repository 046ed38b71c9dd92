//! [`Preprocess`]: how raw input becomes the model's input tensors (the manifest's
//! `[preprocess]` table, validated in `file`).

use std::path::PathBuf;

/// Preprocessing of a model's input; the variant matches the manifest's `modality`
/// (`compact-tensor` and `embeddings` fit any modality).
#[derive(Debug, Clone, PartialEq)]
pub enum Preprocess {
    /// `kind = "image"`: a camera frame resized and normalised into one image tensor.
    Image(ImagePreprocess),
    /// `kind = "text"`: text tokenized into ids and attention mask.
    Text(TextPreprocess),
    /// `kind = "audio"`: mono PCM cut into fixed chunks.
    Audio(AudioPreprocess),
    /// `kind = "compact-tensor"`: the input is another model's output (the compact tensor
    /// an edge model sends), not raw sensor data.
    CompactTensor {
        /// The model producing it (a `name` in the catalog).
        source_model: String,
        /// That model's output.
        source_output: String,
    },
    /// `kind = "embeddings"`: the inputs are embeddings other roles of a pipeline give
    /// (a separate answer head fed the image and question embeddings), bound by the
    /// pipeline file.
    Embeddings,
}

impl Preprocess {
    /// The manifest's `kind` string.
    pub const fn kind(&self) -> &'static str {
        match self {
            Self::Image(_) => "image",
            Self::Text(_) => "text",
            Self::Audio(_) => "audio",
            Self::CompactTensor { .. } => "compact-tensor",
            Self::Embeddings => "embeddings",
        }
    }

    /// The image preprocessing, if this is one.
    pub const fn as_image(&self) -> Option<&ImagePreprocess> {
        match self {
            Self::Image(p) => Some(p),
            _ => None,
        }
    }

    /// The text preprocessing, if this is one.
    pub const fn as_text(&self) -> Option<&TextPreprocess> {
        match self {
            Self::Text(p) => Some(p),
            _ => None,
        }
    }

    /// The audio preprocessing, if this is one.
    pub const fn as_audio(&self) -> Option<&AudioPreprocess> {
        match self {
            Self::Audio(p) => Some(p),
            _ => None,
        }
    }
}

/// Image preprocessing: resize to `width` × `height` with `interpolation`, then per
/// channel `value = (pixel * scale - mean[c]) / std[c]` (pixel in 0..=255), channels in
/// `color` order, laid out as `layout`.
#[derive(Debug, Clone, PartialEq)]
pub struct ImagePreprocess {
    /// Target width in pixels (`resize[0]`), at least 1.
    pub width: u32,
    /// Target height in pixels (`resize[1]`), at least 1.
    pub height: u32,
    /// Tensor layout.
    pub layout: Layout,
    /// Channel order.
    pub color: ColorOrder,
    /// Multiplier applied to the 0..=255 pixel value first (`1/255` maps to `[0, 1]`);
    /// finite and positive.
    pub scale: f32,
    /// Per-channel mean subtracted after scaling (in `color` order; `gray` uses the first);
    /// finite.
    pub mean: [f32; 3],
    /// Per-channel divisor applied last (in `color` order; `gray` uses the first); finite
    /// and non-zero.
    pub std: [f32; 3],
    /// Resampling filter of the resize.
    pub interpolation: Interpolation,
}

/// Image tensor layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `[batch, channels, height, width]` (`"nchw"`).
    Nchw,
    /// `[batch, height, width, channels]` (`"nhwc"`).
    Nhwc,
}

/// Channel order of an image tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorOrder {
    /// Red, green, blue (`"rgb"`).
    Rgb,
    /// Blue, green, red (`"bgr"`).
    Bgr,
    /// One luma channel (`"gray"`), as Pillow's `convert("L")` computes it:
    /// `(19595 R + 38470 G + 7471 B + 2^15) >> 16` (ITU-R 601 weights).
    Gray,
}

impl ColorOrder {
    /// Channels of the tensor: 3, or 1 for `gray`.
    pub const fn channels(self) -> usize {
        match self {
            Self::Rgb | Self::Bgr => 3,
            Self::Gray => 1,
        }
    }
}

/// Resampling filter of an image resize. The names are those of the `image` crate's
/// `FilterType` (lowercase); the image encoder maps them, this crate's manifests do not
/// depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interpolation {
    /// Nearest neighbour (`"nearest"`).
    Nearest,
    /// Linear / bilinear (`"triangle"`).
    Triangle,
    /// Cubic, Catmull-Rom (`"catmullrom"`).
    CatmullRom,
    /// Lanczos with window 3 (`"lanczos3"`).
    Lanczos3,
}

/// Text preprocessing: tokenizer and the pooling the graph applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextPreprocess {
    /// The tokenizer file (`tokenizers` JSON), resolved against the manifest's directory
    /// (absolute). [`super::ModelManifest::load`] checks that it exists.
    pub tokenizer: PathBuf,
    /// Longest input in tokens, special tokens included; longer inputs are truncated.
    pub max_length: usize,
    /// How the graph pools token states into the sentence embedding.
    pub pooling: Pooling,
    /// Whether the graph L2-normalises the sentence embedding.
    pub normalize: bool,
}

/// Pooling of token states into one sentence embedding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooling {
    /// Mean over the tokens the attention mask keeps (`"mean"`).
    Mean,
    /// The first (`[CLS]`) token's state (`"cls"`).
    Cls,
}

/// Audio preprocessing: mono PCM in `[-1, 1]` at `sample_rate`, fed `chunk` new samples at
/// a time, each prefixed with the last `context` samples of the previous chunk (zeros at
/// the start of a stream).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioPreprocess {
    /// Samples per second, at least 1.
    pub sample_rate: u32,
    /// New samples per call, at least 1.
    pub chunk: usize,
    /// Samples carried over from the previous chunk (0 when the manifest gives none).
    pub context: usize,
}

macro_rules! names {
    ($ty:ident { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            /// Every value, in manifest documentation order.
            pub const ALL: &[Self] = &[$(Self::$variant),+];

            /// The manifest spelling.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $name),+
                }
            }

            /// Parses the manifest spelling.
            pub fn parse(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str() == s)
            }

            /// The spellings, comma-separated, for messages.
            pub(super) fn expected() -> String {
                let names: Vec<&str> = Self::ALL.iter().map(|v| v.as_str()).collect();
                names.join(", ")
            }
        }
    };
}

names!(Layout { Nchw => "nchw", Nhwc => "nhwc" });
names!(ColorOrder { Rgb => "rgb", Bgr => "bgr", Gray => "gray" });
names!(Interpolation {
    Nearest => "nearest",
    Triangle => "triangle",
    CatmullRom => "catmullrom",
    Lanczos3 => "lanczos3",
});
names!(Pooling { Mean => "mean", Cls => "cls" });
