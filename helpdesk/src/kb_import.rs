//! `helpdesk kb import <folder>`: every Markdown file under a folder becomes an article, with a
//! progress bar. The title is the file's first `# heading` (removed from the body) or else its
//! name. The slug is the file name under the slug rule (lower-case ASCII words joined by single
//! hyphens, as for titles); a file whose name is not already a slug is listed with the slug it got,
//! so nothing is renamed silently. Import upserts by slug, so running it again creates nothing
//! twice: an article with the slug is updated when the file (or the import's status, visibility
//! or category) differs and left alone when it does not. A file that fails is reported and the
//! rest go on, so one bad file does not stop an import of thousands — the command then exits
//! non-zero.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
};

use anyhow::Context;
use helpdesk_proto::kb::v1 as kb;
use indicatif::{ProgressBar, ProgressStyle};

use helpdesk_kit::auth::bearer;

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

/// Title, slug and body of one file's text; the slug is the file name under the slug rule.
pub fn draft(file_stem: &str, text: &str) -> Draft {
    let text = text.trim_start_matches('\u{feff}');
    let first = text.lines().next().unwrap_or_default();
    let (title, body) = match first.strip_prefix("# ") {
        Some(heading) if !heading.trim().is_empty() => {
            (heading.trim().to_string(), text[first.len()..].trim_start_matches(['\r', '\n']).to_string())
        }
        _ => (file_stem.replace(['-', '_'], " ").trim().to_string(), text.to_string()),
    };
    Draft { title, slug: helpdesk_kb::slugify(file_stem), body }
}

pub struct Options {
    pub visibility: kb::Visibility,
    pub status: kb::ArticleStatus,
    /// Empty: new articles get none and existing ones keep theirs.
    pub category_id: String,
}

/// What an import did, by slug; `renamed` lists the files whose name was not already their slug.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub created: Vec<String>,
    pub updated: Vec<String>,
    pub unchanged: Vec<String>,
    pub renamed: Vec<(PathBuf, String)>,
    pub failed: Vec<(PathBuf, String)>,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} created, {} updated, {} unchanged, {} failed",
            self.created.len(),
            self.updated.len(),
            self.unchanged.len(),
            self.failed.len()
        )
    }
}

enum Outcome {
    Created,
    Updated,
    Unchanged,
}

/// Imports the folder. Per-file failures are in the summary (the caller decides the exit code);
/// an error means the folder itself could not be read.
pub async fn import(clients: &Clients, folder: &Path, options: &Options) -> anyhow::Result<Summary> {
    let files = markdown_files(folder)?;
    if files.is_empty() {
        anyhow::bail!("no .md files under {}", folder.display());
    }
    let bar = ProgressBar::new(files.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} articles ({per_sec}, {eta} left) {msg}")
            .context("progress bar template")?,
    );
    let mut summary = Summary::default();
    // Two files with one slug (a/faq.md and b/faq.md) would overwrite each other: the second fails.
    let mut seen: HashMap<String, PathBuf> = HashMap::new();
    for file in &files {
        let stem = file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let result = async {
            let text = std::fs::read_to_string(file).context("reading")?;
            let draft = draft(&stem, &text);
            if let Some(first) = seen.get(&draft.slug) {
                anyhow::bail!("slug {} is already used by {} in this import", draft.slug, first.display());
            }
            seen.insert(draft.slug.clone(), file.clone());
            let outcome = upsert(clients, &draft, options).await?;
            Ok((draft.slug, outcome))
        }
        .await;
        match result {
            Ok((slug, outcome)) => {
                if slug != stem {
                    // `suspend`, not `println`: a hidden bar (output not a terminal) drops `println`.
                    bar.suspend(|| println!("{}: slug {slug} (the file name under the slug rule)", file.display()));
                    summary.renamed.push((file.clone(), slug.clone()));
                }
                match outcome {
                    Outcome::Created => summary.created.push(slug),
                    Outcome::Updated => summary.updated.push(slug),
                    Outcome::Unchanged => summary.unchanged.push(slug),
                }
            }
            Err(error) => {
                bar.suspend(|| eprintln!("{}: {error:#}", file.display()));
                summary.failed.push((file.clone(), format!("{error:#}")));
            }
        }
        bar.inc(1);
    }
    bar.finish_with_message("done");
    Ok(summary)
}

/// Creates the article, or updates the one with its slug when it differs from the file.
async fn upsert(clients: &Clients, draft: &Draft, options: &Options) -> anyhow::Result<Outcome> {
    let token = clients.service_token().await?;
    let lookup = kb::GetArticleRequest { key: Some(kb::get_article_request::Key::Slug(draft.slug.clone())) };
    let existing = match clients.kb().get_article(bearer(lookup, &token)?).await {
        Ok(article) => Some(article.into_inner()),
        Err(status) if status.code() == tonic::Code::NotFound => None,
        Err(status) => return Err(status.into()),
    };
    let Some(article) = existing else {
        let request = kb::CreateArticleRequest {
            title: draft.title.clone(),
            body_markdown: draft.body.clone(),
            slug: draft.slug.clone(),
            category_id: options.category_id.clone(),
            status: options.status as i32,
            visibility: options.visibility as i32,
            ..Default::default()
        };
        clients.kb().create_article(bearer(request, &token)?).await?;
        return Ok(Outcome::Created);
    };
    let same = article.title == draft.title
        && article.body_markdown == draft.body
        && article.status == options.status as i32
        && article.visibility == options.visibility as i32
        && (options.category_id.is_empty() || article.category_id == options.category_id);
    if same {
        return Ok(Outcome::Unchanged);
    }
    let request = kb::UpdateArticleRequest {
        id: article.id,
        title: Some(draft.title.clone()),
        body_markdown: Some(draft.body.clone()),
        category_id: Some(options.category_id.clone()).filter(|c| !c.is_empty()),
        status: options.status as i32,
        visibility: options.visibility as i32,
        ..Default::default()
    };
    clients.kb().update_article(bearer(request, &token)?).await?;
    Ok(Outcome::Updated)
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
    fn the_slug_is_the_file_name_under_the_slug_rule() {
        assert_eq!(draft("reset-pin", "x").slug, "reset-pin");
        assert_eq!(draft("Card_Not Working-", "x").slug, "card-not-working");
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
