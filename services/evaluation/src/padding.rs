//! Multi-row upserts padded to a few sizes. On SQLite a batch's statements run as one text,
//! and that whole text is the key of the connection's prepared-statement cache: with a VALUES
//! list as long as the rows changed, nearly every projection batch was a new text to parse
//! (parsing was a quarter of the simulator's instructions). Padded to a power of four, the
//! lists take a handful of lengths, so the batches take a handful of texts.

use gridloop_eventstore::Placeholders;

/// Most rows in one upsert; a power of four, so a full chunk is one of the padded sizes.
pub const CHUNK: usize = 256;

/// The rows an upsert of `rows` rows is padded to: the next power of four, at most [`CHUNK`].
pub fn padded(rows: usize) -> usize {
    let mut size = 1;
    while size < rows && size < CHUNK {
        size *= 4;
    }
    size
}

/// `INSERT INTO table (columns) SELECT * FROM (VALUES ...)` of `rows` rows of `cols`
/// parameters, keeping only the rows whose first column is not NULL: a padding row binds NULL
/// there and inserts nothing. (The WHERE also keeps SQLite from reading a following
/// `ON CONFLICT` as a join constraint.)
pub fn insert_values(style: Placeholders, table: &str, columns: &str, rows: usize, cols: usize) -> String {
    format!(
        "INSERT INTO {table} ({columns}) SELECT * FROM (VALUES {}) AS padded WHERE column1 IS NOT NULL",
        style.values_rows(rows, cols)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_counts_are_padded_to_powers_of_four_up_to_a_chunk() {
        let sizes: Vec<usize> = [0, 1, 2, 4, 5, 16, 17, 60, 64, 65, 256, 300].into_iter().map(padded).collect();
        assert_eq!(sizes, [1, 1, 4, 4, 16, 16, 64, 64, 64, 256, 256, 256]);
    }
}
