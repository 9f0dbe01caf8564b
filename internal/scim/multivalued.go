package scim

import "slices"

// Multi-valued attribute edits for PATCH, each one pass over the list (valuekey.go): an operation
// carrying many values hashes them and the list, so its cost grows with the list plus the values;
// one carrying a few compares them with each element directly, which is cheaper than keying the
// list when a PATCH has many one-value operations (1,000 of them on a 1,000-value list: 0.6 s
// keyed, see BenchmarkApplyPatchWorstAdmitted).

// fewValues is how many values an operation may carry and still be compared directly.
const fewValues = 4

// appendMissing appends the values not already in list (nor earlier among values) and returns
// the list with the indexes of what it appended (RFC 7644 §3.5.2.1: add appends values not
// already present).
func appendMissing(list, values []any) ([]any, []int) {
	if len(values) <= fewValues {
		return appendMissingFew(list, values)
	}
	seen := make(map[string]struct{}, len(list)+len(values))
	for _, e := range list {
		seen[valueKey(e)] = struct{}{}
	}
	added := []int{}
	for _, v := range values {
		k := valueKey(v)
		if _, ok := seen[k]; ok {
			continue
		}
		seen[k] = struct{}{}
		list = append(list, v)
		added = append(added, len(list)-1)
	}
	return list, added
}

func appendMissingFew(list, values []any) ([]any, []int) {
	added := []int{}
	for _, v := range values {
		if !slices.ContainsFunc(list, func(e any) bool { return sameValue(e, v) }) {
			list = append(list, v)
			added = append(added, len(list)-1)
		}
	}
	return list, added
}

// removeValues drops the elements equal to one of values and, for object values with a "value",
// the elements with that same "value" (Entra removes members and emails by value alone).
func removeValues(list, values []any) []any {
	if len(values) <= fewValues {
		return slices.DeleteFunc(list, func(e any) bool { return matchesAny(e, values) })
	}
	whole := make(map[string]struct{}, len(values))
	byValue := map[string]struct{}{}
	for _, v := range values {
		whole[valueKey(v)] = struct{}{}
		if m, ok := v.(map[string]any); ok && m["value"] != nil {
			byValue[valueKey(m["value"])] = struct{}{}
		}
	}
	out := list[:0]
	for _, e := range list {
		if _, ok := whole[valueKey(e)]; ok {
			continue
		}
		if m, ok := e.(map[string]any); ok && m["value"] != nil && len(byValue) > 0 {
			if _, ok := byValue[valueKey(m["value"])]; ok {
				continue
			}
		}
		out = append(out, e)
	}
	return out
}

// matchesAny is removeValues' test for one element, by direct comparison.
func matchesAny(e any, values []any) bool {
	m, _ := e.(map[string]any)
	for _, v := range values {
		if sameValue(e, v) {
			return true
		}
		if want, ok := v.(map[string]any); ok && m != nil && want["value"] != nil && m["value"] != nil && sameValue(m["value"], want["value"]) {
			return true
		}
	}
	return false
}

// dropIndexes removes the elements at the given ascending indexes, in one pass.
func dropIndexes(list []any, indexes []int) []any {
	out := list[:0]
	next := 0
	for i, e := range list {
		if next < len(indexes) && indexes[next] == i {
			next++
			continue
		}
		out = append(out, e)
	}
	return out
}
