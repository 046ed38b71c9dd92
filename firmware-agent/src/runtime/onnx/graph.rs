//! Checks a manifest against the ONNX graph it names, when a session is created: the same
//! input and output names, the same element types and ranks, and every dimension the graph
//! fixes declared with that size. A dimension the graph leaves dynamic may be named or
//! fixed by the manifest (the manifest is the narrower contract).

use super::convert::dtype_of;
use crate::runtime::{
    RuntimeError,
    manifest::{Dim, ModelManifest, TensorSpec, format_dims},
};
use ort::value::{Outlet, ValueType};

/// `Err` names the first tensor that disagrees.
pub(super) fn check_graph(
    manifest: &ModelManifest,
    inputs: &[Outlet],
    outputs: &[Outlet],
) -> Result<(), RuntimeError> {
    check_side(manifest, "input", &manifest.inputs, inputs)?;
    check_side(manifest, "output", &manifest.outputs, outputs)
}

fn check_side(
    manifest: &ModelManifest,
    kind: &str,
    declared: &[TensorSpec],
    graph: &[Outlet],
) -> Result<(), RuntimeError> {
    let mismatch = |tensor: &str, reason: String| RuntimeError::ManifestMismatch {
        model: manifest.label(),
        tensor: tensor.to_string(),
        reason,
    };
    let graph_names = || {
        let names: Vec<&str> = graph.iter().map(|o| o.name()).collect();
        names.join(", ")
    };
    for outlet in graph {
        if !declared.iter().any(|d| d.name == outlet.name()) {
            return Err(mismatch(
                outlet.name(),
                format!("the graph has this {kind} but the manifest does not declare it"),
            ));
        }
    }
    for spec in declared {
        let Some(outlet) = graph.iter().find(|o| o.name() == spec.name) else {
            return Err(mismatch(
                &spec.name,
                format!(
                    "declared as an {kind} but the graph's {kind}s are {}",
                    graph_names()
                ),
            ));
        };
        let ValueType::Tensor { ty, shape, .. } = outlet.dtype() else {
            return Err(mismatch(
                &spec.name,
                format!("graph {kind} is not a tensor"),
            ));
        };
        let dtype = dtype_of(*ty).ok_or_else(|| {
            mismatch(
                &spec.name,
                format!("graph element type {ty:?} is not supported"),
            )
        })?;
        if dtype != spec.dtype {
            return Err(mismatch(
                &spec.name,
                format!("graph dtype is {dtype}, manifest says {}", spec.dtype),
            ));
        }
        let graph_shape: Vec<String> = shape
            .iter()
            .map(|d| if *d < 0 { "?".into() } else { d.to_string() })
            .collect();
        let shapes = || {
            format!(
                "graph shape [{}], manifest shape {}",
                graph_shape.join(", "),
                format_dims(&spec.shape)
            )
        };
        if shape.len() != spec.shape.len() {
            return Err(mismatch(&spec.name, format!("rank differs: {}", shapes())));
        }
        for (axis, (g, d)) in shape.iter().zip(&spec.shape).enumerate() {
            let fixed = usize::try_from(*g).ok();
            match (fixed, d) {
                (Some(g), Dim::Fixed(n)) if g != *n => {
                    return Err(mismatch(
                        &spec.name,
                        format!("axis {axis} differs: {}", shapes()),
                    ));
                }
                (Some(_), Dim::Named(name)) => {
                    return Err(mismatch(
                        &spec.name,
                        format!(
                            "axis {axis} is fixed in the graph but named `{name}`: {}",
                            shapes()
                        ),
                    ));
                }
                _ => {}
            }
        }
    }
    Ok(())
}
