//! `koofill bench ingress --external`: the load generator in child processes of the same binary,
//! every phase measured side by side, and the CPU table filled from the servers' threads.

use std::process::Stdio;

#[tokio::test]
async fn the_ingress_benchmark_runs_with_an_external_generator_and_reports_cpu_per_callback() {
    let dir = tempfile::tempdir().unwrap();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_koofill"))
        .args(["bench", "ingress", "--external", "--duration", "1", "--rate", "200", "--concurrency", "4"])
        .current_dir(dir.path())
        .env_remove("KOOFILL_CONFIG")
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("load from a child process"), "{stdout}");
    // Table rows: a name, then figures.
    let rows = |prefix: &str| {
        stdout
            .lines()
            .filter(|l| l.starts_with(prefix) && l.split_whitespace().nth(1).is_some_and(|f| f.parse::<f64>().is_ok()))
            .collect::<Vec<_>>()
    };
    // Two phases, each with a row for the ingress and one for the probe; none failed.
    for row in [rows("ingress "), rows("probe ")].concat() {
        let fields: Vec<&str> = row.split_whitespace().collect();
        assert!(fields[1].parse::<f64>().unwrap() > 0.0, "no throughput: {row}");
        assert_eq!(fields.last(), Some(&"0"), "failed callbacks: {row}");
    }
    assert_eq!(rows("ingress ").len(), 2, "{stdout}");
    // The CPU table: the servers' own threads used some CPU in each phase.
    for phase in ["throughput ", "paced "] {
        let row = rows(phase);
        assert_eq!(row.len(), 1, "{stdout}");
        let fields: Vec<f64> = row[0].split_whitespace().skip(1).map(|f| f.parse().unwrap()).collect();
        assert!(fields[0] > 0.0 && fields[1] > 0.0, "{}", row[0]);
    }
}
