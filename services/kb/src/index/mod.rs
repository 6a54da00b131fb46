//! The search index: tantivy, in memory, one per kb instance. It holds every article (drafts and
//! internal ones too) with the audiences that may read it, so one index serves every caller and a
//! query filters by the caller's audience. It is rebuilt from Postgres at start and then kept
//! current from the service's own `ArticleChanged` events (see `events`), which is what makes
//! several replicas agree; Postgres stays the source of truth and the index can always be thrown
//! away. In memory because rebuilding is fast (10,000 articles in well under a minute) and it
//! spares a volume per replica.

mod analysis;
mod query;
mod rerank;
mod semantic;
pub mod vectors;

use std::sync::{Arc, Mutex};

use tantivy::{
    Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term,
    collector::TopDocs,
    schema::{FAST, Field, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions, Value},
};
use uuid::Uuid;

use crate::domain::{Audience, Status, Visibility, highlight_snippet};
pub use query::Mode;
use semantic::{ArticleMeaning, QueryMeaning};
pub use vectors::WordVectors;

/// How long a snippet is, in bytes of text.
const SNIPPET_BYTES: usize = 160;
/// Memory the writer may buffer before it flushes a segment (tantivy's minimum is 15 MB).
const WRITER_MEMORY: usize = 50_000_000;

/// What the index needs of an article.
#[derive(Debug, Clone)]
pub struct IndexedArticle {
    pub id: Uuid,
    pub slug: String,
    pub title: String,
    /// The body as plain text (`domain::plain_text`).
    pub text: String,
    pub tags: Vec<String>,
    pub status: Status,
    pub visibility: Visibility,
}

/// One change to apply; `Remove` also covers an article that no longer exists.
#[derive(Debug, Clone)]
pub enum Change {
    Upsert(IndexedArticle),
    Remove(Uuid),
}

#[derive(Debug, Clone)]
pub struct IndexHit {
    pub id: Uuid,
    pub slug: String,
    pub title: String,
    pub snippet_html: String,
    pub score: f32,
}

#[derive(Clone, Copy)]
struct Fields {
    id: Field,
    slug: Field,
    title: Field,
    body: Field,
    tags: Field,
    pairs: Field,
    grams: Field,
    audience: Field,
    /// `semantic::ArticleMeaning`, encoded; empty without word vectors.
    meaning: Field,
}

pub struct SearchIndex {
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    fields: Fields,
    vectors: Option<Arc<WordVectors>>,
}

fn text_field(tokenizer: &str, stored: bool) -> TextOptions {
    let options = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(tokenizer)
            .set_index_option(IndexRecordOption::WithFreqs),
    );
    if stored { options.set_stored() } else { options }
}

impl SearchIndex {
    /// An index that ranks by words only.
    pub fn new() -> tantivy::Result<Self> {
        Self::with_word_vectors(None)
    }

    /// An index that also ranks by meaning when given word vectors (see `semantic`).
    pub fn with_word_vectors(vectors: Option<Arc<WordVectors>>) -> tantivy::Result<Self> {
        let mut schema = Schema::builder();
        let fields = Fields {
            id: schema.add_text_field("id", STRING | STORED),
            slug: schema.add_text_field("slug", STORED),
            title: schema.add_text_field("title", text_field(analysis::ENGLISH, true)),
            body: schema.add_text_field("body", text_field(analysis::ENGLISH, true)),
            tags: schema.add_text_field("tags", text_field(analysis::ENGLISH, false)),
            pairs: schema.add_text_field("pairs", text_field(analysis::PAIRS, false)),
            grams: schema.add_text_field("grams", text_field(analysis::PAIRS, false)),
            audience: schema.add_text_field("audience", STRING),
            meaning: schema.add_bytes_field("meaning", FAST),
        };
        let index = Index::create_in_ram(schema.build());
        index.tokenizers().register(analysis::ENGLISH, analysis::english());
        let writer = index.writer_with_num_threads(1, WRITER_MEMORY)?;
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        Ok(Self { reader, writer: Mutex::new(writer), fields, vectors })
    }

