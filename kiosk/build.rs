//! Compiles the Slint UI, with the gettext catalogs in `translations/` bundled in.

fn main() {
    let config = slint_build::CompilerConfiguration::new()
        .with_bundled_translations(concat!(env!("CARGO_MANIFEST_DIR"), "/translations"))
        // Element lookup by accessible label in tests needs the debug info.
        .with_debug_info(true);
    if let Err(e) = slint_build::compile_with_config("ui/app.slint", config) {
        panic!("the kiosk UI does not compile: {e}");
    }
}
