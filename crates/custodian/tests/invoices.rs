//! `custodian invoice …` and `service list`, the real binary on every engine
//! under test: payments, credit notes, and the import with its dry run.

use custodian_store::{Access, AccessPurpose, Actor};
use custodian_testkit::{customer, databases};

mod common;
use common::Cli;

fn operator() -> Access {
    Access::new(Actor::operator(), AccessPurpose::Administration)
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

const HEADER: &str =
    "customer,number,issued_on,due_on,description,quantity,unit_price_cents,vat_rate,paid_on,amount_cents";

#[tokio::test]
async fn invoices_are_imported_paid_in_parts_and_credited_from_the_command_line() {
    for db in databases().await {
        let name = db.name();
        let store = db.store().await;
        let id = store.create_customer(&operator(), &customer(1), false).await.unwrap().to_string();
        let cli = Cli::new(&db);
        let file = cli.dir().join("facturen.csv");
        let path = file.to_str().unwrap();
        // F-1: 2 × 12.50 = 25.00, VAT 5.25, total 30.25, 10.00 paid.
        // F-2: 1 × 100.00 at 9%: total 109.00, due long ago.
        std::fs::write(
            &file,
            format!(
                "{HEADER}\n{id},F-1,2026-01-10,2099-01-01,Hosting S,2,1250,21,2026-01-20,1000\n\
                 {id},F-2,2026-01-15,2026-02-14,Boek,1,10000,9,,\n"
            ),
        )
        .unwrap();

        let dry = cli.ok(&["invoice", "import", path, "--dry-run"]);
        assert!(
            dry.contains("line 2\tF-1\twould be created") && dry.contains("line 3\tF-2\twould be created"),
            "{name}: {dry}"
        );
        assert!(dry.contains("dry run: nothing written"), "{dry}");
        assert!(cli.ok(&["invoice", "list", &id]).trim().is_empty(), "{name}: the dry run wrote");

        assert!(cli.ok(&["invoice", "import", path]).contains("created 2, unchanged 0, errors 0; written"));
        let again = json(&cli.ok(&["invoice", "import", path, "--dry-run", "--format", "json"]));
        assert_eq!(again["summary"]["unchanged"], 2, "{again}");
        assert_eq!(again["lines"][0]["outcome"], "unchanged");

        let list = cli.ok(&["invoice", "list", &id]);
        assert!(list.contains("F-1\t2026-01-10\t2099-01-01\topen\t30.25\t20.25"), "{name}: {list}");
        assert!(list.contains("F-2\t2026-01-15\t2026-02-14\toverdue\t109.00\t109.00"), "{list}");

        // Payments: more than is due is refused, the rest settles F-1.
        let too_much = cli.fails(&["invoice", "pay", "F-1", "--amount", "2026"], 2);
        assert!(too_much.contains("more than is still due (20.25 euro)"), "{too_much}");
        let part = cli.ok(&["invoice", "pay", "F-1", "--amount", "25", "--on", "2026-02-01"]);
        assert!(part.contains("F-1\topen\tpaid 10.25\toutstanding 20.00"), "{part}");
        let rest = cli.ok(&["invoice", "paid", "F-1", "--on", "2026-02-03"]);
        assert!(rest.contains("F-1\tpaid\tpaid 30.25\toutstanding 0.00\tsettled on 2026-02-03"), "{rest}");
        assert!(cli.fails(&["invoice", "pay", "F-1", "--amount", "1"], 2).contains("Nothing is due"));

        // A credit note for all of F-2 gets the next number and settles it.
        let note = cli.ok(&["invoice", "credit", "F-2", "--date", "2026-03-01"]);
        assert!(note.contains("CN-2026-0001\t-109.00"), "{note}");
        assert!(note.contains("F-2\tcredited"), "{note}");
        let list = cli.ok(&["invoice", "list", &id, "--format", "json"]);
        let list = json(&list);
        let states: Vec<&str> = list.as_array().unwrap().iter().map(|i| i["state"].as_str().unwrap()).collect();
        assert_eq!(states, ["paid", "credited", "credit_note"], "{list}");
        assert!(
            cli.fails(&["invoice", "credit", "F-1", "--line", "Hosting S;1;5000;21"], 2)
                .contains("more than can still be credited")
        );

        // A bad file: every problem named by line and field, nothing written.
        std::fs::write(
            &file,
            format!(
                "{HEADER}\n{id},F-3,2026-04-01,,VPS,1,1500,21,,\n\
                 {id},F-1,2026-01-10,2099-01-01,Hosting S,2,1250,21,2026-01-20,1000\n\
                 {id},F-4,2026-04-01,,VPS,x,1500,21,,\n"
            ),
        )
        .unwrap();
        let out = cli.run(&["invoice", "import", path]);
        assert_eq!(out.status.code(), Some(2), "{name}");
        let report = String::from_utf8_lossy(&out.stdout);
        assert!(report.contains("line 3\tF-1\terror") && report.contains("line 3, payments:"), "{report}");
        assert!(report.contains("line 4\tF-4\terror") && report.contains("line 4, quantity:"), "{report}");
        assert!(!report.contains("F-3"), "a real import lists only what stops it: {report}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("nothing was written"));
        assert!(!cli.ok(&["invoice", "list", &id]).contains("F-3"), "{name}: F-3 was written");
        assert!(cli.fails(&["invoice", "import", "facturen.txt"], 2).contains(".csv, .jsonl or .ndjson"));

        // JSON lines by extension.
        let lines = cli.dir().join("facturen.jsonl");
        std::fs::write(
            &lines,
            format!(
                r#"{{"customer": {id}, "number": "J-1", "issued_on": "2026-05-01", "lines": [{{"description": "VPS", "quantity": 1, "unit_price_cents": 1500, "vat_rate": 21}}]}}"#
            ),
        )
        .unwrap();
        assert!(cli.ok(&["invoice", "import", lines.to_str().unwrap()]).contains("created 1"));
        db.finish().await;
    }
}

#[tokio::test]
async fn services_are_listed_per_customer() {
    for db in databases().await {
        let store = db.store().await;
        let id = store.create_customer(&operator(), &customer(1), false).await.unwrap().to_string();
        let cli = Cli::new(&db);
        let add = [
            "service",
            "add",
            &id,
            "--set",
            "kind=vps",
            "--set",
            "description=VPS 4 GB",
            "--set",
            "started_on=2026-01-01",
        ];
        let service = cli.ok(&add).trim().to_string();
        cli.ok(&["service", "end", &service, "--on", "2026-06-30"]);
        let table = cli.ok(&["service", "list", &id]);
        assert_eq!(table.trim(), format!("{service}\tvps\tended\t2026-01-01\t2026-06-30\tVPS 4 GB"));
        let listed = json(&cli.ok(&["service", "list", &id, "--format", "json"]));
        assert_eq!(listed[0]["description"], "VPS 4 GB");
        assert!(cli.fails(&["service", "list", "999"], 2).contains("does not exist"));
        db.finish().await;
    }
}
