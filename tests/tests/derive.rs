//! `#[derive(Table)]` and `#[derive(FromRow)]` without a database: the
//! metadata, the column constants and the parameters they generate.

use pgdbm::{Column, ColumnDef, FromRow, Json, Param, Table};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Prefs {
    theme: String,
}

#[derive(Table, Debug)]
#[pgdbm(table = "users")]
pub struct User {
    #[pgdbm(primary_key, generated)]
    pub id: i64,
    pub email: String,
    #[pgdbm(column = "full_name")]
    pub name: Option<String>,
    #[pgdbm(json)]
    pub prefs: Prefs,
    #[pgdbm(json, column = "extra")]
    pub maybe_prefs: Option<Prefs>,
    #[pgdbm(sql_type = "timestamptz")]
    pub seen_at: std::option::Option<i64>,
    #[pgdbm(skip)]
    pub cache: Vec<u8>,
}

fn user() -> User {
    User {
        id: 7,
        email: "a@x.io".into(),
        name: None,
        prefs: Prefs {
            theme: "dark".into(),
        },
        maybe_prefs: None,
        seen_at: Some(3),
        cache: vec![1, 2],
    }
}

/// What `Param` holds, as tokio-postgres would send it.
fn shown(param: &Param<'_>) -> String {
    format!("{param:?} {:?}", param.as_sql())
}

#[test]
fn table_name_and_column_defs() {
    assert_eq!(User::TABLE, "users");
    assert_eq!(
        User::COLUMN_DEFS,
        &[
            ColumnDef::new("id")
                .primary_key()
                .generated()
                .inferred_type("bigint"),
            ColumnDef::new("email").inferred_type("text"),
            ColumnDef::new("full_name").inferred_type("text").nullable(),
            ColumnDef::new("prefs").json().inferred_type("jsonb"),
            ColumnDef::new("extra")
                .json()
                .inferred_type("jsonb")
                .nullable(),
            // The override is kept beside what the Rust type reads as.
            ColumnDef::new("seen_at")
                .sql_type("timestamptz")
                .inferred_type("bigint")
                .nullable(),
        ]
    );
    let id = User::COLUMN_DEFS[0];
    assert!(id.primary_key && id.generated && !id.json && id.sql_type.is_none());
    assert_eq!(User::COLUMN_DEFS[5].sql_type, Some("timestamptz"));
}

#[test]
fn from_row_names_leave_out_skipped_fields() {
    assert_eq!(
        <User as FromRow>::NAMES,
        Some(&["id", "email", "full_name", "prefs", "extra", "seen_at"][..])
    );
}

#[test]
fn column_constants_have_the_column_names_and_types() {
    assert_eq!(User::ID.name(), "id");
    assert_eq!(User::EMAIL.name(), "email");
    assert_eq!(User::NAME.name(), "full_name");
    assert_eq!(User::PREFS.name(), "prefs");
    assert_eq!(User::MAYBE_PREFS.name(), "extra");
    assert_eq!(User::SEEN_AT.name(), "seen_at");

    // V is the type inside an Option (and Json<..> for a json field); F,
    // what a select reads, is the field's own type.
    let _: Column<User, i64> = User::ID;
    let _: Column<User, String> = User::EMAIL;
    let _: Column<User, String, Option<String>> = User::NAME;
    let _: Column<User, Json<Prefs>> = User::PREFS;
    let _: Column<User, Json<Prefs>, Option<Json<Prefs>>> = User::MAYBE_PREFS;
    let _: Column<User, i64, Option<i64>> = User::SEEN_AT;
}

#[test]
fn values_are_borrowed_or_wrapped_per_field_kind() {
    let user = user();
    let values: Vec<String> = (0..User::COLUMN_DEFS.len())
        .map(|i| shown(&user.value(i)))
        .collect();
    assert_eq!(
        values,
        [
            "Param::Ref 7",
            "Param::Ref \"a@x.io\"",
            "Param::Ref None",
            "Param::Owned Json(Prefs { theme: \"dark\" })",
            "Param::Owned None",
            "Param::Ref Some(3)",
        ]
    );
    let with_prefs = User {
        maybe_prefs: Some(Prefs::default()),
        ..user
    };
    assert_eq!(
        shown(&with_prefs.value(4)),
        "Param::Owned Some(Json(Prefs { theme: \"\" }))"
    );
}

#[test]
#[should_panic(expected = "User: no column at index 6 (the table has 6 columns)")]
fn value_out_of_range_panics() {
    let _ = user().value(6);
}

