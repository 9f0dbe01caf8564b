package sqlstore

import (
	"context"
	"database/sql"
	"sync/atomic"
)

// pruneChunk bounds the rows one pruning transaction deletes. A retention shortened over millions
// of rows (an identity provider writing at its rate limit for a day, then `retention: 1h`) was one
// transaction: on SQLite it held the one writer every organization's writes queue for, for as long
// as it took, and on PostgreSQL it was one huge transaction holding back vacuum.
var pruneChunk atomic.Int64

func init() { pruneChunk.Store(5000) }

// pruneInChunks runs deleteSome, each time in a transaction of its own, until it deletes fewer
// rows than it may (limit) or ctx ends, and returns how many it deleted in all. Between two
// transactions other writes take their turn.
func (s *Store) pruneInChunks(ctx context.Context, deleteSome func(tx *sql.Tx, limit int) (int64, error)) (int64, error) {
	limit := int(pruneChunk.Load())
	var total int64
	for {
		var n int64
		err := s.inTx(ctx, func(tx *sql.Tx) error {
			var err error
			n, err = deleteSome(tx, limit)
			return err
		})
		if err != nil {
			return total, err
		}
		total += n
		if n < int64(limit) {
			return total, nil
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
		if h := betweenPruneChunks.Load(); h != nil {
			(*h)()
		}
	}
}

// betweenPruneChunks, when set, runs between two pruning transactions (tests).
var betweenPruneChunks atomic.Pointer[func()]
