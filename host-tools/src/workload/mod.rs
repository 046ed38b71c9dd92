//! The camera-size workload: easy-VQA shapes placed into 640×480 frames at random positions
//! and scales over varied backgrounds, held for several frames per scene, with one
//! question per frame and optional audio. Deterministic from a seed (ChaCha8), so a
//! workload is named by its seed and parameters. Layout and rationale: `docs/workload.md`.
//!
//! | file         | owns |
//! |--------------|------|
//! | `dataset`    | reading a directory in the easy-VQA layout (`images/`, `questions.json`) |
//! | `background` | procedural backgrounds (gradient, checker, stripes, value noise) |
//! | `audio`      | 16 kHz mono tracks: silence, noise, speech via `espeak-ng` |
//! | `generate`   | scenes, frames, requests and the `workload.json` manifest |

pub mod audio;
pub mod background;
pub mod dataset;
pub mod generate;

pub use generate::{AudioMode, Config, Frame, Request, Scene, Workload, compose, generate, noisy};
