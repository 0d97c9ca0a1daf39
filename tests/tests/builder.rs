//! The typed builder against a real server: SQL snapshots with and without a
//! schema, schema isolation on a shared pool, every builder on a manager and
//! in a transaction, row mapping errors, and the audit.

use futures_util::TryStreamExt;
use pgdbm::testing::TestDatabase;
use pgdbm::{Database, Error, SharedPool, Table, count_all};

#[derive(Table, Debug, Clone, PartialEq)]
#[pgdbm(table = "users")]
struct User {
    #[pgdbm(primary_key, generated)]
    id: i64,
    email: String,
    name: Option<String>,
    active: bool,
}

#[derive(Table, Debug, Clone, PartialEq)]
#[pgdbm(table = "posts")]
struct Post {
    #[pgdbm(primary_key, generated)]
    id: i64,
    user_id: i64,
    title: String,
}

#[derive(Table, Debug, Clone, PartialEq)]
struct Membership {
    #[pgdbm(primary_key)]
    org: i32,
    #[pgdbm(primary_key)]
    member: i32,
    role: String,
}

fn user(email: &str, name: Option<&str>, active: bool) -> User {
    User {
        id: 0,
        email: email.into(),
        name: name.map(Into::into),
        active,
    }
}

async fn create_tables(db: &Database) {
    db.execute(
        "CREATE TABLE {{tables.users}} (id bigserial PRIMARY KEY, email text NOT NULL UNIQUE,
                                          name text, active bool NOT NULL DEFAULT true)",
        &[],
    )
    .await
    .unwrap();
    db.execute(
        "CREATE TABLE {{tables.posts}} (id bigserial PRIMARY KEY,
             user_id bigint NOT NULL REFERENCES {{tables.users}} (id), title text NOT NULL)",
        &[],
    )
    .await
    .unwrap();
    db.execute(
        "CREATE TABLE {{tables.membership}} (org int, member int, role text NOT NULL,
                                               PRIMARY KEY (org, member))",
        &[],
    )
    .await
    .unwrap();
}

async fn schema_db(schema: &str) -> TestDatabase {
    let schema = schema.to_owned();
    let test = TestDatabase::with_config(move |c| c.with_schema(schema))
        .await
        .unwrap();
    create_tables(&test).await;
    test
}

