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

// SetPrefetchSnapshots turns reading the members of a write's events together on or off.
func SetPrefetchSnapshots(on bool) { noPrefetch.Store(!on) }

func PrefetchedMembers() int64 { return prefetchedMembers.Load() }