    fn document(&self, article: &IndexedArticle) -> TantivyDocument {
        let f = self.fields;
        let mut english = analysis::english();
        let mut doc = TantivyDocument::default();
        doc.add_text(f.id, article.id.to_string());
        doc.add_text(f.slug, &article.slug);
        doc.add_text(f.title, &article.title);
        doc.add_text(f.body, &article.text);
        for tag in &article.tags {
            doc.add_text(f.tags, tag);
        }
        for text in [&article.title, &article.text] {
            let pairs = analysis::pairs(text, &analysis::terms(&mut english, text));
            doc.add_text(f.pairs, pairs);
        }
        let mut literal = analysis::literal();
        for text in [&article.title, &article.text] {
            doc.add_text(f.grams, analysis::grams(&mut literal, text).join(" "));
        }
        for audience in Audience::readers(article.status, article.visibility) {
            doc.add_text(f.audience, audience.token());
        }
        if let Some(vectors) = &self.vectors {
            doc.add_bytes(f.meaning, &ArticleMeaning::of(vectors, &article.title, &article.text).encode());
        }
        doc
    }

    /// Replaces the whole index with `articles` in one commit: searches see the old index until
    /// the new one is complete.
    pub fn replace_all(&self, articles: impl IntoIterator<Item = IndexedArticle>) -> tantivy::Result<usize> {
        let mut writer = self.writer.lock().map_err(|_| poisoned())?;
        writer.delete_all_documents()?;
        let mut count = 0;
        for article in articles {
            writer.add_document(self.document(&article))?;
            count += 1;
        }
        writer.commit()?;
        self.reader.reload()?;
        Ok(count)
    }

    /// Applies changes in one commit. Applying a change twice is harmless.
    pub fn apply(&self, changes: &[Change]) -> tantivy::Result<()> {
        if changes.is_empty() {
            return Ok(());
        }
        let mut writer = self.writer.lock().map_err(|_| poisoned())?;
        for change in changes {
            let id = match change {
                Change::Upsert(article) => article.id,
                Change::Remove(id) => *id,
            };
            writer.delete_term(Term::from_field_text(self.fields.id, &id.to_string()));
            if let Change::Upsert(article) = change {
                writer.add_document(self.document(article))?;
            }
        }
        writer.commit()?;
        self.reader.reload()?;
        Ok(())
    }

    /// Articles matching `text` that `audience` may read, best first.
    pub fn search(&self, text: &str, mode: Mode, audience: Audience, limit: usize) -> tantivy::Result<Vec<IndexHit>> {
        let searcher = self.reader.searcher();
        let f = self.fields;
        let mut plan = query::plan(text, mode);
        let fields = query::Fields {
            title: f.title,
            body: f.body,
            tags: f.tags,
            pairs: f.pairs,
            grams: f.grams,
            audience: f.audience,
            meaning: f.meaning,
        };
        let Some(built) = query::build(&mut plan, &searcher, &fields, audience)? else {
            return Ok(Vec::new());
        };
        // BM25 sums what matched; the second stage adds trigram votes, rewards matching more of
        // the query and weighs in meaning. Only the articles shown are read from the store.
        let candidates = searcher.search(&built, &TopDocs::with_limit(limit.max(rerank::CANDIDATES)).order_by_score())?;
        let mut english = analysis::english();
        let mut literal = analysis::literal();
        let meaning = self.vectors.as_deref().and_then(|vectors| QueryMeaning::of(vectors, text));
        rerank::rerank(&searcher, &plan, &fields, meaning.as_ref(), candidates, limit)?
            .into_iter()
            .map(|(score, address)| {
                let doc: TantivyDocument = searcher.doc(address)?;
                let text_of = |field| doc.get_first(field).and_then(|v| v.as_str()).unwrap_or_default().to_string();
                let body = text_of(f.body);
                let matches = plan.matches(&body, &mut english, &mut literal);
                Ok(IndexHit {
                    id: Uuid::parse_str(&text_of(f.id)).map_err(|e| tantivy::TantivyError::InternalError(e.to_string()))?,
                    slug: text_of(f.slug),
                    title: text_of(f.title),
                    snippet_html: highlight_snippet(&body, &matches, SNIPPET_BYTES),
                    score,
                })
            })
            .collect()
    }

    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn poisoned() -> tantivy::TantivyError {
    tantivy::TantivyError::InternalError("the index writer lock is poisoned".into())
}

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod tests;