#[tokio::test]
async fn select_sql_snapshots_with_and_without_schema() {
    let test = TestDatabase::new().await.unwrap();
    let app = test.with_schema("app").unwrap();
    let plain = test.pool().database(None).unwrap();

    let q = app
        .select::<User>()
        .filter(User::ACTIVE.eq(true).and(User::EMAIL.like("%@x.io")))
        .order_by(User::ID.desc())
        .limit(50)
        .offset(10);
    assert_eq!(
        q.to_sql().unwrap(),
        r#"SELECT "app"."users"."id", "app"."users"."email", "app"."users"."name", "app"."users"."active" FROM "app"."users" WHERE "app"."users"."active" = $1 AND "app"."users"."email" LIKE $2 ORDER BY "app"."users"."id" DESC LIMIT $3 OFFSET $4"#
    );
    let q = plain.select::<User>().filter(User::ID.eq(1));
    assert_eq!(
        q.to_sql().unwrap(),
        r#"SELECT "users"."id", "users"."email", "users"."name", "users"."active" FROM "users" WHERE "users"."id" = $1"#
    );
    let q = app
        .select::<User>()
        .columns((User::ID, User::NAME))
        .filter(User::NAME.is_null().or(User::ID.is_in([1, 2])).not());
    assert_eq!(
        q.to_sql().unwrap(),
        r#"SELECT "app"."users"."id", "app"."users"."name" FROM "app"."users" WHERE NOT ("app"."users"."name" IS NULL OR "app"."users"."id" = ANY($1))"#
    );
    let q = app
        .select::<Post>()
        .join::<User>(Post::USER_ID.eq_col(User::ID))
        .filter(User::ACTIVE.eq(true))
        .group_by(Post::USER_ID)
        .having(count_all().gt(1))
        .columns((Post::USER_ID,));
    assert_eq!(
        q.to_sql().unwrap(),
        r#"SELECT "app"."posts"."user_id" FROM "app"."posts" INNER JOIN "app"."users" ON "app"."posts"."user_id" = "app"."users"."id" WHERE "app"."users"."active" = $1 GROUP BY "app"."posts"."user_id" HAVING COUNT(*) > $2"#
    );
    let q = app
        .select::<Post>()
        .left_join::<User>(Post::USER_ID.eq_col(User::ID))
        .filter(User::ID.between(1, 9));
    assert!(
        q.to_sql()
            .unwrap()
            .contains(r#"LEFT JOIN "app"."users" ON"#)
    );
    assert!(
        q.to_sql()
            .unwrap()
            .contains(r#""app"."users"."id" BETWEEN $1 AND $2"#)
    );
}

#[tokio::test]
async fn write_sql_snapshots_and_a_schema_that_needs_quoting() {
    let test = TestDatabase::new().await.unwrap();
    let odd = test.with_schema(r#"Odd "Schema"; --"#).unwrap();
    let row = user("a@x.io", None, true);
    assert_eq!(
        odd.insert(&row).to_sql().unwrap(),
        r#"INSERT INTO "Odd ""Schema""; --"."users" ("email", "name", "active") VALUES ($1, $2, $3)"#
    );
    let app = test.with_schema("app").unwrap();
    assert_eq!(
        app.insert(&row)
            .on_conflict(User::EMAIL)
            .do_update((User::NAME, User::ACTIVE))
            .to_sql()
            .unwrap(),
        r#"INSERT INTO "app"."users" ("email", "name", "active") VALUES ($1, $2, $3) ON CONFLICT ("email") DO UPDATE SET "name" = "excluded"."name", "active" = "excluded"."active""#
    );
    assert_eq!(
        app.insert(&row)
            .on_conflict(User::EMAIL)
            .do_nothing()
            .to_sql()
            .unwrap(),
        r#"INSERT INTO "app"."users" ("email", "name", "active") VALUES ($1, $2, $3) ON CONFLICT ("email") DO NOTHING"#
    );
    assert_eq!(
        app.update::<User>()
            .set(User::NAME, None)
            .set(User::ACTIVE, false)
            .filter(User::ID.gt(5))
            .to_sql()
            .unwrap(),
        r#"UPDATE "app"."users" SET "name" = $1, "active" = $2 WHERE "app"."users"."id" > $3"#
    );
    assert_eq!(
        app.delete::<User>()
            .filter(User::EMAIL.ilike("%OLD%"))
            .to_sql()
            .unwrap(),
        r#"DELETE FROM "app"."users" WHERE "app"."users"."email" ILIKE $1"#
    );
    assert_eq!(
        odd.select::<User>()
            .filter(User::ID.eq(1))
            .to_sql()
            .unwrap(),
        r#"SELECT "Odd ""Schema""; --"."users"."id", "Odd ""Schema""; --"."users"."email", "Odd ""Schema""; --"."users"."name", "Odd ""Schema""; --"."users"."active" FROM "Odd ""Schema""; --"."users" WHERE "Odd ""Schema""; --"."users"."id" = $1"#
    );
}

#[tokio::test]
async fn every_builder_on_a_manager() {
    let test = schema_db("shop").await;
    let db: &Database = &test;

    let alice = db
        .insert(&user("alice@x.io", Some("Alice"), true))
        .returning::<User>()
        .one()
        .await
        .unwrap();
    assert!(alice.id > 0);
    assert_eq!(alice.name.as_deref(), Some("Alice"));
    let more = vec![
        user("bob@x.io", None, true),
        user("carol@x.io", Some("Carol"), false),
    ];
    assert_eq!(db.insert_many(&more).await.unwrap(), 2);

    let all: Vec<User> = db
        .select::<User>()
        .order_by(User::ID.asc())
        .all()
        .await
        .unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[1].email, "bob@x.io");
    assert_eq!(all[1].name, None);

    let active = db
        .select::<User>()
        .filter(User::ACTIVE.eq(true))
        .count()
        .await
        .unwrap();
    assert_eq!(active, 2);
    assert!(
        db.select::<User>()
            .filter(User::EMAIL.eq("carol@x.io"))
            .exists()
            .await
            .unwrap()
    );
    assert!(
        !db.select::<User>()
            .filter(User::EMAIL.eq("nobody@x.io"))
            .exists()
            .await
            .unwrap()
    );

    let one = db
        .select::<User>()
        .filter(User::EMAIL.eq("bob@x.io"))
        .one()
        .await
        .unwrap();
    assert_eq!(one.email, "bob@x.io");
    assert!(matches!(
        db.select::<User>().filter(User::ID.lt(0)).one().await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        db.select::<User>().one().await,
        Err(Error::TooManyRows(_))
    ));
    assert_eq!(
        db.select::<User>()
            .filter(User::ID.lt(0))
            .optional()
            .await
            .unwrap(),
        None
    );

    let pairs: Vec<(i64, Option<String>)> = db
        .select::<User>()
        .columns((User::ID, User::NAME))
        .order_by(User::ID.asc())
        .limit(2)
        .offset(1)
        .all()
        .await
        .unwrap();
    assert_eq!(
        pairs,
        vec![(all[1].id, None), (all[2].id, Some("Carol".into()))]
    );

    let found = db.find::<User>(&alice.id).await.unwrap();
    assert_eq!(found.as_ref(), Some(&alice));
    assert_eq!(db.find::<User>(&-1).await.unwrap(), None);

    let streamed: Vec<User> = db
        .select::<User>()
        .order_by(User::ID.asc())
        .stream()
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(streamed, all);

    // Join, group, having.
    for (uid, title) in [(alice.id, "a1"), (alice.id, "a2"), (all[1].id, "b1")] {
        db.insert(&Post {
            id: 0,
            user_id: uid,
            title: title.into(),
        })
        .await
        .unwrap();
    }
    let prolific: Vec<(i64,)> = db
        .select::<Post>()
        .join::<User>(Post::USER_ID.eq_col(User::ID))
        .filter(User::ACTIVE.eq(true))
        .group_by(Post::USER_ID)
        .having(count_all().ge(2))
        .columns((Post::USER_ID,))
        .all()
        .await
        .unwrap();
    assert_eq!(prolific, vec![(alice.id,)]);

    // Upserts.
    let dup = user("alice@x.io", Some("Alicia"), false);
    assert_eq!(
        db.insert(&dup)
            .on_conflict(User::EMAIL)
            .do_nothing()
            .await
            .unwrap(),
        0
    );
    let upserted = db
        .insert(&dup)
        .on_conflict(User::EMAIL)
        .do_update((User::NAME,))
        .returning::<User>()
        .one()
        .await
        .unwrap();
    assert_eq!(upserted.id, alice.id);
    assert_eq!(upserted.name.as_deref(), Some("Alicia"));
    assert!(upserted.active, "active was not in the update list");

    // Updates.
    let n = db
        .update::<User>()
        .set(User::ACTIVE, false)
        .filter(User::EMAIL.like("%@x.io"))
        .filter(User::NAME.is_not_null())
        .await
        .unwrap();
    assert_eq!(n, 2);
    let renamed: Vec<User> = db
        .update::<User>()
        .set(User::NAME, Some("Bobby".to_string()))
        .filter(User::EMAIL.eq("bob@x.io"))
        .returning::<User>()
        .await
        .unwrap();
    assert_eq!(renamed[0].name.as_deref(), Some("Bobby"));
    let mut carol = db
        .select::<User>()
        .filter(User::EMAIL.eq("carol@x.io"))
        .one()
        .await
        .unwrap();
    carol.name = None;
    carol.active = true;
    assert_eq!(db.update_row(&carol).await.unwrap(), 1);
    assert_eq!(
        db.find::<User>(&carol.id).await.unwrap(),
        Some(carol.clone())
    );

    // Deletes.
    db.delete::<Post>().await.unwrap();
    assert_eq!(db.delete_row(&carol).await.unwrap(), 1);
    let gone: Vec<User> = db
        .delete::<User>()
        .filter(User::EMAIL.eq("bob@x.io"))
        .returning::<User>()
        .await
        .unwrap();
    assert_eq!(gone.len(), 1);
    assert_eq!(db.select::<User>().count().await.unwrap(), 1);

    // Composite keys.
    let m = Membership {
        org: 1,
        member: 2,
        role: "admin".into(),
    };
    db.insert(&m).await.unwrap();
    assert_eq!(
        db.find::<Membership>(&(1, 2)).await.unwrap(),
        Some(m.clone())
    );
    assert_eq!(db.find::<Membership>(&(2, 1)).await.unwrap(), None);
}

#[tokio::test]
async fn builders_inside_a_transaction_commit_and_roll_back_with_it() {
    let test = schema_db("txs").await;
    let tx = test.transaction().await.unwrap();
    tx.insert(&user("t@x.io", None, true)).await.unwrap();
    assert_eq!(tx.select::<User>().count().await.unwrap(), 1);
    tx.update::<User>()
        .set(User::NAME, Some("T".to_string()))
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(test.select::<User>().count().await.unwrap(), 0);

    let mut tx = test.transaction().await.unwrap();
    let saved = tx
        .insert(&user("u@x.io", None, true))
        .returning::<User>()
        .one()
        .await
        .unwrap();
    {
        let sp = tx.transaction().await.unwrap();
        sp.delete_row(&saved).await.unwrap();
        assert_eq!(sp.select::<User>().count().await.unwrap(), 0);
    }
    assert_eq!(
        tx.find::<User>(&saved.id).await.unwrap(),
        Some(saved.clone())
    );
    tx.commit().await.unwrap();
    assert_eq!(test.select::<User>().count().await.unwrap(), 1);

    let mut conn = test.acquire().await.unwrap();
    assert_eq!(conn.select::<User>().count().await.unwrap(), 1);
    let tx = conn.transaction().await.unwrap();
    tx.delete::<User>().await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(test.select::<User>().count().await.unwrap(), 0);
}

#[tokio::test]
async fn two_schemas_on_one_shared_pool_keep_to_their_own_tables() {
    let test = TestDatabase::new().await.unwrap();
    let pool = SharedPool::connect(test.config().clone()).await.unwrap();
    let north = pool.database(Some("north")).unwrap();
    let south = pool.database(Some("south")).unwrap();
    for db in [&north, &south] {
        db.create_schema().await.unwrap();
        create_tables(db).await;
    }
    // The same builder code, run on each manager.
    async fn register(db: &Database, email: &str) -> User {
        db.insert(&user(email, None, true))
            .returning::<User>()
            .one()
            .await
            .unwrap()
    }
    register(&north, "n1@x.io").await;
    register(&north, "n2@x.io").await;
    register(&south, "s1@x.io").await;

    let emails = |users: Vec<User>| users.into_iter().map(|u| u.email).collect::<Vec<_>>();
    let n = north
        .select::<User>()
        .order_by(User::ID.asc())
        .all()
        .await
        .unwrap();
    let s = south
        .select::<User>()
        .order_by(User::ID.asc())
        .all()
        .await
        .unwrap();
    assert_eq!(emails(n), ["n1@x.io", "n2@x.io"]);
    assert_eq!(emails(s), ["s1@x.io"]);

    assert_eq!(south.delete::<User>().await.unwrap(), 1);
    assert_eq!(north.select::<User>().count().await.unwrap(), 2);
    let raw: i64 = test
        .fetch_value("SELECT count(*) FROM north.users", &[])
        .await
        .unwrap();
    assert_eq!(raw, 2);
    pool.close().await;
}

#[tokio::test]
async fn audit_rejects_a_hand_built_statement_with_an_unqualified_table() {
    use pgdbm::sea_query::{Alias, Expr, ExprTrait, Query};
    let test = schema_db("audited").await;
    test.insert(&user("keep@x.io", None, true)).await.unwrap();

    let unqualified = Query::delete()
        .from_table(Alias::new("users"))
        .and_where(Expr::col(Alias::new("id")).gt(0))
        .to_owned();
    match test.run(&unqualified).await {
        Err(Error::UnqualifiedTable(e)) => {
            assert_eq!(e.table, "users");
            assert_eq!(e.schema, "audited");
        }
        other => panic!("expected UnqualifiedTable, got {other:?}"),
    }
    assert_eq!(test.select::<User>().count().await.unwrap(), 1);

    let qualified = Query::update()
        .table(test.table_ref::<User>())
        .value(Alias::new("name"), "set by run")
        .and_where(Expr::col(Alias::new("email")).eq("keep@x.io"))
        .to_owned();
    assert_eq!(test.run(&qualified).await.unwrap(), 1);
    let name: Option<String> = test
        .fetch_value("SELECT name FROM {{tables.users}}", &[])
        .await
        .unwrap();
    assert_eq!(name.as_deref(), Some("set by run"));
}

#[tokio::test]
async fn fetch_as_models_tuples_and_mapping_errors() {
    let test = schema_db("mapping").await;
    test.insert_many(&[user("a@x.io", Some("A"), true), user("b@x.io", None, false)])
        .await
        .unwrap();

    #[derive(pgdbm::FromRow, Debug, PartialEq)]
    struct Summary {
        #[pgdbm(column = "email")]
        address: String,
        n: i64,
    }
    let rows: Vec<Summary> = test
        .fetch_all_as(
            "SELECT email, count(*) AS n FROM {{tables.users}} GROUP BY email ORDER BY email",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        rows,
        [
            Summary {
                address: "a@x.io".into(),
                n: 1
            },
            Summary {
                address: "b@x.io".into(),
                n: 1
            },
        ]
    );
    let first: Option<User> = test
        .fetch_as("SELECT * FROM {{tables.users}} ORDER BY id", &[])
        .await
        .unwrap();
    assert_eq!(first.unwrap().email, "a@x.io");
    let tuples: Vec<(String, bool)> = test
        .fetch_all_as(
            "SELECT email, active FROM {{tables.users}} ORDER BY id",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(tuples[1], ("b@x.io".to_string(), false));

    // A column of the wrong SQL type for the field.
    let err = test
        .fetch_all_as::<Summary>("SELECT email, 'x'::text AS n FROM {{tables.users}}", &[])
        .await
        .unwrap_err();
    match err {
        Error::RowMapping(e) => {
            assert_eq!(e.column, "n");
            assert_eq!(e.expected, "i64");
            assert!(e.found.contains("text"), "{}", e.found);
        }
        other => panic!("expected RowMapping, got {other:?}"),
    }
    // A missing column.
    let err = test
        .fetch_all_as::<Summary>("SELECT email FROM {{tables.users}}", &[])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::RowMapping(e) if e.column == "n"),
        "{err:?}"
    );
    // NULL into a non-Option field.
    let err = test
        .fetch_all_as::<(String, String)>(
            "SELECT email, name FROM {{tables.users}} ORDER BY id",
            &[],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::RowMapping(e) if e.found.contains("NULL")),
        "{err:?}"
    );
}

