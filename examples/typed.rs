//! A tour of the typed builder: `#[derive(Table)]`, typed columns, select,
//! insert, upsert, update, delete, joins, transactions, and two tenants on
//! one shared pool.
//!
//! This crate depends on `pgdbm` and `tokio` only: the derive's generated
//! code needs nothing else. Runs against `DATABASE_URL`, or a throwaway
//! local cluster (through `pgdbm::testing`).

use pgdbm::{Database, SharedPool, Table, count_all};

#[derive(Table, Debug, Clone, PartialEq)]
#[pgdbm(table = "authors")]
struct Author {
    #[pgdbm(primary_key, generated)]
    id: i64,
    name: String,
    email: Option<String>,
}

#[derive(Table, Debug, Clone, PartialEq)]
#[pgdbm(table = "books")]
struct Book {
    #[pgdbm(primary_key, generated)]
    id: i64,
    author_id: i64,
    title: String,
    pages: i32,
}

async fn install(db: &Database) -> pgdbm::Result<()> {
    db.create_schema().await?;
    db.execute(
        "CREATE TABLE IF NOT EXISTS {{tables.authors}} (
             id bigserial PRIMARY KEY, name text NOT NULL UNIQUE, email text)",
        &[],
    )
    .await?;
    db.execute(
        "CREATE TABLE IF NOT EXISTS {{tables.books}} (
             id bigserial PRIMARY KEY,
             author_id bigint NOT NULL REFERENCES {{tables.authors}} (id),
             title text NOT NULL, pages int NOT NULL)",
        &[],
    )
    .await?;
    db.execute("TRUNCATE {{tables.books}}, {{tables.authors}}", &[])
        .await?;
    Ok(())
}

#[tokio::main]
async fn main() -> pgdbm::Result<()> {
    let pool = SharedPool::connect(pgdbm::testing::server_config()?).await?;
    let library = pool.database(Some("library"))?;
    install(&library).await?;

    let ursula = library
        .insert(&Author {
            id: 0,
            name: "Ursula".into(),
            email: None,
        })
        .returning::<Author>()
        .one()
        .await?;
    println!("inserted {ursula:?}");
    let books: Vec<Book> = [("The Dispossessed", 387), ("The Lathe of Heaven", 184)]
        .into_iter()
        .map(|(title, pages)| Book {
            id: 0,
            author_id: ursula.id,
            title: title.into(),
            pages,
        })
        .collect();
    library.insert_many(&books).await?;

    let long: Vec<Book> = library
        .select::<Book>()
        .filter(Book::PAGES.gt(200))
        .order_by(Book::TITLE.asc())
        .all()
        .await?;
    println!(
        "long books: {:?}",
        long.iter().map(|b| &b.title).collect::<Vec<_>>()
    );

    let per_author: Vec<(String,)> = library
        .select::<Author>()
        .join::<Book>(Book::AUTHOR_ID.eq_col(Author::ID))
        .group_by(Author::NAME)
        .having(count_all().ge(2))
        .columns((Author::NAME,))
        .all()
        .await?;
    println!("authors with two books or more: {per_author:?}");
    println!(
        "that query: {}",
        library
            .select::<Book>()
            .filter(Book::PAGES.gt(200))
            .to_sql()?
    );

    // Upsert: the name is unique; fill the email on conflict.
    library
        .insert(&Author {
            id: 0,
            name: "Ursula".into(),
            email: Some("ursula@example.com".into()),
        })
        .on_conflict(Author::NAME)
        .do_update(Author::EMAIL)
        .await?;
    let found = library.find::<Author>(&ursula.id).await?;
    println!("after upsert: {found:?}");

    library
        .transaction_with(async |tx| {
            tx.update::<Book>()
                .set(Book::PAGES, 190)
                .filter(Book::TITLE.eq("The Lathe of Heaven"))
                .await?;
            tx.delete::<Book>().filter(Book::PAGES.lt(100)).await
        })
        .await?;

    // A second tenant on the same pool: same code, its own tables.
    let archive = pool.database(Some("archive"))?;
    install(&archive).await?;
    println!(
        "authors: library {}, archive {}",
        library.select::<Author>().count().await?,
        archive.select::<Author>().count().await?
    );
    pool.close().await;
    Ok(())
}
