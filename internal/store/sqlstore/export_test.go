package sqlstore

// SetSnapshotsFromWrites turns building created users' snapshots from their writes on or off.
func SetSnapshotsFromWrites(on bool) { readBackSnapshots.Store(!on) }

// BuiltFromWrites counts the snapshots built from their writes so far.
func BuiltFromWrites() int64 { return builtFromWrites.Load() }

// BatchedLookups counts the statements the userName lookup batcher ran so far.
func BatchedLookups() int64 { return batchedLookups.Load() }

func BatchedReadsByID() int64 { return batchedReadsByID.Load() }

// ReadAheadsGivenUp counts member read-aheads given up because the member changed while waiting.
func ReadAheadsGivenUp() int64 { return readAheadsGivenUp.Load() }

// OneStatementCreates counts creates made in one statement, and SpeculationsGivenUp those that
// ran again the usual way.
func OneStatementCreates() int64 { return oneStatementCreates.Load() }
func SpeculationsGivenUp() int64 { return speculationsGivenUp.Load() }

// OneStatementUpdates counts user updates made in one statement.
func OneStatementUpdates() int64 { return oneStatementUpdates.Load() }

// SetPrefetchSnapshots turns reading the members of a write's events together on or off.
func SetPrefetchSnapshots(on bool) { noPrefetch.Store(!on) }

func PrefetchedMembers() int64 { return prefetchedMembers.Load() }

// BatchedReads are the statements of the batched reads on PostgreSQL, with their parameters' types.
func BatchedReads(s *Store) []struct{ Name, Query, Types string } {
	return []struct{ Name, Query, Types string }{
		{"by userName", s.q(s.lookups.query), "text[], text[]"},
		{"by id", s.q(s.reads.query), "text[], text[]"},
		{"by id for an update", s.q(s.readsForUpdate.query), "text[], text[]"},
		{"member snapshots", s.q(memberSnapshotQuery(s.d, true, 0)), "text[], text"},
	}
}

// GroupUpdatesWithTheirChange counts groups' UPDATEs made in their change of one member's statement.
func GroupUpdatesWithTheirChange() int64 { return groupUpdatesWithTheirChange.Load() }