#[tokio::test]
async fn insert_many_is_chunked_under_the_parameter_limit_and_atomic() {
    let test = schema_db("bulk").await;
    // 3 columns x 30,000 rows = 90,000 parameters: two statements.
    let rows: Vec<User> = (0..30_000)
        .map(|i| user(&format!("u{i}@x.io"), None, i % 2 == 0))
        .collect();
    assert_eq!(test.insert_many(&rows).await.unwrap(), 30_000);
    assert_eq!(test.select::<User>().count().await.unwrap(), 30_000);

    // A duplicate in the second chunk: nothing of the batch stays.
    let mut again: Vec<User> = (0..30_000)
        .map(|i| user(&format!("v{i}@x.io"), None, true))
        .collect();
    again[29_999].email = "u0@x.io".into();
    let err = test.insert_many(&again).await.unwrap_err();
    assert!(matches!(err, Error::UniqueViolation(_)), "{err:?}");
    assert_eq!(test.select::<User>().count().await.unwrap(), 30_000);
}

#[tokio::test]
async fn a_wrong_type_never_reaches_the_protocol() {
    // Values are bound as the field's exact Rust type and tokio-postgres
    // checks them: an i32 field against a bigint column is a typed error,
    // and the connection stays usable.
    #[derive(Table, Debug)]
    #[pgdbm(table = "users")]
    struct NarrowUser {
        #[pgdbm(primary_key)]
        id: i32,
        email: String,
    }
    let test = schema_db("narrow").await;
    let err = test
        .insert(&NarrowUser {
            id: 1,
            email: "n@x.io".into(),
        })
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Parameter(_)), "{err:?}");
    // The message says why, not only which parameter.
    let message = err.to_string();
    assert!(
        message.contains("i32") && message.contains("int8"),
        "{message}"
    );
    assert_eq!(test.select::<User>().count().await.unwrap(), 0);
}

