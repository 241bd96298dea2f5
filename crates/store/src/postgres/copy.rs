//! Points in PostgreSQL's binary `COPY` format: what an ingest commit sends to insert its
//! batch. `COPY` inserts the rows of a batch together (PostgreSQL's multi-insert: a page's
//! rows under one lock and one WAL record) where `INSERT` inserts and logs them one by one,
//! and binary values are neither formatted here nor parsed there.
//!
//! The format (PostgreSQL's `COPY` page, "Binary Format"): a signature, a flags word and a
//! header-extension length; then each row as its number of fields and each field as its
//! length (-1 for NULL) and its value in the type's binary form, big-endian; then -1.

use std::borrow::Borrow;

use crate::shared::PointRow;
use crate::{Result, StoreError};

/// `PGCOPY\n\377\r\n\0`, then no flags (no OIDs) and no header extension.
const HEADER: &[u8; 19] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";
const TRAILER: [u8; 2] = (-1i16).to_be_bytes();
/// The columns of `point_columns!`.
const FIELDS: i16 = 26;

/// The rows' `COPY` data, in the order of `point_columns!`.
pub(crate) fn points<'p, R: Borrow<PointRow<'p>>>(rows: &[R]) -> Result<Vec<u8>> {
    // Most of a row is its 8-byte values, their lengths and its JSON.
    let size: usize = rows
        .iter()
        .map(|r| 200 + r.borrow().io.len() + r.borrow().alarms.len())
        .sum();
    let mut out = Buf(Vec::with_capacity(HEADER.len() + size + TRAILER.len()));
    out.0.extend_from_slice(HEADER);
    for r in rows {
        let r = r.borrow();
        out.0.extend_from_slice(&FIELDS.to_be_bytes());
        out.int8(Some(r.tracker_id));
        out.int8(Some(r.time));
        out.int8(Some(r.received_at));
        out.float8(r.lat);
        out.float8(r.lng);
        out.float8(r.altitude);
        out.float8(r.speed);
        out.float8(r.heading);
        out.int4(r.satellites);
        out.float8(r.hdop);
        out.bool(r.valid);
        out.bool(r.lbs);
        out.bool(r.ignition);
        out.bool(r.motion);
        out.int4(r.battery_level);
        out.int8(r.inputs);
        out.int8(r.outputs);
        out.int4(r.gsm_signal);
        out.int4(r.mcc);
        out.int4(r.mnc);
        out.int8(r.lac);
        out.int8(r.cell_id);
        out.text(r.hardware_key)?;
        out.text(Some(r.io))?;
        out.text(Some(r.alarms))?;
        out.bool(Some(r.buffered));
    }
    out.0.extend_from_slice(&TRAILER);
    Ok(out.0)
}

struct Buf(Vec<u8>);

impl Buf {
    /// A value whose length fits, as the fixed-width ones all do.
    fn field(&mut self, value: Option<&[u8]>) {
        match value {
            None => self.0.extend_from_slice(&(-1i32).to_be_bytes()),
            Some(bytes) => {
                let len = i32::try_from(bytes.len()).unwrap_or(i32::MAX);
                self.0.extend_from_slice(&len.to_be_bytes());
                self.0.extend_from_slice(bytes);
            }
        }
    }

    fn int8(&mut self, v: Option<i64>) {
        self.field(v.map(i64::to_be_bytes).as_ref().map(|b| &b[..]));
    }

    fn int4(&mut self, v: Option<i32>) {
        self.field(v.map(i32::to_be_bytes).as_ref().map(|b| &b[..]));
    }

    /// `float8send`: the IEEE 754 bits, so a value is stored exactly as it was decoded.
    fn float8(&mut self, v: Option<f64>) {
        self.field(
            v.map(|x| x.to_bits().to_be_bytes())
                .as_ref()
                .map(|b| &b[..]),
        );
    }

    fn bool(&mut self, v: Option<bool>) {
        self.field(v.map(|b| [u8::from(b)]).as_ref().map(|b| &b[..]));
    }

