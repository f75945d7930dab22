//! Knowledge-base import and export formats: a JSON array of articles, or CSV with the same
//! columns (`similar` and `tags` separated by `|`).
//!
//! Parsing is per row: a broken row is reported with the line it starts on, the valid rows
//! are kept. Only input that is not an array or a CSV table at all fails as a whole.

use crate::knowledge::{parse_article, ArticleIn, RowError, MAX_IMPORT_ROWS};
use serde_json::value::RawValue;

/// Why a whole import was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ImportError {
    #[error("the body is not a JSON array of articles: {0}")]
    NotAnArray(String),
    #[error("the CSV has no header row with `question` and `answer` columns")]
    MissingColumns,
    #[error("an import carries at most {MAX_IMPORT_ROWS} rows; this one has more")]
    TooManyRows,
}

/// Valid articles and the broken rows.
pub type Parsed = (Vec<kb::Article>, Vec<RowError>);

fn line_of(body: &[u8], part: &str) -> u64 {
    let offset = (part.as_ptr() as usize)
        .saturating_sub(body.as_ptr() as usize)
        .min(body.len());
    1 + body[..offset].iter().filter(|&&b| b == b'\n').count() as u64
}

/// Parses a JSON array of articles.
pub fn parse_json(body: &[u8]) -> Result<Parsed, ImportError> {
    let items: Vec<&RawValue> =
        serde_json::from_slice(body).map_err(|e| ImportError::NotAnArray(e.to_string()))?;
    if items.len() > MAX_IMPORT_ROWS {
        return Err(ImportError::TooManyRows);
    }
    let mut articles = Vec::new();
    let mut errors = Vec::new();
    for raw in items {
        let line = line_of(body, raw.get());
        let id = serde_json::from_str::<serde_json::Value>(raw.get())
            .ok()
            .and_then(|v| v.get("id").and_then(|id| id.as_str()).map(str::to_owned));
        let parsed = serde_json::from_str::<ArticleIn>(raw.get())
            .map_err(|e| e.to_string())
            .and_then(|input| parse_article(input, None));
        match parsed {
            Ok(article) => articles.push(article),
            Err(message) => errors.push(RowError { line, id, message }),
        }
    }
    Ok((articles, errors))
}

fn split_list(value: &str) -> Vec<String> {
    value
        .split('|')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn parse_bool(value: &str) -> Result<Option<bool>, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "" => Ok(None),
        "true" | "1" | "yes" | "y" => Ok(Some(true)),
        "false" | "0" | "no" | "n" => Ok(Some(false)),
        other => Err(format!("enabled must be true or false, not {other:?}")),
    }
}

/// Parses CSV with a header row naming the columns (any order; unknown columns are ignored).
pub fn parse_csv(body: &[u8]) -> Result<Parsed, ImportError> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(body);
    let headers: Vec<String> = reader
        .headers()
        .map_err(|_| ImportError::MissingColumns)?
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    let column = |name: &str| headers.iter().position(|h| h == name);
    let (Some(question_col), Some(answer_col)) = (column("question"), column("answer")) else {
        return Err(ImportError::MissingColumns);
    };
    let (id_col, similar_col, category_col, locale_col, tags_col, enabled_col) = (
        column("id"),
        column("similar"),
        column("category"),
        column("locale"),
        column("tags"),
        column("enabled"),
    );

    let mut articles = Vec::new();
    let mut errors = Vec::new();
    for (n, record) in reader.records().enumerate() {
        if n >= MAX_IMPORT_ROWS {
            return Err(ImportError::TooManyRows);
        }
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                errors.push(RowError {
                    line,
                    id: None,
                    message: format!("unreadable row: {e}"),
                });
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        let get = |col: Option<usize>| col.and_then(|c| record.get(c)).map(str::to_owned);
        let id = get(id_col).filter(|s| !s.trim().is_empty());
        let parsed = parse_bool(&get(enabled_col).unwrap_or_default()).and_then(|enabled| {
            parse_article(
                ArticleIn {
                    id: id.clone(),
                    question: get(Some(question_col)),
                    similar: split_list(&get(similar_col).unwrap_or_default()),
                    answer: get(Some(answer_col)),
                    category: get(category_col).filter(|s| !s.trim().is_empty()),
                    locale: get(locale_col).filter(|s| !s.trim().is_empty()),
                    tags: split_list(&get(tags_col).unwrap_or_default()),
                    enabled,
                },
                None,
            )
        });
        match parsed {
            Ok(article) => articles.push(article),
            Err(message) => errors.push(RowError { line, id, message }),
        }
    }
    Ok((articles, errors))
}

