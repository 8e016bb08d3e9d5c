//! Compiles this crate (and only this crate) with `--cfg racegate_loom`, so
//! the server's `sync` shim hands the pool core loom's types.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(racegate_loom)");
    println!("cargo::rustc-cfg=racegate_loom");
}