    /// A point's readings or alarms as JSON, or its hardware key. A frame is far smaller
    /// than the 2 GiB a length can say, but a batch is refused rather than sent corrupt.
    fn text(&mut self, v: Option<&str>) -> Result<()> {
        if v.is_some_and(|t| i32::try_from(t.len()).is_err()) {
            return Err(StoreError::Invalid("a point's text over 2 GiB".into()));
        }
        self.field(v.map(str::as_bytes));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EncodedPoint;
    use trackd_core::point::{Point, Position};
    use trackd_core::TrackerId;

    fn encoded(p: Point) -> EncodedPoint {
        EncodedPoint::new(p).expect("a point to store")
    }

    /// Reads the fields of the one row in `data` back, as (length, bytes) pairs.
    fn fields(data: &[u8]) -> Vec<Option<Vec<u8>>> {
        assert_eq!(&data[..19], HEADER);
        assert_eq!(&data[data.len() - 2..], &TRAILER);
        let mut at = 19;
        let take = |at: &mut usize, n: usize| {
            let s = data[*at..*at + n].to_vec();
            *at += n;
            s
        };
        let count = i16::from_be_bytes(take(&mut at, 2).try_into().unwrap());
        assert_eq!(count, FIELDS);
        let out = (0..count)
            .map(|_| {
                let len = i32::from_be_bytes(take(&mut at, 4).try_into().unwrap());
                (len >= 0).then(|| take(&mut at, len as usize))
            })
            .collect();
        assert_eq!(at, data.len() - 2, "one row, then the trailer");
        out
    }

    #[test]
    fn a_row_is_its_fields_in_column_order_nulls_as_minus_one() {
        let mut p = Point::empty(TrackerId(7), 1_700_000_000_123, 1_700_000_000_456);
        p.position = Some(Position {
            lat: 52.5,
            lng: -13.25,
            altitude: None,
            speed: Some(0.1),
            heading: None,
            satellites: Some(9),
            hdop: None,
            valid: true,
            lbs: false,
        });
        p.ignition = Some(true);
        p.battery_level = Some(80);
        p.hardware_key = Some("k\t\\1".into());
        p.alarms = vec!["sos".into()];
        p.buffered = true;
        let p = encoded(p);
        let f = fields(&points(&[PointRow::of(&p)]).unwrap());
        let be8 = |v: i64| Some(v.to_be_bytes().to_vec());
        let f8 = |v: f64| Some(v.to_bits().to_be_bytes().to_vec());
        let be4 = |v: i32| Some(v.to_be_bytes().to_vec());
        let b = |v: bool| Some(vec![u8::from(v)]);
        let t = |v: &str| Some(v.as_bytes().to_vec());
        assert_eq!(
            f,
            vec![
                be8(7),
                be8(1_700_000_000_123),
                be8(1_700_000_000_456),
                f8(52.5),
                f8(-13.25),
                None,
                f8(0.1),
                None,
                be4(9),
                None,
                b(true),
                b(false),
                b(true),
                None,
                be4(80),
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                t("k\t\\1"),
                t("{}"),
                t("[\"sos\"]"),
                b(true),
            ]
        );
    }

    #[test]
    fn no_rows_is_the_header_and_the_trailer() {
        let data = points::<PointRow<'_>>(&[]).unwrap();
        assert_eq!(data.len(), 21);
        assert_eq!(&data[..19], HEADER);
        assert_eq!(data[19..], [0xff, 0xff]);
    }

    #[test]
    fn rows_follow_each_other() {
        let a = encoded(Point::empty(TrackerId(1), 10, 10));
        let b = encoded(Point::empty(TrackerId(2), 20, 20));
        let row = PointRow::of;
        let both = points(&[row(&a), row(&b)]).unwrap();
        let one = points(&[row(&a)]).unwrap();
        let other = points(&[row(&b)]).unwrap();
        let body = |d: &[u8]| d[19..d.len() - 2].to_vec();
        assert_eq!(body(&both), [body(&one), body(&other)].concat());
    }
}
