package sqlstore

import (
	"database/sql/driver"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// batchRows is a pgx batch's query result as database/sql rows (pipelined_tx.go). Each column
// becomes the driver value pgx's own database/sql rows give for its type, so the store scans
// them alike: booleans as bool, integers as int64, floats as float64, bytea and JSON as []byte,
// timestamps as time.Time, everything else as its text.
type batchRows struct {
	rows   pgx.Rows
	batch  pgx.BatchResults
	values []func(src []byte) (driver.Value, error)
	names  []string
	// first: the first row is read ahead, as pgx's rows do, so that the statement's error comes
	// from the query and its columns are known; more is whether there was one.
	first, more bool
}

func newBatchRows(conn *pgx.Conn, rows pgx.Rows, batch pgx.BatchResults) (*batchRows, error) {
	more := rows.Next()
	if err := rows.Err(); err != nil {
		rows.Close()
		_ = batch.Close()
		return nil, err
	}
	fields := rows.FieldDescriptions()
	r := &batchRows{rows: rows, batch: batch, values: make([]func([]byte) (driver.Value, error), len(fields)), names: make([]string, len(fields)),
		first: true, more: more}
	m := conn.TypeMap()
	for i, fd := range fields {
		r.names[i] = fd.Name
		r.values[i] = valueOf(m, fd.DataTypeOID, fd.Format)
	}
	return r, nil
}

// valueOf converts one column's wire value, as pgx's database/sql rows do (stdlib.Rows).
func valueOf(m *pgtype.Map, oid uint32, format int16) func([]byte) (driver.Value, error) {
	switch oid {
	case pgtype.BoolOID:
		return scanAs[bool](m, oid, format)
	case pgtype.Int2OID, pgtype.Int4OID, pgtype.Int8OID:
		return scanAs[int64](m, oid, format)
	case pgtype.Float4OID, pgtype.Float8OID:
		return scanAs[float64](m, oid, format)
	case pgtype.ByteaOID, pgtype.JSONOID, pgtype.JSONBOID:
		return scanAs[[]byte](m, oid, format)
	case pgtype.TimestampOID:
		return scanValuer[pgtype.Timestamp](m, oid, format)
	case pgtype.TimestamptzOID:
		return scanValuer[pgtype.Timestamptz](m, oid, format)
	default:
		return scanAs[string](m, oid, format)
	}
}

func scanAs[T any](m *pgtype.Map, oid uint32, format int16) func([]byte) (driver.Value, error) {
	var d T
	plan := m.PlanScan(oid, format, &d)
	return func(src []byte) (driver.Value, error) {
		err := plan.Scan(src, &d)
		return d, err
	}
}

func scanValuer[T any, PT interface {
	*T
	driver.Valuer
}](m *pgtype.Map, oid uint32, format int16) func([]byte) (driver.Value, error) {
	var d T
	plan := m.PlanScan(oid, format, &d)
	return func(src []byte) (driver.Value, error) {
		if err := plan.Scan(src, &d); err != nil {
			return nil, err
		}
		return PT(&d).Value()
	}
}

func (r *batchRows) Columns() []string { return r.names }

func (r *batchRows) Close() error {
	r.rows.Close()
	err := r.rows.Err()
	if cerr := r.batch.Close(); err == nil {
		err = cerr
	}
	return err
}

func (r *batchRows) Next(dest []driver.Value) error {
	more := r.more
	if r.first {
		r.first = false
	} else {
		more = r.rows.Next()
	}
	if !more {
		if err := r.rows.Err(); err != nil {
			return err
		}
		return io.EOF
	}
	for i, raw := range r.rows.RawValues() {
		if raw == nil {
			dest[i] = nil
			continue
		}
		v, err := r.values[i](raw)
		if err != nil {
			return fmt.Errorf("converting column %s: %w", r.names[i], err)
		}
		dest[i] = v
	}
	return nil
}
