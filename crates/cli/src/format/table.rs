//! Go's `text/tabwriter` as docker configures it: `NewWriter(out, 10, 1,
//! 3, ' ', 0)`. A cell is text ended by a tab; the text after a line's last
//! tab is not a cell and is never padded. A column's width is the widest
//! cell (in runes) plus 3, at least the minimum, over each run of
//! consecutive lines that have that column.

/// Aligns tab-separated text (lines ended by `\n`).
pub fn tabwrite(text: &str) -> String {
    tabwrite_min(text, 10)
}

/// The same with another minimum cell width (`docker top` uses 20).
pub fn tabwrite_min(text: &str, min: usize) -> String {
    let trailing_newline = text.ends_with('\n');
    let body = text.strip_suffix('\n').unwrap_or(text);
    let lines: Vec<Vec<&str>> = body.split('\n').map(|l| l.split('\t').collect()).collect();
    // widths[i][j]: the width of cell j on line i.
    let mut widths: Vec<Vec<usize>> = lines.iter().map(|l| vec![0; l.len()]).collect();
    let max_cols = lines.iter().map(|l| l.len()).max().unwrap_or(0);
    for col in 0..max_cols.saturating_sub(1) {
        let mut i = 0;
        while i < lines.len() {
            // Lines where `col` is a tab-terminated cell.
            if lines[i].len() <= col + 1 {
                i += 1;
                continue;
            }
            let start = i;
            let mut w = 0;
            while i < lines.len() && lines[i].len() > col + 1 {
                w = w.max(lines[i][col].chars().count());
                i += 1;
            }
            let w = (w + 3).max(min);
            for line in widths.iter_mut().take(i).skip(start) {
                line[col] = w;
            }
        }
    }
    let mut out = String::with_capacity(text.len() * 2);
    for (i, line) in lines.iter().enumerate() {
        for (j, cell) in line.iter().enumerate() {
            out.push_str(cell);
            if j + 1 < line.len() {
                let pad = widths[i][j].saturating_sub(cell.chars().count());
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        if i + 1 < lines.len() || trailing_newline {
            out.push('\n');
        }
    }
    out
}

/// A header and rows of cells, aligned.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    table_min(header, rows, 10)
}

/// The same with another minimum cell width.
pub fn table_min(header: &[&str], rows: &[Vec<String>], min: usize) -> String {
    let mut text = header.join("\t");
    text.push('\n');
    for r in rows {
        text.push_str(&r.join("\t"));
        text.push('\n');
    }
    tabwrite_min(&text, min)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_by_three_with_a_minimum_of_ten() {
        let t = table(&["A", "BB"], &[vec!["xxxx".into(), "y".into()]]);
        assert_eq!(t, "A         BB\nxxxx      y\n");
        let t = table(&["LONGER HEADER", "X"], &[vec!["a".into(), "b".into()]]);
        assert_eq!(t, "LONGER HEADER   X\na               b\n");
    }

    #[test]
    fn the_last_cell_is_not_padded_but_empty_cells_are() {
        let t = table(&["A", "B", "C"], &[vec!["1".into(), "".into(), "".into()]]);
        assert_eq!(t, "A         B         C\n1                   \n");
    }

    #[test]
    fn columns_align_per_run_of_lines() {
        assert_eq!(
            tabwrite("a\tb\nno tabs here\nlonger cell\tc\n"),
            "a         b\nno tabs here\nlonger cell   c\n"
        );
        assert_eq!(tabwrite("…\tx\n"), "…         x\n");
    }
}
