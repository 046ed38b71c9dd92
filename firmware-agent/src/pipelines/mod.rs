//! Pipelines as data: which models play which role, their tensor bindings, the head's
//! labels and calibration, the region step and the cloud models, read from a TOML file
//! (`models/pipelines/easy-vqa.toml` is the one shipped). The encoders, the brain, the
//! offload path and the request API take every model name, tensor name and label from a
//! [`PipelineSpec`]; none is a constant in the code.
//!
//! | file     | owns |
//! |----------|------|
//! | `file`   | the file as written: tables, keys, parsing with the offending key named |
//! | `labels` | [`Labels`]: a head's labels file, checked and hashed |
//!
//! Paths in the file (labels, calibration) are relative to the file itself.

mod file;
mod labels;

pub use file::{
    AudioSection, BoxFormat, CloudSection, HeadKind, HeadSection, ImageSection, PipelineFile,
    RegionKind, RegionSection, TextSection,
};
pub use labels::{Labels, MAX_LABELS};

use crate::runtime::ModelCatalog;
use msao::message::{PipelineSummary, Precision, truncated};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The shipped pipeline, relative to the models directory.
pub const DEFAULT_PIPELINE: &str = "pipelines/easy-vqa.toml";

/// The pipeline file is unusable. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The file cannot be read.
    #[error("pipeline {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not fit the schema.
    #[error("pipeline {path}{}: {source}", key.as_ref().map(|k| format!(", key `{k}`")).unwrap_or_default())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The offending key, when known.
        key: Option<String>,
        /// The TOML error.
        source: Box<toml::de::Error>,
    },
    /// A value is wrong.
    #[error("pipeline {path}, key `{key}`: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The key.
        key: &'static str,
        /// What was expected.
        reason: String,
    },
    /// A labels file is unusable, or does not fit its model.
    #[error("labels {path}: {reason}")]
    Labels {
        /// The labels file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// A separate head's graph (`[head] kind = "separate"`).
#[derive(Debug, Clone, PartialEq)]
pub struct HeadGraph {
    /// Catalog name.
    pub model: String,
    /// Precision loaded.
    pub precision: Precision,
    /// Its input fed the image embedding.
    pub image: String,
}

/// The local head, resolved.
#[derive(Debug, Clone)]
pub struct Head {
    /// Where it runs.
    pub kind: HeadKind,
    /// Its own graph, for a separate head (`None`: fused into the image graph).
    pub graph: Option<HeadGraph>,
    /// Input: the question embedding.
    pub question: String,
    /// Output: logits.
    pub logits: String,
    /// Output: learned confidence, when the pipeline names one.
    pub confidence: Option<String>,
    /// Its labels.
    pub labels: Labels,
    /// Its temperature file.
    pub calibration: PathBuf,
}

/// The region step, resolved.
#[derive(Debug, Clone, PartialEq)]
pub enum RegionSpec {
    /// The whole frame is encoded.
    None,
    /// The easy-VQA card rule.
    Cards(CardSpec),
    /// An ONNX detector.
    Detector(DetectorSpec),
}

impl RegionSpec {
    /// Its kind.
    pub fn kind(&self) -> RegionKind {
        match self {
            Self::None => RegionKind::None,
            Self::Cards(_) => RegionKind::Cards,
            Self::Detector(_) => RegionKind::Detector,
        }
    }
}

/// The card rule's parameters (`[region] kind = "cards"`); the defaults are easy-VQA's
/// (`docs/pipelines.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CardSpec {
    /// A pixel is card-like when its darkest channel is at least this.
    pub min_level: u8,
    /// Stride of the coarse pass, in pixels (≥ 1).
    pub stride: u32,
    /// A row or column belongs to the card when it holds at least this many card-like
    /// pixels (at full resolution).
    pub min_run: u32,
    /// Smallest side accepted, in pixels (≥ 1); anything smaller is noise and gives no
    /// region.
    pub min_side: u32,
}

impl Default for CardSpec {
    fn default() -> Self {
        Self {
            min_level: 224,
            stride: 4,
            min_run: 8,
            min_side: 16,
        }
    }
}

