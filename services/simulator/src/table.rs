//! Plain-text tables for the reports printed on a terminal.

/// Renders `rows` under `headers` as aligned columns separated by two spaces, with a rule under
/// the header. Widths count characters, so CJK text may be slightly off on a terminal.
pub fn render(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell}{}", " ".repeat(w.saturating_sub(cell.chars().count()))))
            .collect();
        padded.join("  ").trim_end().to_owned()
    };
    let mut out = line(headers.to_vec());
    out.push('\n');
    out.push_str(&line(widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>().iter().map(String::as_str).collect()));
    out.push('\n');
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
        out.push('\n');
    }
    out
}

/// A duration as milliseconds with one decimal, e.g. `12.3 ms`.
pub fn millis(d: std::time::Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align() {
        let text = render(&["a", "bee"], &[vec!["long cell".into(), "x".into()], vec!["s".into(), "yy".into()]]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "a          bee");
        assert_eq!(lines[1], "---------  ---");
        assert_eq!(lines[2], "long cell  x");
        assert_eq!(lines[3], "s          yy");
    }
}
