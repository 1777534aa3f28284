//! The boards, kept in memory (issue 12). Building a board reads every entry and, on the
//! main board, runs a paired test per entry against the leader: at 200 entries that is the
//! difference between serving a crowd and falling over. A board changes only when the
//! database does, so each one is built once per `board_generation` (a counter the
//! database's triggers bump on every write to submissions, users or the test-set version)
//! and then served from memory, to every process on the same database alike.
//!
//! Each request reads the counter (one row by primary key). When it moved, the first
//! request rebuilds the board while the others keep getting the previous one; a request
//! that finds no board at all waits for the build. So readers never queue behind a build
//! once a board exists, and a board is never older than the build in progress.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sqlx::{Any, Executor};

use crate::error::AppError;
use crate::leaderboard::{self, Board, BoardKind};
use crate::state::AppState;

/// What a board is built for: which board, its canonical sort key, all entries or not.
type Key = (BoardKind, String, bool);

/// What was rendered from a board (its key and what it is: "page", "json", "plot"), with
/// the generation of the board it was rendered from.
type Rendered = HashMap<(Key, &'static str), (i64, Arc<String>)>;

/// The boards built so far, each with the generation it was built at, and what was
/// rendered from them (the page's table, the JSON), under the same generation.
#[derive(Debug, Default)]
pub struct BoardCache {
    boards: Mutex<HashMap<Key, (i64, Arc<Board>)>>,
    rendered: Mutex<Rendered>,
    building: tokio::sync::Mutex<()>,
}

/// The database's board generation.
pub async fn generation<'e, E: Executor<'e, Database = Any>>(
    executor: E,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("select value from board_generation where id = 1")
        .fetch_one(executor)
        .await
}

impl BoardCache {
    /// The board for `kind`, `sort` (validated first) and `all`, as of the database's
    /// current generation, or the previous one while another request rebuilds it.
    pub async fn board(
        &self,
        state: &AppState,
        kind: BoardKind,
        sort: Option<&str>,
        all: bool,
    ) -> Result<Arc<Board>, AppError> {
        let sort = leaderboard::parse_sort(state, sort)?.to_string();
        Ok(self.board_at(state, (kind, sort, all)).await?.1)
    }

    /// What `render` makes of the board (`what` names it: a page fragment, the JSON),
    /// made once per board and kept with it; with the board itself.
    pub async fn rendered(
        &self,
        state: &AppState,
        kind: BoardKind,
        sort: Option<&str>,
        all: bool,
        what: &'static str,
        render: impl FnOnce(&Board) -> Result<String, AppError>,
    ) -> Result<(Arc<Board>, Arc<String>), AppError> {
        let sort = leaderboard::parse_sort(state, sort)?.to_string();
        let key: Key = (kind, sort, all);
        let (built, board) = self.board_at(state, key.clone()).await?;
        let slot = (key, what);
        {
            let rendered = self.rendered.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((_, text)) = rendered.get(&slot).filter(|(at, _)| *at == built) {
                return Ok((board, text.clone()));
            }
        }
        let text = Arc::new(render(&board)?);
        let mut rendered = self.rendered.lock().unwrap_or_else(|e| e.into_inner());
        if rendered.get(&slot).is_none_or(|(at, _)| *at <= built) {
            rendered.insert(slot, (built, text.clone()));
        }
        Ok((board, text))
    }

    /// The board of `key` with the generation it was built at.
    async fn board_at(&self, state: &AppState, key: Key) -> Result<(i64, Arc<Board>), AppError> {
        let now = generation(state.db.pool()).await?;
        let cached = self.cached(&key);
        match cached {
            Some((built, board)) if built == now => Ok((built, board)),
            Some(stale) => {
                // Someone is building: serve the previous board meanwhile.
                let Ok(_building) = self.building.try_lock() else {
                    return Ok(stale);
                };
                self.build(state, key, now).await
            }
            None => {
                let _building = self.building.lock().await;
                // Built while this request waited?
                if let Some(fresh) = self.cached(&key).filter(|(built, _)| *built >= now) {
                    return Ok(fresh);
                }
                self.build(state, key, now).await
            }
        }
    }

    fn cached(&self, key: &Key) -> Option<(i64, Arc<Board>)> {
        let boards = self.boards.lock().unwrap_or_else(|e| e.into_inner());
        boards.get(key).cloned()
    }

    /// Builds the board and keeps it under `generation`, read before the build: a change
    /// during the build moves the counter past it, and the next request builds again.
    async fn build(
        &self,
        state: &AppState,
        key: Key,
        generation: i64,
    ) -> Result<(i64, Arc<Board>), AppError> {
        let (kind, sort, all) = &key;
        let board = Arc::new(leaderboard::build(state, *kind, Some(sort), *all).await?);
        let mut boards = self.boards.lock().unwrap_or_else(|e| e.into_inner());
        let keep = boards
            .get(&key)
            .is_none_or(|(built, _)| *built <= generation);
        if keep {
            boards.insert(key, (generation, board.clone()));
        }
        Ok((generation, board))
    }
}
