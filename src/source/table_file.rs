//! Reduced tables (`docs/reduced-table.md`) as inputs: a Parquet file (a
//! part of a directory Spark wrote) or a CSV file (an Athena result), read
//! through polars and checked against the contract, then handed to the
//! collector row by row as the records they stand for.
//!
//! A file is a table by its name (`.parquet`, `.csv`) or by its content
//! (Parquet's `PAR1` magic, or a CSV header that starts with the contract's
//! first column). It does not know what the rows mean: `reduced_table`
//! turns them into events.

use std::io::Cursor;

use polars::prelude::*;
use polars_io::prelude::*;

use crate::collect::Collector;
use crate::reduced_table::{self, COLUMNS, TableFormat};

/// The first bytes of every Parquet file.
const PARQUET_MAGIC: &[u8] = b"PAR1";

/// A file's bytes checked against the contract: a frame with every column
/// of the contract, in contract order.
pub struct Table(DataFrame);

/// The table format of a file: by name, else by its bytes (which no JSON
/// or gzip input starts with).
pub fn table_format_of(name: &str, bytes: &[u8]) -> Option<TableFormat> {
    if let Some(f) = TableFormat::of_name(name) {
        return Some(f);
    }
    if bytes.starts_with(PARQUET_MAGIC) {
        return Some(TableFormat::Parquet);
    }
    let head = bytes.strip_prefix(b"\"").unwrap_or(bytes);
    head.starts_with(COLUMNS[0].as_bytes())
        .then_some(TableFormat::Csv)
}

/// A `.csv` whose header does not name the contract's first column: some
/// other CSV file, not a reduced table.
pub fn is_other_csv(name: &str, bytes: &[u8]) -> bool {
    let header = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
    TableFormat::of_name(name) == Some(TableFormat::Csv)
        && !header
            .windows(COLUMNS[0].len())
            .any(|w| w == COLUMNS[0].as_bytes())
}

/// Reads and checks a table; the error says what is wrong with the file.
pub fn read(bytes: &[u8], format: TableFormat) -> Result<Table, String> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err("empty file: no table header\nhint: a reduced table has a header row at least (`denydiff sql`, `--export-calls`)".into());
    }
    let df = match format {
        TableFormat::Parquet => ParquetReader::new(Cursor::new(bytes))
            .finish()
            .map_err(|e| format!("not a readable Parquet file: {}", first_line(&e)))?,
        // Every column as text: account ids and times must not become numbers.
        TableFormat::Csv => CsvReadOptions::default()
            .with_has_header(true)
            .with_infer_schema_length(Some(0))
            .into_reader_with_file_handle(Cursor::new(bytes))
            .finish()
            .map_err(|e| format!("not a readable CSV table: {}", first_line(&e)))?,
    };
    check(&df).map(Table)
}

fn first_line(e: &PolarsError) -> String {
    e.to_string().lines().next().unwrap_or_default().to_owned()
}

/// Every column of the contract, each a string (or all null); extra columns
/// are left out.
fn check(df: &DataFrame) -> Result<DataFrame, String> {
    let mut columns = Vec::with_capacity(COLUMNS.len());
    for name in COLUMNS {
        let Ok(c) = df.column(name) else {
            return Err(format!(
                "column `{name}` is missing: not a denydiff reduced table (version {})\nhint: the columns are listed in docs/reduced-table.md; `denydiff sql` prints a query that writes them",
                reduced_table::VERSION
            ));
        };
        match c.dtype() {
            DataType::String => columns.push(c.clone()),
            DataType::Null => columns.push(c.cast(&DataType::String).map_err(|e| e.to_string())?),
            other => {
                return Err(format!(
                    "column `{name}` is `{other}`, not a string as the reduced table has it"
                ));
            }
        }
    }
    DataFrame::new_infer_height(columns).map_err(|e| e.to_string())
}

/// Hands a table's rows to the collector, as one input named `source`.
pub fn hand_on(source: &str, table: &Table, out: &mut Collector) {
    let columns: Vec<&StringChunked> = table
        .0
        .columns()
        .iter()
        .map(|c| c.str().expect("checked: a string column"))
        .collect();
    let mut iters: Vec<_> = columns.iter().map(|c| c.iter()).collect();
    let rows = (0..table.0.height()).map(|_| {
        let cells: [Option<&str>; COLUMNS.len()] =
            std::array::from_fn(|c| iters[c].next().flatten());
        reduced_table::event_of(&cells).map_err(|e| e.to_string())
    });
    out.add_rows(source, rows);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reduced_table::{Row, horizon_row, table_frame};

    fn parquet(rows: &[Row]) -> Vec<u8> {
        let mut df = table_frame(rows).unwrap();
        let mut buf = Vec::new();
        ParquetWriter::new(&mut buf).finish(&mut df).unwrap();
        buf
    }

    #[test]
    fn formats_by_name_then_content() {
        assert_eq!(
            table_format_of("a.PARQUET", b""),
            Some(TableFormat::Parquet)
        );
        assert_eq!(
            table_format_of("x", b"PAR1...."),
            Some(TableFormat::Parquet)
        );
        let csv = b"\"denydiff_table_version\",\"row_kind\"\n";
        assert_eq!(table_format_of("result", csv), Some(TableFormat::Csv));
        assert_eq!(table_format_of("x.json", b"{}"), None);
        assert_eq!(table_format_of("x.json.gz", b"\x1f\x8b"), None);
    }

    #[test]
    fn other_csv_files_are_told_apart() {
        assert!(is_other_csv("report.csv", b"name,count\na,1\n"));
        assert!(!is_other_csv(
            "calls.csv",
            b"\"row_kind\",\"denydiff_table_version\"\n"
        ));
        assert!(!is_other_csv("calls.parquet", b"PAR1"));
    }

    #[test]
    fn truncated_parquet_and_empty_files_are_named_errors() {
        let bytes = parquet(&[horizon_row(0)]);
        let err = read(&bytes[..bytes.len() / 2], TableFormat::Parquet)
            .err()
            .unwrap();
        assert!(err.starts_with("not a readable Parquet file"), "{err}");
        let err = read(b"", TableFormat::Csv).err().unwrap();
        assert!(err.starts_with("empty file"), "{err}");
        assert!(read(&bytes, TableFormat::Parquet).is_ok());
    }

    #[test]
    fn a_missing_column_is_named() {
        let err = read(
            b"denydiff_table_version,row_kind\n1,horizon\n",
            TableFormat::Csv,
        )
        .err()
        .unwrap();
        assert!(err.starts_with("column `event_time` is missing"), "{err}");
    }
}
