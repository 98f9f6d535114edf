//! Hand-written SQL whose prepared statement is kept per connection.
//!
//! `diesel::sql_query` marks every query "unsafe to cache", so diesel-async prepares it again on
//! each execution: a Parse/Describe round trip and a fresh plan in PostgreSQL before the
//! Bind/Execute one, twice the round trips of the query itself (visible in a CPU profile of
//! `GET /auth/me` as `PrepareCallback::prepare` on every request). The adapter's SQL texts are
//! constants (`format!` only splices other constants and fixed choices such as a sort order), so
//! they are safe to cache by their text, exactly like diesel's own DSL queries: [`query`] is
//! `sql_query` without the opt-out, with the same `.bind::<SqlType, _>(value)` chain.
//!
//! Never build the text from request input: every distinct text is one more prepared statement on
//! every pooled connection.

use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{HasSqlType, Untyped};
use diesel::QueryResult;
use diesel_async::methods::LoadQuery;
use std::marker::PhantomData;

/// A raw SQL text with no binds yet; see the module docs.
#[derive(Debug, Clone)]
#[must_use = "queries run only when loaded or executed"]
pub struct Sql {
    text: String,
}

/// `sql_query` whose prepared statement is cached per connection (module docs).
pub fn query(text: impl Into<String>) -> Sql {
    Sql { text: text.into() }
}

impl Sql {
    pub fn bind<ST, V>(self, value: V) -> Bound<Self, V, ST> {
        Bound {
            query: self,
            value,
            _type: PhantomData,
        }
    }
}

/// [`Sql`] with one more bound parameter (in `$n` order).
#[must_use = "queries run only when loaded or executed"]
pub struct Bound<Q, V, ST> {
    query: Q,
    value: V,
    _type: PhantomData<ST>,
}

impl<Q, V, ST> Bound<Q, V, ST> {
    pub fn bind<ST2, V2>(self, value: V2) -> Bound<Self, V2, ST2> {
        Bound {
            query: self,
            value,
            _type: PhantomData,
        }
    }
}

impl QueryFragment<Pg> for Sql {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(&self.text);
        Ok(())
    }
}

impl<Q, V, ST> QueryFragment<Pg> for Bound<Q, V, ST>
where
    Pg: HasSqlType<ST>,
    Q: QueryFragment<Pg>,
    V: ToSql<ST, Pg>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.query.walk_ast(out.reborrow())?;
        out.push_bind_param_value_only(&self.value)?;
        Ok(())
    }
}

// No static id: the statement cache keys these by their SQL text and bind types.
impl QueryId for Sql {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q, V, ST> QueryId for Bound<Q, V, ST> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for Sql {
    type SqlType = Untyped;
}

impl<Q, V, ST> Query for Bound<Q, V, ST> {
    type SqlType = Untyped;
}

/// Compile-time check that the bound form loads `QueryableByName` rows like `sql_query` does.
#[allow(dead_code)]
fn loads_like_sql_query<'q, U>(
    q: Bound<Sql, ingenio_kernel::uuid::Uuid, diesel::sql_types::Uuid>,
) -> impl LoadQuery<'q, diesel_async::AsyncPgConnection, U>
where
    U: diesel::QueryableByName<Pg> + Send + 'static,
{
    q
}