/// Writes articles as CSV with the import's columns.
pub fn to_csv(articles: &[kb::Article]) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record([
        "id", "question", "similar", "answer", "category", "locale", "tags", "enabled",
    ])?;
    for a in articles {
        writer.write_record([
            a.id.as_str(),
            a.question.as_str(),
            &a.similar.join("|"),
            a.answer.as_str(),
            a.category.as_str(),
            a.locale.as_str(),
            &a.tags.join("|"),
            if a.enabled { "true" } else { "false" },
        ])?;
    }
    writer
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_rows_are_parsed_one_by_one_with_their_line() {
        let body = r#"[
  {"id": "a", "question": "多久发货", "answer": "48小时内", "category": "shipping"},
  {"id": "b", "question": "", "answer": "x"},
  {"id": "c", "question": "q", "answer": "a", "category": "nonsense"},
  {"question": "怎么开发票", "answer": "订单页申请", "category": "invoice", "similar": ["发票", "发票"]}
]"#;
        let (articles, errors) = parse_json(body.as_bytes()).expect("an array");
        assert_eq!(articles.len(), 2);
        assert_eq!(articles[1].similar, ["发票"]);
        assert_eq!(
            errors
                .iter()
                .map(|e| (e.line, e.id.as_deref()))
                .collect::<Vec<_>>(),
            [(3, Some("b")), (4, Some("c"))]
        );
        assert!(errors[0].message.contains("question"));
        assert!(parse_json(b"{\"question\": 1}").is_err());
    }

    #[test]
    fn csv_rows_are_parsed_with_lists_and_their_line() {
        let body = "\u{FEFF}id,question,similar,answer,category,locale,tags,enabled\n\
                    s1,多久发货,什么时候发货|几天发货,48小时内发货,shipping,zh-CN,物流,true\n\
                    s2,,x,y,shipping,zh-CN,,\n\
                    s3,\"Where is my order, please?\",track order,See Orders,order_status,en,,no\n\
                    s4,q,,a,shipping,fr,,\n";
        let (articles, errors) = parse_csv(body.as_bytes()).expect("a table");
        assert_eq!(articles.len(), 2);
        assert_eq!(articles[0].similar, ["什么时候发货", "几天发货"]);
        assert_eq!(articles[0].tags, ["物流"]);
        assert_eq!(articles[1].question, "Where is my order, please?");
        assert!(!articles[1].enabled);
        assert_eq!(
            errors
                .iter()
                .map(|e| (e.line, e.id.as_deref()))
                .collect::<Vec<_>>(),
            [(3, Some("s2")), (5, Some("s4"))]
        );
        assert_eq!(
            parse_csv(b"foo,bar\n1,2\n"),
            Err(ImportError::MissingColumns)
        );
    }

    #[test]
    fn csv_export_imports_back_unchanged() {
        let articles = vec![kb::Article {
            id: "x".into(),
            question: "a, \"quoted\" question".into(),
            similar: vec!["one".into(), "two".into()],
            answer: "line1\nline2".into(),
            category: "other".into(),
            locale: "en".into(),
            tags: vec!["t".into()],
            enabled: false,
        }];
        let csv = to_csv(&articles).expect("writes");
        let (back, errors) = parse_csv(&csv).expect("reads");
        assert!(errors.is_empty());
        assert_eq!(back, articles);
    }
}
