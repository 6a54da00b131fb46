//! `helpdesk kb import <folder>`: every Markdown file under a folder becomes an article, with a
//! progress bar. The title is the file's first `# heading` (removed from the body) or else its
//! name; the slug comes from the file name. A file that fails is reported and the rest go on, so
//! one bad file does not stop an import of thousands — the command then exits non-zero.

use std::path::{Path, PathBuf};

use anyhow::Context;
use helpdesk_proto::kb::v1 as kb;
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::Clients;

/// An article read from a file, before it is sent.
#[derive(Debug, PartialEq, Eq)]
pub struct Draft {
    pub title: String,
    pub slug: String,
    pub body: String,
}

/// Markdown files under `folder`, recursively, in name order.
pub fn markdown_files(folder: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut pending = vec![folder.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("md") || e.eq_ignore_ascii_case("markdown")) {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Title, slug and body of one file's text.
pub fn draft(file_stem: &str, text: &str) -> Draft {
    let text = text.trim_start_matches('\u{feff}');
    let first = text.lines().next().unwrap_or_default();
    let (title, body) = match first.strip_prefix("# ") {
        Some(heading) if !heading.trim().is_empty() => {
            (heading.trim().to_string(), text[first.len()..].trim_start_matches(['\r', '\n']).to_string())
        }
        _ => (file_stem.replace(['-', '_'], " ").trim().to_string(), text.to_string()),
    };
    Draft { title, slug: file_stem.to_string(), body }
}

pub struct Options {
    pub visibility: kb::Visibility,
    pub status: kb::ArticleStatus,
    pub category_id: String,
}

/// Imports the folder; returns how many articles were created, or an error naming the failures.
pub async fn import(clients: &Clients, folder: &Path, options: &Options) -> anyhow::Result<usize> {
    let files = markdown_files(folder)?;
    if files.is_empty() {
        anyhow::bail!("no .md files under {}", folder.display());
    }
    let bar = ProgressBar::new(files.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} articles ({per_sec}, {eta} left) {msg}")
            .context("progress bar template")?,
    );
    let mut created = 0;
    let mut failures = Vec::new();
    for file in &files {
        let result = async {
            let text = std::fs::read_to_string(file).context("reading")?;
            let stem = file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            let draft = draft(&stem, &text);
            clients
                .create_article(kb::CreateArticleRequest {
                    title: draft.title,
                    body_markdown: draft.body,
                    slug: draft.slug,
                    category_id: options.category_id.clone(),
                    status: options.status as i32,
                    visibility: options.visibility as i32,
                    ..Default::default()
                })
                .await
        }
        .await;
        match result {
            Ok(_) => created += 1,
            Err(error) => {
                bar.println(format!("{}: {error:#}", file.display()));
                failures.push(file.display().to_string());
            }
        }
        bar.inc(1);
    }
    bar.finish_with_message("done");
    if failures.is_empty() {
        Ok(created)
    } else {
        anyhow::bail!("{created} articles imported, {} files failed (listed above)", failures.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_leading_heading_is_the_title_and_leaves_the_body() {
        let draft = draft("reset-pin", "# Reset your PIN\n\nOpen settings.\n");
        assert_eq!(draft, Draft { title: "Reset your PIN".into(), slug: "reset-pin".into(), body: "Open settings.\n".into() });
    }

    #[test]
    fn without_a_heading_the_file_name_is_the_title() {
        let draft = draft("card_not_working", "It happens.");
        assert_eq!(draft.title, "card not working");
        assert_eq!(draft.body, "It happens.");
    }

    #[test]
    fn only_markdown_files_are_found_recursively_and_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("sub")).expect("mkdir");
        for name in ["b.md", "a.MD", "notes.txt", "sub/c.markdown"] {
            std::fs::write(dir.path().join(name), "x").expect("write");
        }
        let names: Vec<String> = markdown_files(dir.path())
            .expect("list")
            .iter()
            .map(|p| p.strip_prefix(dir.path()).expect("inside").display().to_string())
            .collect();
        assert_eq!(names, vec!["a.MD", "b.md", "sub/c.markdown"]);
    }
}
