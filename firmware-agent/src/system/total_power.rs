//! The total-power rule (wire spec §4.3): which rail, or which sum, `Sample::total_power_mw` is.
//!
//! 1. An **input rail** when the board has one: it measures everything the module draws,
//!    and the other rails are parts of it, so adding them would count power twice.
//!    - `VDD_IN`: module input on Orin Nano/NX, Xavier NX, TX2 (spec §4.3);
//!    - `POM_5V_IN`: module input on the Jetson Nano (JetPack 4; `POM_5V_GPU` and
//!      `POM_5V_CPU` are branches of it);
//!    - `psys`: RAPL's platform domain on x86 laptops (everything the SoC platform draws,
//!      packages included).
//! 2. Otherwise the **sum of the connected rails** (`NC` channels were never listed):
//!    AGX Orin (`VDD_GPU_SOC + VDD_CPU_CV + VIN_SYS_5V0 + VDDQ_VDD2_1V8AO`), AGX Xavier
//!    (`GPU + CPU + SOC + CV + VDDRQ + SYS5V`), x86 without `psys` (`package-N`).
//! 3. No rails: `None`.
//!
//! A total is never partial: when the input rail, or any rail of a sum, cannot be read, the
//! total is `None` for that sample rather than an understatement.

use std::fmt;

/// Rail names that measure the whole module's input, in order of preference.
pub const INPUT_RAILS: [&str; 3] = ["VDD_IN", "POM_5V_IN", "psys"];

/// How the total is formed from a board's rails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TotalRule {
    /// Rail `index` is the input; its name is `INPUT_RAILS[..]`.
    Input {
        /// Index into the rail list.
        index: usize,
    },
    /// The sum of all `count` rails.
    Sum {
        /// Number of rails summed.
        count: usize,
    },
    /// No rails.
    NoRails,
}

impl TotalRule {
    /// The rule for rails named `names` (index order of `HardwareSummary::rails`).
    pub fn for_rails<S: AsRef<str>>(names: &[S]) -> Self {
        let input = INPUT_RAILS
            .iter()
            .find_map(|want| names.iter().position(|n| n.as_ref() == *want));
        match (input, names.len()) {
            (Some(index), _) => Self::Input { index },
            (None, 0) => Self::NoRails,
            (None, count) => Self::Sum { count },
        }
    }

    /// The total for one sample's rail readings (same index order).
    pub fn total(&self, rails_mw: &[Option<u32>]) -> Option<u32> {
        match self {
            Self::Input { index } => rails_mw.get(*index).copied().flatten(),
            Self::Sum { .. } if rails_mw.is_empty() => None,
            Self::Sum { .. } => rails_mw
                .iter()
                .try_fold(0u32, |acc, mw| mw.map(|mw| acc.saturating_add(mw))),
            Self::NoRails => None,
        }
    }

    /// Human description for capability documents and logs, naming the rails involved.
    pub fn describe<S: AsRef<str>>(&self, names: &[S]) -> String {
        match self {
            Self::Input { index } => format!(
                "{} (the module's input rail)",
                names.get(*index).map_or("?", |n| n.as_ref())
            ),
            Self::Sum { .. } => format!(
                "sum of connected rails ({})",
                names
                    .iter()
                    .map(AsRef::as_ref)
                    .collect::<Vec<_>>()
                    .join(" + ")
            ),
            Self::NoRails => "none (no power rails)".to_string(),
        }
    }
}

impl fmt::Display for TotalRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Input { index } => write!(f, "input rail #{index}"),
            Self::Sum { count } => write!(f, "sum of {count} rails"),
            Self::NoRails => f.write_str("no rails"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_rail_wins_else_sum_else_none() {
        let orin_nano = ["VDD_IN", "VDD_CPU_GPU_CV", "VDD_SOC"];
        let rule = TotalRule::for_rails(&orin_nano);
        assert_eq!(rule, TotalRule::Input { index: 0 });
        assert_eq!(rule.total(&[Some(5100), Some(600), None]), Some(5100));
        assert_eq!(rule.total(&[None, Some(600), Some(1)]), None);

        let nano = ["POM_5V_IN", "POM_5V_GPU", "POM_5V_CPU"];
        assert_eq!(TotalRule::for_rails(&nano), TotalRule::Input { index: 0 });
        let x86 = ["package-0", "psys"];
        assert_eq!(TotalRule::for_rails(&x86), TotalRule::Input { index: 1 });

        let agx = [
            "VDD_GPU_SOC",
            "VDD_CPU_CV",
            "VIN_SYS_5V0",
            "VDDQ_VDD2_1V8AO",
        ];
        let rule = TotalRule::for_rails(&agx);
        assert_eq!(rule, TotalRule::Sum { count: 4 });
        assert_eq!(rule.total(&[Some(1), Some(2), Some(3), Some(4)]), Some(10));
        assert_eq!(rule.total(&[Some(1), None, Some(3), Some(4)]), None);
        assert_eq!(
            rule.describe(&agx),
            "sum of connected rails (VDD_GPU_SOC + VDD_CPU_CV + VIN_SYS_5V0 + VDDQ_VDD2_1V8AO)"
        );

        let none: [&str; 0] = [];
        assert_eq!(TotalRule::for_rails(&none), TotalRule::NoRails);
        assert_eq!(TotalRule::NoRails.total(&[]), None);
    }
}
