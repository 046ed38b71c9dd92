//! Output of observed frames: JSON lines for machines, text for people.
//!
//! | module      | owns |
//! |-------------|------|
//! | [`json`]    | one JSON object per frame (the line schema of `--json`) |
//! | [`text`]    | one human line per frame, and the value formats (`12.3%`, `n/a`, `5.10 W`) |
//! | [`table`]   | the device table (one row per source and boot id) |
//! | [`summary`] | the end-of-run summary, human and `{"type":"summary",…}` |
//! | [`view`]    | choosing among those and redrawing the live table in place |

pub mod json;
pub mod summary;
pub mod table;
pub mod text;
pub mod view;

pub use summary::Summary;
pub use view::View;
