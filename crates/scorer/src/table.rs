//! The predictions table of EVALUATION.md section 2(a): `predictions.csv`.

use crate::problems::{Problems, list_some};
use crate::study_id::{StudyId, StudyIndex};

/// The largest table accepted: a row per study needs well under a kilobyte, so anything
/// this big is not a predictions table.
pub const MAX_TABLE_BYTES: u64 = 16 * 1024 * 1024;

/// The per-study values of a valid predictions table, indexed by study position.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Table {
    /// `covid_probability`, when the table has that column.
    pub covid_probability: Option<Vec<f64>>,
    /// `affected_percent`, when the table has that column.
    pub affected_percent: Option<Vec<f64>>,
}

/// A prediction column and its valid range.
#[derive(Clone, Copy)]
enum Column {
    CovidProbability,
    AffectedPercent,
}

impl Column {
    fn name(self) -> &'static str {
        match self {
            Column::CovidProbability => "covid_probability",
            Column::AffectedPercent => "affected_percent",
        }
    }

    fn range(self) -> (f64, f64, &'static str) {
        match self {
            Column::CovidProbability => (0.0, 1.0, "[0, 1]"),
            Column::AffectedPercent => (0.0, 100.0, "[0, 100]"),
        }
    }
}

/// Parses a predictions table named `file` (as the participant will recognise it, e.g.
/// `predictions.csv` or `results/predictions.csv`) against the test set's ids.
///
/// Every problem is recorded in `problems`; the table is returned only when there is none.
/// Accepted: UTF-8 with or without a BOM, LF or CRLF, columns in any order, spaces around
/// cells. Rejected: unknown or repeated columns, a missing `study_id` column or no
/// prediction column, unknown, repeated or missing study ids, empty cells, values that are
/// not finite numbers or fall outside their range.
pub fn parse_table(
    file: &str,
    bytes: &[u8],
    studies: &StudyIndex,
    problems: &mut Problems,
) -> Option<Table> {
    let before = problems.messages().len() + problems.omitted();
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let mut records = reader.records();

    let header = match records.next() {
        Some(Ok(header)) => header,
        Some(Err(err)) => {
            problems.push(format!("{file} line 1: {}", csv_error_text(&err)));
            return None;
        }
        None => {
            problems.push(format!("{file}: the file is empty; expected a header row such as study_id,covid_probability"));
            return None;
        }
    };
    let layout = parse_header(file, &header, problems)?;

    let n = studies.len();
    let mut values: Vec<Option<Vec<Option<f64>>>> = layout
        .columns
        .iter()
        .map(|c| c.map(|_| vec![None; n]))
        .collect();
    let mut seen_on_line: Vec<Option<u64>> = vec![None; n];

    for record in records {
        let record = match record {
            Ok(record) => record,
            Err(err) => {
                let line = err.position().map_or(0, |p| p.line());
                problems.push(format!("{file} line {line}: {}", csv_error_text(&err)));
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        if record.len() != layout.width {
            problems.push(format!(
                "{file} line {line}: expected {} fields as in the header, found {}",
                layout.width,
                record.len()
            ));
            continue;
        }
        let raw_id = &record[layout.study_id];
        let position = match StudyId::parse(raw_id) {
            Err(why) => {
                problems.push(format!(
                    "{file} line {line}: study_id {raw_id:?} is not valid: {why}"
                ));
                continue;
            }
            Ok(_) => match studies.position(raw_id) {
                None => {
                    problems.push(format!(
                        "{file} line {line}: study_id {raw_id:?} is not a study of the test set"
                    ));
                    continue;
                }
                Some(position) => position,
            },
        };
        if let Some(first) = seen_on_line[position] {
            problems.push(format!(
                "{file} line {line}: study_id {raw_id:?} already appears on line {first}"
            ));
            continue;
        }
        seen_on_line[position] = Some(line);
        for (field, column) in layout.columns.iter().enumerate() {
            let (Some(column), Some(store)) = (column, values[field].as_mut()) else {
                continue;
            };
            store[position] = parse_value(file, line, *column, &record[field], problems);
        }
    }

    let missing: Vec<&str> = studies
        .ids()
        .iter()
        .zip(&seen_on_line)
        .filter(|(_, seen)| seen.is_none())
        .map(|(id, _)| id.as_str())
        .collect();
    if !missing.is_empty() {
        problems.push(format!(
            "{file}: every test study needs a row; {} missing: {}",
            missing.len(),
            list_some(missing.into_iter(), 10)
        ));
    }

    if problems.messages().len() + problems.omitted() > before {
        return None;
    }
    let mut table = Table::default();
    for (column, store) in layout.columns.iter().zip(values) {
        let (Some(column), Some(store)) = (column, store) else {
            continue;
        };
        // Every study has a row and every cell parsed, so no value is missing here.
        let store: Option<Vec<f64>> = store.into_iter().collect();
        match column {
            Column::CovidProbability => table.covid_probability = store,
            Column::AffectedPercent => table.affected_percent = store,
        }
    }
    Some(table)
}

/// Where each column is: `columns[i]` is the prediction column in field `i`, if any.
struct Layout {
    width: usize,
    study_id: usize,
    columns: Vec<Option<Column>>,
}

fn parse_header(file: &str, header: &csv::StringRecord, problems: &mut Problems) -> Option<Layout> {
    let mut study_id = None;
    let mut columns = Vec::with_capacity(header.len());
    let mut ok = true;
    for (field, name) in header.iter().enumerate() {
        let column = match name {
            "study_id" => None,
            "covid_probability" => Some(Column::CovidProbability),
            "affected_percent" => Some(Column::AffectedPercent),
            other => {
                problems.push(format!(
                    "{file} line 1: unknown column {other:?}; the columns are study_id, covid_probability and affected_percent"
                ));
                ok = false;
                None
            }
        };
        if header.iter().take(field).any(|earlier| earlier == name) {
            problems.push(format!("{file} line 1: column {name:?} appears twice"));
            ok = false;
        }
        if name == "study_id" && study_id.is_none() {
            study_id = Some(field);
        }
        columns.push(column);
    }
    if study_id.is_none() {
        problems.push(format!("{file} line 1: the header has no study_id column"));
        ok = false;
    }
    if !columns.iter().any(Option::is_some) && ok {
        problems.push(format!(
            "{file} line 1: the header needs covid_probability, affected_percent or both beside study_id"
        ));
        ok = false;
    }
    let study_id = study_id?;
    ok.then_some(Layout {
        width: header.len(),
        study_id,
        columns,
    })
}

fn parse_value(
    file: &str,
    line: u64,
    column: Column,
    raw: &str,
    problems: &mut Problems,
) -> Option<f64> {
    let name = column.name();
    if raw.is_empty() {
        problems.push(format!(
            "{file} line {line}: {name} is empty; expected a number"
        ));
        return None;
    }
    let Ok(value) = raw.parse::<f64>() else {
        problems.push(format!(
            "{file} line {line}: {name} {raw:?} is not a number"
        ));
        return None;
    };
    let (low, high, range) = column.range();
    if !value.is_finite() {
        problems.push(format!(
            "{file} line {line}: {name} {raw:?} is not a finite number"
        ));
        return None;
    }
    if !(low..=high).contains(&value) {
        problems.push(format!(
            "{file} line {line}: {name} {raw:?} is outside {range}"
        ));
        return None;
    }
    Some(value)
}

fn csv_error_text(err: &csv::Error) -> String {
    match err.kind() {
        csv::ErrorKind::Utf8 { .. } => "the text is not valid UTF-8".to_owned(),
        _ => format!("cannot be read as CSV ({err})"),
    }
}

#[cfg(test)]
mod tests {
    use super::{Table, parse_table};
    use crate::problems::Problems;
    use crate::study_id::{StudyId, StudyIndex};

    fn studies() -> StudyIndex {
        StudyIndex::new(
            ["s1", "s2", "s3"]
                .iter()
                .map(|s| StudyId::parse(s).unwrap())
                .collect(),
        )
    }

    fn parse(text: &str) -> (Option<Table>, Vec<String>) {
        let mut problems = Problems::default();
        let table = parse_table(
            "predictions.csv",
            text.as_bytes(),
            &studies(),
            &mut problems,
        );
        (table, problems.lines())
    }

    #[test]
    fn a_plain_table_is_read_in_study_order() {
        let (table, problems) = parse("study_id,covid_probability\ns3,0.3\ns1,0.1\ns2,0.2\n");
        assert!(problems.is_empty(), "{problems:?}");
        let table = table.unwrap();
        assert_eq!(table.covid_probability, Some(vec![0.1, 0.2, 0.3]));
        assert_eq!(table.affected_percent, None);
    }

    #[test]
    fn crlf_a_bom_reordered_columns_and_spaces_are_accepted() {
        let text = "\u{feff}affected_percent, study_id ,covid_probability\r\n12.5,s1,1\r\n0, s2,0\r\n100,s3,0.5\r\n";
        let (table, problems) = parse(text);
        assert!(problems.is_empty(), "{problems:?}");
        let table = table.unwrap();
        assert_eq!(table.affected_percent, Some(vec![12.5, 0.0, 100.0]));
        assert_eq!(table.covid_probability, Some(vec![1.0, 0.0, 0.5]));
    }

    #[test]
    fn every_problem_is_listed_with_its_line() {
        let text = "study_id,covid_probability\ns1,1.3\ns2,abc\ns2,0.1\nnope,0.5\ns3,\n";
        let (table, problems) = parse(text);
        assert!(table.is_none());
        assert_eq!(
            problems,
            vec![
                "predictions.csv line 2: covid_probability \"1.3\" is outside [0, 1]",
                "predictions.csv line 3: covid_probability \"abc\" is not a number",
                "predictions.csv line 4: study_id \"s2\" already appears on line 3",
                "predictions.csv line 5: study_id \"nope\" is not a study of the test set",
                "predictions.csv line 6: covid_probability is empty; expected a number",
            ]
        );
    }

    #[test]
    fn unknown_and_repeated_columns_are_errors() {
        let (_, problems) = parse("study_id,covid_prob,study_id\ns1,1,s1\n");
        assert_eq!(
            problems,
            vec![
                "predictions.csv line 1: unknown column \"covid_prob\"; the columns are study_id, covid_probability and affected_percent",
                "predictions.csv line 1: column \"study_id\" appears twice",
            ]
        );
    }

    #[test]
    fn a_table_without_prediction_columns_is_an_error() {
        let (_, problems) = parse("study_id\ns1\ns2\ns3\n");
        assert_eq!(
            problems,
            vec![
                "predictions.csv line 1: the header needs covid_probability, affected_percent or both beside study_id"
            ]
        );
    }

    #[test]
    fn non_finite_values_and_short_rows_are_errors() {
        let (_, problems) = parse("study_id,affected_percent\ns1,NaN\ns2,inf\ns3\n");
        assert_eq!(
            problems,
            vec![
                "predictions.csv line 2: affected_percent \"NaN\" is not a finite number",
                "predictions.csv line 3: affected_percent \"inf\" is not a finite number",
                "predictions.csv line 4: expected 2 fields as in the header, found 1",
                "predictions.csv: every test study needs a row; 1 missing: s3",
            ]
        );
    }

    #[test]
    fn invalid_utf8_and_empty_files_are_reported() {
        let mut problems = Problems::default();
        let bytes = b"study_id,covid_probability\ns1,\xff\n";
        assert!(parse_table("predictions.csv", bytes, &studies(), &mut problems).is_none());
        assert!(
            problems.messages()[0]
                .starts_with("predictions.csv line 2: the text is not valid UTF-8"),
            "{problems}"
        );
        let (_, problems) = parse("");
        assert_eq!(problems.len(), 1);
    }
}