/// An ONNX detector's bindings (`[region] kind = "detector"`).
#[derive(Debug, Clone, PartialEq)]
pub struct DetectorSpec {
    /// Catalog name.
    pub model: String,
    /// Precision loaded.
    pub precision: Precision,
    /// Image input.
    pub input: String,
    /// Boxes output `[batch, N, 4]`.
    pub boxes: String,
    /// Scores output `[batch, N]`.
    pub scores: String,
    /// Lowest score taken.
    pub min_score: f32,
    /// Corner order.
    pub box_format: BoxFormat,
    /// Normalised to the frame (else in pixels of the detector's input).
    pub normalized: bool,
}

/// The cloud models, resolved.
#[derive(Debug, Clone)]
pub struct Cloud {
    /// Model fed the compact tensor.
    pub model: String,
    /// Its compact-tensor input.
    pub compact: String,
    /// Its question-embedding input.
    pub question: String,
    /// Its logits output.
    pub logits: String,
    /// Labels of its logits.
    pub labels: Labels,
    /// Model fed the whole frame as JPEG (`cloud-only` baseline).
    pub full_model: String,
    /// Its JPEG input.
    pub full_image: String,
    /// Its question-text input.
    pub full_question: String,
}

/// A pipeline, read and checked.
#[derive(Debug, Clone)]
pub struct PipelineSpec {
    /// Name (the request API's `model`).
    pub name: String,
    /// The file it was read from.
    pub path: PathBuf,
    /// Image encoder.
    pub image: ImageSection,
    /// Text encoder.
    pub text: TextSection,
    /// Audio activity model, when the pipeline takes audio.
    pub audio: Option<AudioSection>,
    /// Local head.
    pub head: Head,
    /// Region proposer.
    pub region: RegionSpec,
    /// Cloud models.
    pub cloud: Cloud,
    /// MAS parameters, validated.
    pub mas: crate::mas::MasConfig,
}

impl PipelineSpec {
    /// Reads, parses and checks a pipeline file; labels files are read too.
    pub fn load(path: &Path) -> Result<Self, PipelineError> {
        let text = std::fs::read_to_string(path).map_err(|source| PipelineError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_file(PipelineFile::from_toml(&text, path)?, path)
    }

    /// The shipped pipeline of a models directory ([`DEFAULT_PIPELINE`]).
    pub fn load_default(models_dir: &Path) -> Result<Self, PipelineError> {
        Self::load(&models_dir.join(DEFAULT_PIPELINE))
    }

    /// Checks a parsed file; `path` locates the relative paths it holds.
    pub fn from_file(file: PipelineFile, path: &Path) -> Result<Self, PipelineError> {
        let invalid = |key: &'static str, reason: String| PipelineError::Invalid {
            path: path.to_path_buf(),
            key,
            reason,
        };
        for (key, value) in file.names() {
            if value.trim().is_empty() {
                return Err(invalid(key, "must not be empty".into()));
            }
        }
        if !file
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(invalid(
                "name",
                format!(
                    "`{}` must be ASCII letters, digits, `-`, `_` or `.` (it is the API's model id)",
                    file.name
                ),
            ));
        }
        if let Err(e) = file.mas.validate() {
            return Err(match e {
                crate::mas::MasError::Config { key, reason } => invalid(key, reason),
                other => invalid("mas", other.to_string()),
            });
        }
        let base = path.parent().unwrap_or(Path::new("."));
        let head_labels = Labels::load(&base.join(&file.head.labels))?;
        let cloud_labels = match &file.cloud.labels {
            Some(p) => Labels::load(&base.join(p))?,
            None => head_labels.clone(),
        };
        let graph = head_graph(&file.head, &invalid)?;
        let head = Head {
            kind: file.head.kind,
            graph,
            question: file.head.question,
            logits: file.head.logits,
            confidence: file.head.confidence,
            labels: head_labels,
            calibration: base.join(&file.head.calibration),
        };
        let region = region_spec(file.region, &invalid)?;
        let c = file.cloud;
        Ok(Self {
            name: file.name,
            path: path.to_path_buf(),
            image: file.image,
            text: file.text,
            audio: file.audio,
            head,
            region,
            mas: file.mas,
            cloud: Cloud {
                model: c.model,
                compact: c.compact,
                question: c.question,
                logits: c.logits,
                labels: cloud_labels,
                full_model: c.full_model,
                full_image: c.full_image,
                full_question: c.full_question,
            },
        })
    }
}

