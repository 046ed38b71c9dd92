//! The capability document: what a device is, runs, and measured, as a JSON file that
//! schedulers and field engineers read (`msao-host profile --out`). Normative description:
//! `spec/capability-document.md`; JSON Schema: `spec/capability.schema.json`.
//!
//! | file      | owns |
//! |-----------|------|
//! | `doc`     | the document types and building them from wire messages |
//! | `compare` | two documents side by side (`profile --compare`), table and plot |
//! | `summary` | the trtexec-style text summary |

pub mod compare;
pub mod doc;
pub mod summary;

pub use doc::{CapabilityDoc, PerfEntry};
