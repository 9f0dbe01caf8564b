package scim

// idSet is an insertion-ordered set of ids with constant-time put, drop and membership: member
// operations keep the order in which ids were named (the store applies them in that order)
// without searching a slice for every id.
type idSet struct {
	order []string       // ids in insertion order, including dropped ones
	at    map[string]int // live id → its index in order
}

// put adds id at the end unless it is already present (then it keeps its place).
func (s *idSet) put(id string) {
	if _, ok := s.at[id]; ok {
		return
	}
	if s.at == nil {
		s.at = map[string]int{}
	}
	s.at[id] = len(s.order)
	s.order = append(s.order, id)
}

// drop removes id; a later put adds it at the end again.
func (s *idSet) drop(id string) { delete(s.at, id) }

func (s *idSet) len() int { return len(s.at) }

func (s *idSet) reset() { *s = idSet{} }

// list is the live ids in order (nil when empty).
func (s *idSet) list() []string {
	if len(s.at) == 0 {
		return nil
	}
	out := make([]string, 0, len(s.at))
	for i, id := range s.order {
		if j, live := s.at[id]; live && j == i {
			out = append(out, id)
		}
	}
	return out
}
