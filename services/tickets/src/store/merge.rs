//! Contacts identity merged (`ContactsMerged`): everything tickets keys by the merged contact
//! moves to the surviving one — its tickets (which also take the survivor's group where they had
//! none, as if she had filed them) and the authorship of its messages on them — and the merge is
//! remembered, so whatever is still filed in the old contact's name (the inbound consumer caches
//! senders for a minute; a token lives a few minutes) lands with the survivor.
//!
//! A merge and a filing for the same contact cannot cross: filing takes the contact's merge lock
//! shared before it reads the merge table, a merge takes it exclusively before it moves anything.
//! So a filing either finished before the merge (and is moved by it) or reads the merge (and
//! files under the survivor). Applying a merge again changes nothing.

use sqlx::PgConnection;
use uuid::Uuid;

use super::{Author, Store};

/// The first key of the advisory lock per contact (the second is the contact id's hash).
const MERGE_LOCK: i32 = 0x6d72_6765;

async fn lock(conn: &mut PgConnection, contact: Uuid, exclusive: bool) -> sqlx::Result<()> {
    let sql = if exclusive {
        "SELECT pg_advisory_xact_lock($1, hashtext($2::text))"
    } else {
        "SELECT pg_advisory_xact_lock_shared($1, hashtext($2::text))"
    };
    sqlx::query(sql).bind(MERGE_LOCK).bind(contact).execute(conn).await?;
    Ok(())
}

/// The contact whatever is filed in `contact`'s name belongs to: the one it was merged into, or
/// itself. Holds the merge lock shared until the caller's transaction ends.
pub(super) async fn surviving(conn: &mut PgConnection, contact: Uuid) -> sqlx::Result<Uuid> {
    lock(conn, contact, false).await?;
    let into: Option<Uuid> = sqlx::query_scalar("SELECT into_id FROM merged_contacts WHERE from_id = $1")
        .bind(contact)
        .fetch_optional(conn)
        .await?;
    Ok(into.unwrap_or(contact))
}

/// A message's author as it is stored: a merged contact's messages are the survivor's.
pub(super) async fn surviving_author(conn: &mut PgConnection, author: Author) -> sqlx::Result<Author> {
    Ok(match author {
        Author::Contact(contact) => Author::Contact(surviving(conn, contact).await?),
        other => other,
    })
}

impl Store {
    /// Moves `from`'s tickets and message authorship to `into` and remembers the merge (earlier
    /// merges into `from` now point at `into`). Returns how many tickets moved.
    #[tracing::instrument(skip(self), err)]
    pub async fn merge_contacts(&self, from: Uuid, into: Uuid) -> sqlx::Result<u64> {
        let mut tx = self.pool.begin().await?;
        lock(&mut tx, from, true).await?;
        sqlx::query(
            "INSERT INTO merged_contacts (from_id, into_id) VALUES ($1, $2)
             ON CONFLICT (from_id) DO UPDATE SET into_id = EXCLUDED.into_id",
        )
        .bind(from)
        .bind(into)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE merged_contacts SET into_id = $2 WHERE into_id = $1")
            .bind(from)
            .bind(into)
            .execute(&mut *tx)
            .await?;
        let moved: Vec<Uuid> = sqlx::query_scalar(
            "UPDATE tickets SET contact_id = $2, group_id = coalesce(group_id,
                 (SELECT gm.group_id FROM group_members gm WHERE gm.contact_id = $2 ORDER BY gm.group_id LIMIT 1))
             WHERE contact_id = $1 RETURNING id",
        )
        .bind(from)
        .bind(into)
        .fetch_all(&mut *tx)
        .await?;
        // Only on the tickets that moved: a merged contact is normally known from one channel
        // and wrote nowhere else, and this keeps the update on the messages' ticket index.
        sqlx::query("UPDATE messages SET author_id = $2 WHERE ticket_id = ANY ($3) AND author_kind = 1 AND author_id = $1")
            .bind(from.to_string())
            .bind(into.to_string())
            .bind(&moved)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(moved.len() as u64)
    }
}