/// A separate head's graph; its keys are refused for a fused head.
fn head_graph(
    h: &HeadSection,
    invalid: &dyn Fn(&'static str, String) -> PipelineError,
) -> Result<Option<HeadGraph>, PipelineError> {
    if h.kind == HeadKind::Fused {
        let set = [
            ("head.model", h.model.is_some()),
            ("head.precision", h.precision.is_some()),
            ("head.image", h.image.is_some()),
        ];
        return match set.iter().find(|(_, s)| *s) {
            Some((key, _)) => Err(invalid(key, "only a `separate` head takes this key".into())),
            None => Ok(None),
        };
    }
    let required = |key: &'static str, v: &Option<String>| match v {
        Some(v) if !v.trim().is_empty() => Ok(v.clone()),
        Some(_) => Err(invalid(key, "must not be empty".into())),
        None => Err(invalid(
            key,
            "required when `head.kind` is `separate`".into(),
        )),
    };
    Ok(Some(HeadGraph {
        model: required("head.model", &h.model)?,
        precision: h.precision.unwrap_or(Precision::Fp32),
        image: required("head.image", &h.image)?,
    }))
}

/// Resolves `[region]`: each kind's keys are refused for the other kinds (a key that would do
/// nothing is a mistake to report); the detector's bindings are required.
fn region_spec(
    r: RegionSection,
    invalid: &dyn Fn(&'static str, String) -> PipelineError,
) -> Result<RegionSpec, PipelineError> {
    let card_keys = [
        ("region.min_level", r.min_level.is_some()),
        ("region.stride", r.stride.is_some()),
        ("region.min_run", r.min_run.is_some()),
        ("region.min_side", r.min_side.is_some()),
    ];
    let detector_keys = [
        ("region.model", r.model.is_some()),
        ("region.precision", r.precision.is_some()),
        ("region.input", r.input.is_some()),
        ("region.boxes", r.boxes.is_some()),
        ("region.scores", r.scores.is_some()),
        ("region.min_score", r.min_score.is_some()),
        ("region.box_format", r.box_format.is_some()),
        ("region.normalized", r.normalized.is_some()),
    ];
    let refuse = |keys: &[(&'static str, bool)], kind: &str| match keys.iter().find(|(_, s)| *s) {
        Some((key, _)) => Err(invalid(
            key,
            format!("only a `{kind}` region step takes this key"),
        )),
        None => Ok(()),
    };
    if r.kind != RegionKind::Cards {
        refuse(&card_keys, "cards")?;
    }
    if r.kind != RegionKind::Detector {
        refuse(&detector_keys, "detector")?;
    }
    match r.kind {
        RegionKind::None => Ok(RegionSpec::None),
        RegionKind::Cards => {
            let d = CardSpec::default();
            let spec = CardSpec {
                min_level: r.min_level.unwrap_or(d.min_level),
                stride: r.stride.unwrap_or(d.stride),
                min_run: r.min_run.unwrap_or(d.min_run),
                min_side: r.min_side.unwrap_or(d.min_side),
            };
            if spec.stride == 0 {
                return Err(invalid("region.stride", "must be at least 1".into()));
            }
            if spec.min_side == 0 {
                return Err(invalid("region.min_side", "must be at least 1".into()));
            }
            Ok(RegionSpec::Cards(spec))
        }
        RegionKind::Detector => {
            let required = |key: &'static str, v: Option<String>| match v {
                Some(v) if !v.trim().is_empty() => Ok(v),
                Some(_) => Err(invalid(key, "must not be empty".into())),
                None => Err(invalid(
                    key,
                    "required when `region.kind` is `detector`".into(),
                )),
            };
            let min_score = r.min_score.unwrap_or(0.5);
            if !min_score.is_finite() {
                return Err(invalid(
                    "region.min_score",
                    "must be a finite number".into(),
                ));
            }
            Ok(RegionSpec::Detector(DetectorSpec {
                model: required("region.model", r.model)?,
                precision: r.precision.unwrap_or(Precision::Fp32),
                input: required("region.input", r.input)?,
                boxes: required("region.boxes", r.boxes)?,
                scores: required("region.scores", r.scores)?,
                min_score,
                box_format: r.box_format.unwrap_or_default(),
                normalized: r.normalized.unwrap_or(true),
            }))
        }
    }
}

impl PipelineSpec {
    /// What `Capability` announces: the name, the head's class count, and a fingerprint —
    /// the first 8 bytes of SHA-256 over the pipeline file's bytes, each role's model file
    /// (its manifest's sha256, at the precision loaded: image and text as the file says,
    /// audio and cloud FP32, a separate head and a region detector at their own; `-` for a model not in `catalog`) and the head's and cloud's
    /// label files. Two devices with the same fingerprint answer with the same models and
    /// labels. Fails only when the pipeline file can no longer be read.
    pub fn summary(&self, catalog: &ModelCatalog) -> Result<PipelineSummary, PipelineError> {
        let bytes = std::fs::read(&self.path).map_err(|source| PipelineError::Read {
            path: self.path.clone(),
            source,
        })?;
        let mut h = Sha256::new();
        h.update(&bytes);
        let mut roles = vec![
            (self.image.model.as_str(), self.image.precision),
            (self.text.model.as_str(), self.text.precision),
            (self.cloud.model.as_str(), Precision::Fp32),
        ];
        if let Some(a) = &self.audio {
            roles.push((a.model.as_str(), Precision::Fp32));
        }
        if let Some(g) = &self.head.graph {
            roles.push((g.model.as_str(), g.precision));
        }
        if let RegionSpec::Detector(d) = &self.region {
            roles.push((d.model.as_str(), d.precision));
        }
        for (model, precision) in roles {
            let sha = catalog
                .find(model, precision)
                .map_or("-", |m| m.sha256.as_str());
            h.update(b"\n");
            h.update(sha.as_bytes());
        }
        for labels in [&self.head.labels, &self.cloud.labels] {
            h.update(b"\n");
            h.update(labels.sha256().as_bytes());
        }
        let digest = h.finalize();
        let mut fingerprint = [0u8; 8];
        fingerprint.copy_from_slice(&digest[..8]);
        Ok(PipelineSummary {
            name: truncated(&self.name),
            fingerprint,
            labels: u16::try_from(self.head.labels.len()).unwrap_or(u16::MAX),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name = "tiny"
[image]
model = "m"
precision = "fp32"
input = "pixels"
features = "f"
embedding = "e"
[text]
model = "t"
precision = "int8"
input_ids = "ids"
attention_mask = "mask"
embedding = "emb"
[head]
kind = "fused"
question = "q"
logits = "l"
labels = "labels.txt"
calibration = "t.json"
[mas.modal]
image_prompts = ["what is in the picture?"]
audio_prompts = ["what was said?"]
[cloud]
model = "c"
compact = "compact"
question = "q"
logits = "l"
full_model = "full"
full_image = "image"
full_question = "question"
"#;

    fn dir_with(pipeline: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("labels.txt"), "yes\nno\n").unwrap();
        let p = dir.path().join("p.toml");
        std::fs::write(&p, pipeline).unwrap();
        (dir, p)
    }

    #[test]
    fn a_minimal_pipeline_resolves_paths_next_to_the_file() {
        let (dir, p) = dir_with(GOOD);
        let s = PipelineSpec::load(&p).unwrap();
        assert_eq!(s.name, "tiny");
        assert!(s.audio.is_none());
        assert_eq!(s.region, RegionSpec::None);
        assert_eq!(s.head.labels.names(), ["yes", "no"]);
        assert_eq!(s.cloud.labels, s.head.labels);
        assert_eq!(s.head.calibration, dir.path().join("t.json"));
    }

    #[test]
    fn errors_name_the_file_and_the_key() {
        let (_d, p) = dir_with(&GOOD.replace("kind = \"fused\"", "kind = \"mlp\""));
        let e = PipelineSpec::load(&p).unwrap_err().to_string();
        assert!(e.contains("p.toml") && e.contains("head.kind"), "{e}");
        assert!(e.contains("fused"), "the expected value is named: {e}");

        let (_d, p) = dir_with(&GOOD.replace("kind = \"fused\"", "kind = \"separate\""));
        let e = PipelineSpec::load(&p).unwrap_err().to_string();
        assert!(e.contains("key `head.model`: required"), "{e}");

        let (_d, p) = dir_with(&GOOD.replace(
            "kind = \"fused\"",
            "kind = \"separate\"\nmodel = \"h\"\nimage = \"img\"",
        ));
        let s = PipelineSpec::load(&p).unwrap();
        let g = s.head.graph.unwrap();
        assert_eq!((g.model.as_str(), g.image.as_str()), ("h", "img"));

        let (_d, p) =
            dir_with(&GOOD.replace("kind = \"fused\"", "kind = \"fused\"\nimage = \"img\""));
        let e = PipelineSpec::load(&p).unwrap_err().to_string();
        assert!(
            e.contains("key `head.image`: only a `separate` head"),
            "{e}"
        );

        let (_d, p) = dir_with(&GOOD.replace("precision = \"fp32\"", "precision = \"fp8\""));
        let e = PipelineSpec::load(&p).unwrap_err().to_string();
        assert!(e.contains("image.precision") && e.contains("fp8"), "{e}");

        let (_d, p) = dir_with(&GOOD.replace("[text]", "[text]\ndims = 3"));
        let e = PipelineSpec::load(&p).unwrap_err().to_string();
        assert!(e.contains("text") && e.contains("dims"), "{e}");

        let (_d, p) = dir_with(&GOOD.replace("embedding = \"e\"", "embedding = \" \""));
        let e = PipelineSpec::load(&p).unwrap_err().to_string();
        assert!(
            e.contains("key `image.embedding`: must not be empty"),
            "{e}"
        );

        let (_d, p) = dir_with(&GOOD.replace("name = \"tiny\"", "name = \"a b\""));
        let e = PipelineSpec::load(&p).unwrap_err().to_string();
        assert!(e.contains("key `name`") && e.contains("model id"), "{e}");

        let (_d, p) = dir_with(&GOOD.replace("labels.txt", "missing.txt"));
        let e = PipelineSpec::load(&p).unwrap_err().to_string();
        assert!(e.contains("missing.txt"), "{e}");

        let (_d, p) = dir_with(&GOOD.replace("audio_prompts = [\"what was said?\"]", ""));
        let e = PipelineSpec::load(&p).unwrap_err().to_string();
        assert!(e.contains("key `mas.modal.audio_prompts`"), "{e}");

        let (_d, p) = dir_with(&GOOD.replace("[cloud]\n", ""));
        let e = PipelineSpec::load(&p).unwrap_err().to_string();
        assert!(e.contains("p.toml"), "{e}");
    }

    #[test]
    fn a_detector_region_needs_its_bindings_and_other_kinds_refuse_them() {
        let detector = "[region]\nkind = \"detector\"\nmodel = \"det\"\ninput = \"img\"\nboxes = \"b\"\nscores = \"s\"\nbox_format = \"yxyx\"\n";
        let (_d, p) = dir_with(&GOOD.replace("[mas.modal]", &format!("{detector}[mas.modal]")));
        let s = PipelineSpec::load(&p).unwrap();
        let RegionSpec::Detector(d) = &s.region else {
            panic!("{:?}", s.region)
        };
        assert_eq!((d.model.as_str(), d.boxes.as_str()), ("det", "b"));
        assert_eq!(
            (d.min_score, d.box_format, d.normalized),
            (0.5, BoxFormat::Yxyx, true)
        );
        assert_eq!(d.precision, Precision::Fp32);

        let (_d, p) = dir_with(&GOOD.replace(
            "[mas.modal]",
            &format!("{}[mas.modal]", detector.replace("scores = \"s\"\n", "")),
        ));
        let e = PipelineSpec::load(&p).unwrap_err().to_string();
        assert!(
            e.contains("key `region.scores`") && e.contains("detector"),
            "{e}"
        );

        let (_d, p) = dir_with(&GOOD.replace(
            "[mas.modal]",
            "[region]\nkind = \"cards\"\nmodel = \"det\"\n[mas.modal]",
        ));
        let e = PipelineSpec::load(&p).unwrap_err().to_string();
        assert!(
            e.contains("key `region.model`") && e.contains("only a `detector`"),
            "{e}"
        );

        let (_d, p) =
            dir_with(&GOOD.replace("[mas.modal]", "[region]\nkind = \"yolo\"\n[mas.modal]"));
        let e = PipelineSpec::load(&p).unwrap_err().to_string();
        assert!(e.contains("region.kind") && e.contains("detector"), "{e}");
    }

    #[test]
    fn the_card_rule_takes_its_parameters_from_the_file() {
        let (_d, p) = dir_with(&GOOD.replace(
            "[mas.modal]",
            "[region]\nkind = \"cards\"\nmin_level = 200\nmin_side = 24\n[mas.modal]",
        ));
        let s = PipelineSpec::load(&p).unwrap();
        let d = CardSpec::default();
        assert_eq!(
            s.region,
            RegionSpec::Cards(CardSpec {
                min_level: 200,
                min_side: 24,
                ..d
            })
        );

        let (_d, p) = dir_with(&GOOD.replace(
            "[mas.modal]",
            "[region]\nkind = \"cards\"\nstride = 0\n[mas.modal]",
        ));
        let e = PipelineSpec::load(&p).unwrap_err().to_string();
        assert!(e.contains("key `region.stride`: must be at least 1"), "{e}");

        let (_d, p) = dir_with(&GOOD.replace(
            "[mas.modal]",
            "[region]\nkind = \"cards\"\nmin_level = 300\n[mas.modal]",
        ));
        let e = PipelineSpec::load(&p).unwrap_err().to_string();
        assert!(e.contains("region.min_level"), "{e}");

        let (_d, p) = dir_with(&GOOD.replace(
            "[mas.modal]",
            "[region]\nkind = \"none\"\nmin_run = 3\n[mas.modal]",
        ));
        let e = PipelineSpec::load(&p).unwrap_err().to_string();
        assert!(
            e.contains("key `region.min_run`") && e.contains("only a `cards`"),
            "{e}"
        );
    }

    #[test]
    fn the_shipped_pipeline_loads() {
        let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models");
        let s = PipelineSpec::load_default(&models).unwrap();
        assert_eq!(s.name, "easy-vqa");
        assert_eq!(s.head.labels.len(), 13);
        assert_eq!(s.region, RegionSpec::Cards(CardSpec::default()));
        assert!(
            s.head.calibration.is_file(),
            "{}",
            s.head.calibration.display()
        );
        assert_eq!(s.mas.modal.image_prompts.len(), 3);
        // The catalog of the same directory skips `pipelines/` and has the models named.
        let catalog = crate::runtime::ModelCatalog::load_dir(&models).unwrap();
        assert!(catalog.find(&s.image.model, s.image.precision).is_some());
        assert!(catalog.find(&s.cloud.model, Precision::Fp32).is_some());
        let summary = s.summary(&catalog).unwrap();
        assert_eq!((summary.name.as_str(), summary.labels), ("easy-vqa", 13));
        assert_eq!(s.summary(&catalog).unwrap(), summary, "deterministic");
    }

    #[test]
    fn the_fingerprint_follows_the_labels() {
        let (dir, p) = dir_with(GOOD);
        let catalog = crate::runtime::ModelCatalog::default();
        let before = PipelineSpec::load(&p).unwrap().summary(&catalog).unwrap();
        std::fs::write(dir.path().join("labels.txt"), "no\nyes\n").unwrap();
        let after = PipelineSpec::load(&p).unwrap().summary(&catalog).unwrap();
        assert_eq!(before.labels, after.labels);
        assert_ne!(
            before.fingerprint, after.fingerprint,
            "same count, other order"
        );
    }
}
