//! The ORM helpers: an enum column, tables created from the structs,
//! related rows loaded without N+1, and keyset pages, in two tenants on one
//! shared pool.
//!
//! Runs against `DATABASE_URL`, or a throwaway local cluster (through
//! `pgdbm::testing`).

use pgdbm::{Database, SharedPool, Table};

#[derive(pgdbm::Enum, Debug, Clone, Copy, PartialEq)]
#[pgdbm(rename_all = "snake_case")]
enum InvoiceStatus {
    Draft,
    Sent,
    Paid,
}

#[derive(Table, Debug, Clone)]
#[pgdbm(table = "customers")]
struct Customer {
    #[pgdbm(primary_key, generated)]
    id: i64,
    name: String,
}

#[derive(Table, Debug, Clone)]
#[pgdbm(table = "invoices")]
struct Invoice {
    #[pgdbm(primary_key, generated)]
    id: i64,
    #[pgdbm(belongs_to = Customer)]
    customer_id: i64,
    total_cents: i64,
    status: InvoiceStatus,
}

/// The tenant's enum type and tables, from the Rust types.
async fn install(db: &Database) -> pgdbm::Result<()> {
    db.create_schema().await?;
    db.create_enum::<InvoiceStatus>().await?;
    db.create_table::<Customer>().await?;
    db.create_table::<Invoice>().await?;
    db.execute("TRUNCATE {{tables.invoices}}, {{tables.customers}}", &[])
        .await?;
    Ok(())
}

async fn seed(db: &Database, names: &[&str], per_customer: i64) -> pgdbm::Result<()> {
    let customers: Vec<Customer> = names
        .iter()
        .map(|name| Customer {
            id: 0,
            name: (*name).into(),
        })
        .collect();
    let customers = db
        .insert_many(&customers)
        .returning::<Customer>()
        .all()
        .await?;
    let statuses = [
        InvoiceStatus::Draft,
        InvoiceStatus::Sent,
        InvoiceStatus::Paid,
    ];
    let invoices: Vec<Invoice> = customers
        .iter()
        .flat_map(|c| {
            (0..per_customer).map(move |i| Invoice {
                id: 0,
                customer_id: c.id,
                total_cents: 1_000 * (i + 1),
                status: statuses[i as usize % 3],
            })
        })
        .collect();
    db.insert_many(&invoices).await?;
    Ok(())
}

#[tokio::main]
async fn main() -> pgdbm::Result<()> {
    let pool = SharedPool::connect(pgdbm::testing::server_config()?).await?;
    let acme = pool.database(Some("acme"))?;
    let globex = pool.database(Some("globex"))?;
    for db in [&acme, &globex] {
        install(db).await?;
    }
    println!("{}", Invoice::create_table_sql(Some("acme"))?);
    seed(&acme, &["Ann", "Bob", "Cy"], 5).await?;
    seed(&globex, &["Zed"], 2).await?;

    // Keyset pages of unpaid invoices, biggest first, 4 at a time: each
    // page continues from the last row of the one before, so rows added
    // meanwhile never shift or repeat a page.
    let mut cursor = None;
    let mut page_no = 1;
    loop {
        let mut q = acme
            .select::<Invoice>()
            .filter(Invoice::STATUS.ne(InvoiceStatus::Paid))
            .order_by(Invoice::TOTAL_CENTS.desc())
            .order_by(Invoice::ID.desc())
            .limit(4);
        if let Some(c) = cursor.take() {
            q = q.after(c);
        }
        let page = q.page().await?;

        // Each page's customers in one more query, not one per invoice.
        let customers = acme.load_belongs_to::<Customer, _>(&page.items).await?;
        for invoice in &page.items {
            let who = customers
                .get(&invoice.customer_id)
                .map_or("?", |c| c.name.as_str());
            println!(
                "page {page_no}: #{} {who} {:?} {}",
                invoice.id, invoice.status, invoice.total_cents
            );
        }
        match page.next {
            // A cursor travels to a client as a token.
            Some(next) => cursor = Some(pgdbm::Cursor::from_token(&next.to_token())?),
            None => break,
        }
        page_no += 1;
    }

    // has_many: every customer's invoices, in one query per tenant.
    for (tenant, db) in [("acme", &acme), ("globex", &globex)] {
        let customers = db
            .select::<Customer>()
            .order_by(Customer::ID.asc())
            .all()
            .await?;
        let invoices = db
            .load_many(&customers, |c| c.id, Invoice::CUSTOMER_ID)
            .await?;
        for customer in &customers {
            let theirs = invoices.get(&customer.id).map_or(0, Vec::len);
            println!("{tenant}: {} has {theirs} invoices", customer.name);
        }
    }
    pool.close().await;
    Ok(())
}
