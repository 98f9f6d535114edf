//! `ingenio_postgres::sql::query` keeps one prepared statement per text and connection (diesel's
//! `sql_query` prepares again on every execution), and binds and reads rows like `sql_query`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use diesel::sql_types::{BigInt, Integer, Nullable, Text};
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;
use ingenio_postgres::sql;
use ingenio_postgres::tls::establish;
use ingenio_testkit::db::database_url;
use proptest::prelude::*;
use proptest::strategy::ValueTree;

#[derive(QueryableByName, Debug, PartialEq)]
struct Echo {
    #[diesel(sql_type = Integer)]
    n: i32,
    #[diesel(sql_type = Nullable<Text>)]
    t: Option<String>,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    c: i64,
}

const ECHO: &str = "SELECT $1::int AS n, $2::text AS t";

async fn prepared(conn: &mut diesel_async::AsyncPgConnection, text: &str) -> i64 {
    diesel::sql_query("SELECT count(*) AS c FROM pg_prepared_statements WHERE statement = $1")
        .bind::<Text, _>(text)
        .get_result::<Count>(conn)
        .await
        .unwrap()
        .c
}

#[tokio::test]
async fn one_prepared_statement_per_text_and_the_values_round_trip() {
    let mut conn = establish(&database_url("postgres")).await.unwrap();
    assert_eq!(prepared(&mut conn, ECHO).await, 0);
    // NUL is excluded: PostgreSQL text cannot hold it (the HTTP layer refuses it earlier)
    let texts = proptest::collection::vec(
        proptest::option::of(any::<String>().prop_map(|s| s.replace('\0', ""))),
        20,
    );
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let values = texts.new_tree(&mut runner).unwrap().current();
    for (i, t) in values.into_iter().enumerate() {
        let n = i32::try_from(i).unwrap() - 10;
        let got: Echo = sql::query(ECHO)
            .bind::<Integer, _>(n)
            .bind::<Nullable<Text>, _>(t.clone())
            .get_result(&mut conn)
            .await
            .unwrap();
        assert_eq!(got, Echo { n, t });
    }
    assert_eq!(prepared(&mut conn, ECHO).await, 1);
    // the uncached form leaves nothing behind, which is what made every call prepare again
    let other = "SELECT $1::int AS n, NULL::text AS t";
    let _: Echo = diesel::sql_query(other)
        .bind::<Integer, _>(1)
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(prepared(&mut conn, other).await, 0);
}
