//! CSV with a header line (RFC 4180 quoting within a line): the header's column names go
//! through the field map (ECS names by default).

use crate::map::{FieldMap, Target};
use crate::record::Record;

#[derive(Debug, Clone, Default)]
pub(crate) struct CsvState {
    columns: Vec<Option<Target>>,
    have_header: bool,
    cell: String,
}

/// Splits one CSV line, calling `f(index, cell)` for each cell. Quoted cells may hold commas and
/// doubled quotes; a quoted cell must be closed on the same line.
fn split(line: &str, cell: &mut String, mut f: impl FnMut(usize, &str)) -> Result<usize, String> {
    let b = line.as_bytes();
    let mut i = 0;
    let mut idx = 0;
    loop {
        cell.clear();
        if b.get(i) == Some(&b'"') {
            let open = i;
            i += 1;
            loop {
                match b.get(i) {
                    None => {
                        return Err(format!(
                            "quoted cell opened at column {} is not closed",
                            open + 1
                        ));
                    }
                    Some(b'"') if b.get(i + 1) == Some(&b'"') => {
                        cell.push('"');
                        i += 2;
                    }
                    Some(b'"') => {
                        i += 1;
                        break;
                    }
                    Some(_) => {
                        let c = line[i..].chars().next().expect("char boundary");
                        cell.push(c);
                        i += c.len_utf8();
                    }
                }
            }
            if !matches!(b.get(i), None | Some(b',')) {
                return Err(format!("text after a closing quote at column {}", i + 1));
            }
            f(idx, cell);
        } else {
            let end = line[i..].find(',').map_or(line.len(), |p| i + p);
            f(idx, &line[i..end]);
            i = end;
        }
        idx += 1;
        if i >= b.len() {
            return Ok(idx);
        }
        i += 1; // the comma
        if i == b.len() {
            f(idx, "");
            return Ok(idx + 1);
        }
    }
}

impl CsvState {
    pub(crate) fn has_header(&self) -> bool {
        self.have_header
    }

    pub(crate) fn read_line(
        &mut self,
        map: &FieldMap,
        line: &str,
        rec: &mut Record,
    ) -> Result<bool, String> {
        rec.clear();
        if line.trim().is_empty() {
            return Ok(false);
        }
        let mut cell = std::mem::take(&mut self.cell);
        let result = if !self.have_header {
            let mut cols = Vec::new();
            let r = split(line, &mut cell, |_, name| cols.push(map.get(name.trim())));
            r.and_then(|_| {
                if cols.iter().all(Option::is_none) {
                    return Err("no column of the CSV header names a known field".into());
                }
                self.columns = cols;
                self.have_header = true;
                Ok(false)
            })
        } else {
            let columns = &self.columns;
            let r = split(line, &mut cell, |i, v| {
                match columns.get(i).copied().flatten() {
                    Some(Target::Field(f)) => {
                        let _ = rec.push(f, v);
                    }
                    Some(Target::IfIp(f)) if v.trim().parse::<std::net::IpAddr>().is_ok() => {
                        let _ = rec.push(f, v);
                    }
                    Some(Target::IfIp(_)) => {}
                    Some(Target::Timestamp) => rec.set_timestamp_text(v, false),
                    None => {}
                }
            });
            match r {
                Ok(n) if n == self.columns.len() => Ok(true),
                Ok(n) => {
                    rec.clear();
                    Err(format!(
                        "{n} cells where the header names {}",
                        self.columns.len()
                    ))
                }
                Err(e) => {
                    rec.clear();
                    Err(e)
                }
            }
        };
        self.cell = cell;
        result
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::field::Field;

    #[test]
    fn quoting_and_errors() {
        let mut map = FieldMap::ecs();
        map.extend_from_spec("ts=@timestamp,src=source.ip").unwrap();
        let mut c = CsvState::default();
        let mut rec = Record::new();
        assert!(!c.read_line(&map, "ts,src,note,url.full", &mut rec).unwrap());
        assert!(
            c.read_line(
                &map,
                r#"2024-05-01T12:00:00Z,10.0.0.1,"a, ""quoted"" note","http://x/?a=1,2""#,
                &mut rec
            )
            .unwrap()
        );
        assert_eq!(rec.get(Field::SourceIp), Some("10.0.0.1"));
        assert_eq!(rec.get(Field::UrlFull), Some("http://x/?a=1,2"));
        assert!(rec.timestamp().is_some());
        assert!(
            c.read_line(&map, "2024-05-01T12:00:00Z,10.0.0.1,,", &mut rec)
                .unwrap()
        );
        assert_eq!(
            c.read_line(&map, "a,b", &mut rec).unwrap_err(),
            "2 cells where the header names 4"
        );
        assert!(
            c.read_line(&map, r#"a,"b,c,d"#, &mut rec)
                .unwrap_err()
                .contains("not closed")
        );
        let mut bad = CsvState::default();
        assert!(bad.read_line(&map, "x,y", &mut rec).is_err());
    }
}
