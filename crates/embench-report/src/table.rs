//! The one markdown table writer every section uses: a header, the divider, then
//! rows, each `| a | b |` (an empty cell `| |`). After hyperfine's `MarkupExporter`
//! (`src/export/markup.rs`: `table_header`, `table_divider`, `table_row`).

/// A markdown table being written.
pub struct Table {
    columns: usize,
    text: String,
}

impl Table {
    /// A table with these column titles.
    pub fn new(header: &[&str]) -> Self {
        let mut text = line(header);
        text.push('|');
        text.push_str(&"---|".repeat(header.len()));
        text.push('\n');
        Self { columns: header.len(), text }
    }

    /// Adds a row; it must have one cell per column (a cell may span what would be
    /// several, e.g. an INVALID row's reason; say so with [`Table::row_spanning`]).
    pub fn row<S: AsRef<str>>(&mut self, cells: &[S]) {
        debug_assert_eq!(cells.len(), self.columns, "a row of {} cells in a table of {}", cells.len(), self.columns);
        self.text.push_str(&line(cells));
    }

    /// Adds a row of fewer cells than columns, left-aligned (markdown renders the rest empty).
    pub fn row_spanning<S: AsRef<str>>(&mut self, cells: &[S]) {
        debug_assert!(cells.len() <= self.columns);
        self.text.push_str(&line(cells));
    }

    /// The table, ending in a newline.
    pub fn finish(self) -> String {
        self.text
    }
}

fn line<S: AsRef<str>>(cells: &[S]) -> String {
    let mut out = String::from("|");
    for c in cells {
        let c = c.as_ref();
        if c.is_empty() {
            out.push_str(" |");
        } else {
            out.push(' ');
            out.push_str(c);
            out.push_str(" |");
        }
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_header_divider_and_rows() {
        let mut t = Table::new(&["a", "b", "c"]);
        t.row(&["1", "", "3"]);
        t.row_spanning(&["only"]);
        assert_eq!(t.finish(), "| a | b | c |\n|---|---|---|\n| 1 | | 3 |\n| only |\n");
    }
}