#[tokio::test]
async fn subqueries_and_the_remaining_forms_are_qualified() {
    let test = schema_db("subq").await;
    let app = test.db();
    let q = app
        .select::<User>()
        .filter(User::ID.in_subquery(Post::USER_ID, Some(Post::TITLE.like("%rust%"))));
    assert_eq!(
        q.to_sql().unwrap(),
        r#"SELECT "subq"."users"."id", "subq"."users"."email", "subq"."users"."name", "subq"."users"."active" FROM "subq"."users" WHERE "subq"."users"."id" IN (SELECT "subq"."posts"."user_id" FROM "subq"."posts" WHERE "subq"."posts"."title" LIKE $1)"#
    );
    let q = app
        .select::<User>()
        .filter(User::ACTIVE.eq(true))
        .filter(User::ID.not_in_subquery(Post::USER_ID, None));
    assert_eq!(
        q.to_sql().unwrap(),
        r#"SELECT "subq"."users"."id", "subq"."users"."email", "subq"."users"."name", "subq"."users"."active" FROM "subq"."users" WHERE "subq"."users"."active" = $1 AND "subq"."users"."id" NOT IN (SELECT "subq"."posts"."user_id" FROM "subq"."posts")"#
    );
    let rows = vec![user("a@x.io", None, true), user("b@x.io", None, true)];
    assert_eq!(
        app.insert_many(&rows).to_sql().unwrap(),
        r#"INSERT INTO "subq"."users" ("email", "name", "active") VALUES ($1, $2, $3)"#,
        "to_sql shows the statement for one row"
    );
    assert_eq!(
        app.delete::<Post>().to_sql().unwrap(),
        r#"DELETE FROM "subq"."posts""#
    );

    // And they run: only the author of a matching post comes back.
    let saved = app.insert_many(&rows).await.unwrap();
    assert_eq!(saved, 2);
    let a = app
        .select::<User>()
        .filter(User::EMAIL.eq("a@x.io"))
        .one()
        .await
        .unwrap();
    app.insert(&Post {
        id: 0,
        user_id: a.id,
        title: "rust in production".into(),
    })
    .await
    .unwrap();
    let writers: Vec<User> = app
        .select::<User>()
        .filter(User::ID.in_subquery(Post::USER_ID, Some(Post::TITLE.like("%rust%"))))
        .all()
        .await
        .unwrap();
    assert_eq!(writers, vec![a.clone()]);
    let silent = app
        .select::<User>()
        .filter(User::ID.not_in_subquery(Post::USER_ID, None))
        .count()
        .await
        .unwrap();
    assert_eq!(silent, 1);
    let exists = app
        .select::<User>()
        .filter(User::ID.in_subquery(Post::USER_ID, Some(Post::TITLE.eq("nothing"))))
        .exists()
        .await
        .unwrap();
    assert!(!exists);
}
