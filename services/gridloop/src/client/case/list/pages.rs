//! Reading the case list a page at a time, over one or several state filters.
//!
//! `ListCases` filters by one state; the open work in priority order is six states (every one
//! but closed and rejected), so it is read as one list per state, merged in the server's order.
//! Where the merged page ends, each state's list has its own position: the CLI's page token
//! carries them all (the server's token of the page each one is in, and how many rows of that
//! page were shown), with the query it belongs to, so a token is never applied to another query.

use super::{OrderArg, StateArg};
use crate::client::output::{enum_arg, enum_json};
use crate::client::rpc::Server;
use anyhow::{bail, Context, Result};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use clap::ValueEnum;
use gridloop_proto::v1 as pb;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;

/// What a listing reads: the order, the area, and the states (one list per state; `None`: one
/// list of every state).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub order: OrderArg,
    pub area: String,
    pub states: Vec<Option<StateArg>>,
    /// Read your own writes: list once the server has this case at this version (empty, 0:
    /// as it is).
    pub after: (String, u64),
}

/// One page of the listing, and the token of the next one when more rows follow.
pub struct Page {
    pub cases: Vec<pb::CaseSummary>,
    pub next_page_token: Option<String>,
}

/// The CLI's page token, decoded: where each state's list continues, for which query.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct PageToken {
    order: String,
    area: String,
    cursors: Vec<Cursor>,
}

/// Where one state's list continues: the server's token of the page holding the next row
/// (empty: the first page) and how many rows of that page come before it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Cursor {
    state: Option<String>,
    token: String,
    skip: usize,
}

impl Query {
    /// The next `limit` cases after `page_token` (from the start without one).
    pub async fn page(&self, server: &Server, limit: usize, page_token: Option<&str>) -> Result<Page> {
        let cursors = match page_token {
            Some(token) => self.cursors_of(token)?,
            None => self
                .states
                .iter()
                .map(|state| Cursor { state: state_name(*state), token: String::new(), skip: 0 })
                .collect(),
        };
        let mut lists: Vec<StateList> =
            self.states.iter().zip(cursors).map(|(state, cursor)| StateList::at(*state, cursor)).collect();
        let mut cases = Vec::with_capacity(limit);
        while cases.len() < limit {
            for list in &mut lists {
                list.fill(self, server, limit).await?;
            }
            let next = lists
                .iter()
                .enumerate()
                .filter_map(|(i, list)| Some((i, list.head()?)))
                .min_by(|(_, a), (_, b)| self.compare(a, b))
                .map(|(i, _)| i);
            let Some(i) = next else { break };
            cases.push(lists[i].take());
        }
        // Whether any row follows the page (possibly one more request per list).
        for list in &mut lists {
            list.fill(self, server, 1).await?;
        }
        let more = lists.iter().any(|list| list.head().is_some());
        let next_page_token = more.then(|| self.token(lists.iter().map(|list| list.cursor.clone()).collect()));
        Ok(Page { cases, next_page_token })
    }

    /// The server's order: newest opened first, or highest priority first and oldest first
    /// within a priority; ties by case id.
    fn compare(&self, a: &pb::CaseSummary, b: &pb::CaseSummary) -> Ordering {
        let opened = |c: &pb::CaseSummary| c.opened_at.map(|t| (t.seconds, t.nanos));
        let order = match self.order {
            OrderArg::Newest => opened(b).cmp(&opened(a)),
            OrderArg::Priority => b.priority.cmp(&a.priority).then_with(|| opened(a).cmp(&opened(b))),
        };
        order.then_with(|| a.case_id.cmp(&b.case_id))
    }

    fn order_name(&self) -> String {
        self.order.to_possible_value().map(|v| v.get_name().to_string()).unwrap_or_default()
    }

    fn token(&self, cursors: Vec<Cursor>) -> String {
        let token = PageToken { order: self.order_name(), area: self.area.clone(), cursors };
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&token).expect("a page token serializes"))
    }

    /// The cursors of a token printed for this same query.
    fn cursors_of(&self, token: &str) -> Result<Vec<Cursor>> {
        let decoded: PageToken = URL_SAFE_NO_PAD
            .decode(token.trim())
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .context("--page-token: not a token printed by `gridloop case list`")?;
        let states: Vec<Option<String>> = self.states.iter().map(|s| state_name(*s)).collect();
        let token_states: Vec<Option<String>> = decoded.cursors.iter().map(|c| c.state.clone()).collect();
        if decoded.order != self.order_name() || decoded.area != self.area || token_states != states {
            bail!(
                "--page-token belongs to another listing: repeat it with the same --order, --area, --state and --all"
            );
        }
        Ok(decoded.cursors)
    }
}

