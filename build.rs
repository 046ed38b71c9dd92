//! Embeds build facts (git revision, target, profile) for `msao::build_info`. Offline and
//! cheap: no network, one optional `git` call, rerun only when HEAD moves.
use std::process::Command;

fn main() {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let rev = match git(&["rev-parse", "--short=10", "HEAD"]) {
        Some(rev) if !rev.is_empty() => rev,
        _ => "unknown".to_string(),
    };
    println!("cargo:rustc-env=MSAO_GIT_REV={rev}");
    println!(
        "cargo:rustc-env=MSAO_TARGET={}",
        std::env::var("TARGET").unwrap_or_default()
    );
    println!(
        "cargo:rustc-env=MSAO_PROFILE={}",
        std::env::var("PROFILE").unwrap_or_default()
    );
    if let Some(dir) = git(&["rev-parse", "--git-dir"]) {
        println!("cargo:rerun-if-changed={dir}/HEAD");
        if let Some(head_ref) = git(&["symbolic-ref", "-q", "HEAD"]) {
            println!("cargo:rerun-if-changed={dir}/{head_ref}");
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}
