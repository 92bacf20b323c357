//! `report`: runs the scenarios in `scenarios/` and writes one static HTML page.
fn main() {
    eprintln!("report: the scenario runner is being built (see README)");
}