fn state_name(state: Option<StateArg>) -> Option<String> {
    state.and_then(|s| enum_json::<pb::CaseState>(enum_arg::<pb::CaseState>(&s)).as_str().map(str::to_string))
}

/// One state's list, read from the evaluation service a page at a time.
struct StateList {
    state: Option<StateArg>,
    /// The position of the next row: `cursor.token` is the page loaded into `rows` (once
    /// `next_token` is known), `cursor.skip` the index of the next row in it.
    cursor: Cursor,
    rows: Vec<pb::CaseSummary>,
    /// The server's token after the loaded page: `None` before it is loaded, empty at the end.
    next_token: Option<String>,
}

impl StateList {
    fn at(state: Option<StateArg>, cursor: Cursor) -> Self {
        Self { state, cursor, rows: Vec::new(), next_token: None }
    }

    /// Loads pages until the next row is at hand or the list has ended; `wanted` rows after the
    /// cursor are asked for at once.
    async fn fill(&mut self, query: &Query, server: &Server, wanted: usize) -> Result<()> {
        loop {
            match &self.next_token {
                None => {
                    let request = pb::ListCasesRequest {
                        state: self.state.as_ref().map_or(0, enum_arg::<pb::CaseState>),
                        area: query.area.clone(),
                        page_size: u32::try_from(self.cursor.skip + wanted).unwrap_or(u32::MAX),
                        page_token: self.cursor.token.clone(),
                        order: enum_arg::<pb::CaseOrder>(&query.order),
                        min_case_id: query.after.0.clone(),
                        min_version: query.after.1,
                        ..pb::ListCasesRequest::default()
                    };
                    let page =
                        server.evaluation().list_cases(request).await.map_err(server.fail("ListCases"))?.into_inner();
                    self.rows = page.cases;
                    self.next_token = Some(page.next_page_token);
                }
                // The page is used up (or held fewer rows than the cursor skips): on to the next.
                Some(next) if self.cursor.skip >= self.rows.len() && !next.is_empty() => {
                    self.cursor = Cursor {
                        state: self.cursor.state.take(),
                        token: next.clone(),
                        skip: self.cursor.skip - self.rows.len(),
                    };
                    self.rows.clear();
                    self.next_token = None;
                }
                Some(_) => return Ok(()),
            }
        }
    }

    fn head(&self) -> Option<&pb::CaseSummary> {
        self.next_token.as_ref().and(self.rows.get(self.cursor.skip))
    }

    fn take(&mut self) -> pb::CaseSummary {
        let row = std::mem::take(&mut self.rows[self.cursor.skip]);
        self.cursor.skip += 1;
        row
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(id: &str, priority: u32, opened: i64) -> pb::CaseSummary {
        pb::CaseSummary {
            case_id: id.into(),
            priority,
            opened_at: Some(prost_types::Timestamp { seconds: opened, nanos: 0 }),
            ..Default::default()
        }
    }

    fn query(order: OrderArg) -> Query {
        Query {
            order,
            area: "321012".into(),
            states: vec![Some(StateArg::Dispatched), Some(StateArg::Accepted)],
            after: (String::new(), 0),
        }
    }

    #[test]
    fn merging_follows_the_servers_order() {
        let mut cases = [summary("c", 10, 300), summary("a", 30, 200), summary("b", 10, 100), summary("d", 10, 100)];
        cases.sort_by(|a, b| query(OrderArg::Priority).compare(a, b));
        let ids: Vec<&str> = cases.iter().map(|c| c.case_id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "d", "c"], "priority first, then oldest, then id");
        cases.sort_by(|a, b| query(OrderArg::Newest).compare(a, b));
        let ids: Vec<&str> = cases.iter().map(|c| c.case_id.as_str()).collect();
        assert_eq!(ids, ["c", "a", "b", "d"], "newest opened first, then id");
    }

    #[test]
    fn a_token_goes_back_to_the_query_that_printed_it() {
        let q = query(OrderArg::Priority);
        let cursors = vec![
            Cursor { state: Some("dispatched".into()), token: "100".into(), skip: 3 },
            Cursor { state: Some("accepted".into()), token: String::new(), skip: 7 },
        ];
        let token = q.token(cursors.clone());
        assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{token}");
        assert_eq!(q.cursors_of(&token).unwrap(), cursors);

        let other_area = Query { area: "321013".into(), ..q.clone() };
        let error = other_area.cursors_of(&token).unwrap_err().to_string();
        assert!(error.contains("another listing"), "{error}");
        let other_states = Query { states: vec![None], ..q.clone() };
        assert!(other_states.cursors_of(&token).is_err());
        assert!(query(OrderArg::Newest).cursors_of(&token).is_err());
        let error = q.cursors_of("50").unwrap_err().to_string();
        assert!(error.contains("not a token printed by `gridloop case list`"), "{error}");
    }
}
