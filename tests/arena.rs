//! Issue 6's ranking functions against independent implementations on LLMFAO.
//!
//! Fixtures come from scripts under `tests/oracle/` and are committed, so this test needs
//! no Python.

mod common;
use common::*;

const ELO: &str = "tests/fixtures/elo_llmfao.tsv";

#[tokio::test]
async fn elo_rank_matches_evalica_and_fastchat_on_llmfao() {
    repo_root();
    let ctx = llmfao().await;
    for (column, options) in [
        ("default", ""),
        ("k32", ", 'k=32, scale=200, base=4, init=1500'"),
    ] {
        let sql = format!(
            "SELECT item, rating FROM leaderboard('SELECT elo_rank(\"left\", \"right\", winner{} ORDER BY id) FROM llmfao')",
            options.replace('\'', "''")
        );
        let ours = pairs(&ctx, &sql).await;
        assert_matches(&ours, &fixture_column(ELO, column), 1e-9);
    }
}

/// Elo replays battles in ORDER BY order with a value tie-break, so shuffled input over many
/// partitions gives bitwise the same ratings as one partition.
#[tokio::test]
async fn elo_rank_is_independent_of_partitioning() {
    repo_root();
    let mut results = Vec::new();
    for (partitions, batch) in [(1, 8192), (4, 97)] {
        let ctx = partitioned_session(partitions, batch);
        prefdb::register_table(&ctx, "llmfao", LLMFAO)
            .await
            .unwrap();
        let sql = "SELECT item, rating FROM leaderboard('SELECT elo_rank(\"left\", \"right\", winner ORDER BY id) FROM (SELECT * FROM llmfao ORDER BY random())') ORDER BY item";
        results.push(pairs(&ctx, sql).await);
    }
    assert_eq!(results[0], results[1]);
    assert_eq!(results[0].len(), 59);
}
