//! Rebuild when a migration is added or changed: `sqlx::migrate!` embeds the migration files
//! at compile time, and without this Cargo does not know it read them (a new or edited
//! migration would otherwise be left out of an incremental build).
//!
//! The in-product help is the user guide itself: its pages (`docs/guide/*.md`, the glossary)
//! and the screenshots they show are embedded from `docs/`, listed here into
//! `$OUT_DIR/help.rs`, so there is one source.
use std::fmt::Write;
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = String::from(
        "/// The guide's pages: (name, Markdown).\npub static PAGES: &[(&str, &str)] = &[\n",
    );
    let files = |dir: &str, ext: &str| {
        let dir = root.join(dir);
        println!("cargo:rerun-if-changed={}", dir.display());
        let mut found: Vec<_> = std::fs::read_dir(&dir)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        found.retain(|p: &std::path::PathBuf| p.extension().is_some_and(|e| e == ext));
        found.sort();
        found
    };
    for page in files("docs/guide", "md") {
        let stem = page.file_stem().unwrap().to_string_lossy();
        let name = if stem == "README" {
            "index".into()
        } else {
            stem.to_string()
        };
        writeln!(
            out,
            "    ({name:?}, include_str!({:?})),",
            page.display().to_string()
        )
        .unwrap();
    }
    let glossary = root.join("docs/GLOSSARY.md");
    println!("cargo:rerun-if-changed={}", glossary.display());
    if glossary.is_file() {
        writeln!(
            out,
            "    (\"glossary\", include_str!({:?})),",
            glossary.display().to_string()
        )
        .unwrap();
    }
    out.push_str("];\n\n/// The screenshots the pages show: (file name, PNG).\npub static IMAGES: &[(&str, &[u8])] = &[\n");
    for image in files("docs/screenshots", "png") {
        let name = image.file_name().unwrap().to_string_lossy();
        writeln!(
            out,
            "    ({name:?}, include_bytes!({:?})),",
            image.display().to_string()
        )
        .unwrap();
    }
    out.push_str("];\n");
    let dest = Path::new(&std::env::var("OUT_DIR").unwrap()).join("help.rs");
    std::fs::write(dest, out).unwrap();
}
