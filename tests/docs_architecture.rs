//! docs/ARCHITECTURE.md's "Where each rule is decided" table points at real
//! code: each file exists and holds the item the table names.
#[test]
fn every_decision_the_architecture_doc_names_is_where_it_says() {
    let doc = include_str!("../docs/ARCHITECTURE.md");
    let table = doc.split("## Where each rule is decided").nth(1).expect("the section");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut rows = 0;
    let mut problems = Vec::new();
    for line in table.lines().filter(|l| l.starts_with("| ") && l.contains("` |")) {
        let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(|c| c.trim().trim_matches('`')).collect();
        let [question, file, item] = cells[..] else { panic!("a row of three cells: {line}") };
        rows += 1;
        match std::fs::read_to_string(root.join(file)) {
            Ok(text) if text.contains(item) => {}
            Ok(_) => problems.push(format!("{question:?}: {file} has no {item:?}")),
            Err(e) => problems.push(format!("{question:?}: {file}: {e}")),
        }
    }
    assert!(rows >= 10, "the table was not found or lost rows ({rows})");
    assert!(problems.is_empty(), "docs/ARCHITECTURE.md is out of date:\n{}", problems.join("\n"));
}