#[test]
fn single_key() {
    let key: <User as Table>::Key = 42i64;
    let mut out = Vec::new();
    User::key_values(&key, &mut out);
    assert_eq!(out.iter().map(shown).collect::<Vec<_>>(), ["Param::Ref 42"]);
}

#[derive(Table)]
struct Membership {
    #[pgdbm(primary_key)]
    org: i32,
    role: String,
    #[pgdbm(primary_key, column = "member_id")]
    member: i64,
}

#[test]
fn composite_key_is_a_tuple_in_field_order() {
    let key: <Membership as Table>::Key = (1i32, 2i64);
    let mut out = Vec::new();
    Membership::key_values(&key, &mut out);
    assert_eq!(
        out.iter().map(shown).collect::<Vec<_>>(),
        ["Param::Ref 1", "Param::Ref 2"]
    );
    let keys: Vec<_> = Membership::COLUMN_DEFS
        .iter()
        .filter(|c| c.primary_key)
        .map(|c| c.name)
        .collect();
    assert_eq!(keys, ["org", "member_id"]);
    let m = Membership {
        org: 1,
        role: "admin".into(),
        member: 2,
    };
    assert_eq!(shown(&m.value(1)), "Param::Ref \"admin\"");
    assert_eq!(Membership::ROLE.name(), "role");
}

#[derive(Table)]
struct OrderLine {
    quantity: i32,
}

#[test]
fn default_table_name_is_snake_case_not_plural() {
    assert_eq!(OrderLine::TABLE, "order_line");
    // No primary key: the key type has no values, so `find` cannot be
    // called (tests/ui/find_without_primary_key.rs).
    let _: fn(&<OrderLine as Table>::Key) -> pgdbm::NoPrimaryKey = |key| match *key {};
    let _: Column<OrderLine, i32> = OrderLine::QUANTITY;
}

/// Fields whose constants shadow the trait's items, and a raw identifier.
#[derive(Table)]
#[pgdbm(table = "odd")]
struct Odd {
    #[pgdbm(primary_key)]
    table: String,
    name: String,
    column_defs: i32,
    r#type: i16,
}

#[test]
fn inherent_constants_may_shadow_trait_constants() {
    // The inherent constant wins over the trait's on `Odd::TABLE`...
    assert_eq!(Odd::TABLE.name(), "table");
    assert_eq!(Odd::COLUMN_DEFS.name(), "column_defs");
    assert_eq!(Odd::NAME.name(), "name");
    // ...and the trait's are reachable by their full path.
    assert_eq!(<Odd as Table>::TABLE, "odd");
    assert_eq!(<Odd as Table>::COLUMN_DEFS.len(), 4);
    // A raw identifier names column `type` and constant `TYPE`.
    assert_eq!(Odd::TYPE.name(), "type");
    assert_eq!(<Odd as Table>::COLUMN_DEFS[3].name, "type");
    let odd = Odd {
        table: "t".into(),
        name: "n".into(),
        column_defs: 1,
        r#type: 2,
    };
    assert_eq!(shown(&odd.value(3)), "Param::Ref 2");
}

#[derive(FromRow)]
struct Count {
    table_name: String,
    #[pgdbm(column = "n")]
    count: i64,
    #[pgdbm(json)]
    details: Option<serde_json::Value>,
    #[pgdbm(skip)]
    note: String,
}

#[test]
fn from_row_alone() {
    assert_eq!(
        <Count as FromRow>::NAMES,
        Some(&["table_name", "n", "details"][..])
    );
    // The fields are only ever written by decoding.
    let c = Count {
        table_name: String::new(),
        count: 0,
        details: None,
        note: String::new(),
    };
    let _ = (c.table_name, c.count, c.details, c.note);
}

mod visibility {
    #[derive(pgdbm::Table)]
    pub struct Item {
        #[pgdbm(primary_key)]
        pub id: i64,
        pub(crate) label: String,
        secret: String,
    }

    impl Item {
        pub fn new(id: i64) -> Self {
            Item {
                id,
                label: String::new(),
                secret: String::new(),
            }
        }

        /// The private field's constant, seen from inside the module.
        pub fn secret_column() -> &'static str {
            Self::SECRET.name()
        }

        pub fn secret(&self) -> &str {
            &self.secret
        }
    }
}

#[test]
fn constants_take_the_fields_visibility() {
    assert_eq!(visibility::Item::ID.name(), "id");
    assert_eq!(visibility::Item::LABEL.name(), "label");
    assert_eq!(visibility::Item::secret_column(), "secret");
    let item = visibility::Item::new(1);
    assert_eq!((item.id, item.label.as_str(), item.secret()), (1, "", ""));
}
