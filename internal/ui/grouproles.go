package ui

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
)

// maxGroupRoles is the most group role mappings a ScimIntegration holds (its CRD's MaxItems).
const maxGroupRoles = 100

// groupRoleRow is one group → role mapping of the provisioning form, as shown and as posted. Rows
// are posted as groupRoles.<i>.position, .group, .roleTemplate and .remove, the row to add as
// groupRoles.new.…; the order is the positions the admin entered, which is how a mapping moves.
type groupRoleRow struct {
	// Index names the row's fields; Position is where the admin wants it (1 first).
	Index                         string
	Position, Group, RoleTemplate string
	Remove                        bool
	// Missing says no RoleTemplate of this name exists (the select still offers it, so saving
	// other fields does not drop the mapping).
	Missing bool
}

// groupRoleRows are the rows of a ScimIntegration's mappings, in order, and the empty row to add one.
func groupRoleRows(mappings []v1alpha1.GroupRoleMapping, roles []roleOption) (rows []groupRoleRow, add groupRoleRow) {
	rows = make([]groupRoleRow, 0, len(mappings))
	for i, m := range mappings {
		rows = append(rows, groupRoleRow{Index: strconv.Itoa(i), Position: strconv.Itoa(i + 1), Group: m.Group, RoleTemplate: m.RoleTemplate})
	}
	markMissing(rows, roles)
	return rows, groupRoleRow{Index: "new"}
}

func markMissing(rows []groupRoleRow, roles []roleOption) {
	for i := range rows {
		rows[i].Missing = rows[i].RoleTemplate != "" && !slices.ContainsFunc(roles, func(o roleOption) bool { return o.Name == rows[i].RoleTemplate })
	}
}

// postedGroupRoles reads the mapping rows of a posted provisioning form; shown is false when the
// form carried no mapping editor (a client that does not know the field), which leaves the
// mappings as they are.
func postedGroupRoles(r *http.Request, roles []roleOption) (rows []groupRoleRow, add groupRoleRow, shown bool) {
	if r.PostFormValue("groupRoles") == "" {
		return nil, groupRoleRow{Index: "new"}, false
	}
	row := func(index string) groupRoleRow {
		prefix := "groupRoles." + index + "."
		return groupRoleRow{Index: index, Position: strings.TrimSpace(r.PostFormValue(prefix + "position")),
			Group: strings.TrimSpace(r.PostFormValue(prefix + "group")), RoleTemplate: r.PostFormValue(prefix + "roleTemplate"),
			Remove: r.PostFormValue(prefix+"remove") == "on"}
	}
	for i := 0; i <= maxGroupRoles; i++ {
		if _, ok := r.PostForm["groupRoles."+strconv.Itoa(i)+".group"]; !ok {
			break
		}
		rows = append(rows, row(strconv.Itoa(i)))
	}
	markMissing(rows, roles)
	return rows, row("new"), true
}

// groupRoleMappings turns the posted rows into the mappings to write, in the order their positions
// say (rows whose position is empty or unchanged keep their place; the new row goes last unless
// given one), or the problems to fix.
func groupRoleMappings(rows []groupRoleRow, add groupRoleRow) ([]v1alpha1.GroupRoleMapping, []string) {
	type ordered struct {
		at      float64
		mapping v1alpha1.GroupRoleMapping
	}
	var (
		kept     []ordered
		problems []string
	)
	consider := func(row groupRoleRow, name string, defaultAt float64) {
		if row.Remove || (row.Group == "" && row.RoleTemplate == "") {
			return
		}
		switch {
		case row.Group == "":
			problems = append(problems, name+": enter the identity provider group, or tick Remove.")
			return
		case row.RoleTemplate == "":
			problems = append(problems, name+": choose the role members of "+row.Group+" get.")
			return
		case len(row.Group) > 256:
			problems = append(problems, name+": a group name has at most 256 characters.")
			return
		}
		at := defaultAt
		if row.Position != "" {
			n, err := strconv.Atoi(row.Position)
			if err != nil || n < 1 {
				problems = append(problems, name+": the order is a whole number of at least 1 (1 is checked first).")
				return
			}
			// A mapping moved up goes before the one that held its new position, one moved down
			// after it: typing 1 moves a mapping to the top, typing the last position to the end.
			switch {
			case float64(n) < defaultAt:
				at = float64(n) - 0.5
			case float64(n) > defaultAt:
				at = float64(n) + 0.5
			}
		}
		kept = append(kept, ordered{at, v1alpha1.GroupRoleMapping{Group: row.Group, RoleTemplate: row.RoleTemplate}})
	}
	for i, row := range rows {
		consider(row, fmt.Sprintf("Mapping %d", i+1), float64(i+1))
	}
	consider(add, "New mapping", float64(len(rows)+1))
	slices.SortStableFunc(kept, func(a, b ordered) int {
		switch {
		case a.at < b.at:
			return -1
		case a.at > b.at:
			return 1
		}
		return 0
	})
	out := make([]v1alpha1.GroupRoleMapping, 0, len(kept))
	seen := map[string]bool{}
	for _, k := range kept {
		g := strings.ToLower(k.mapping.Group)
		if seen[g] {
			problems = append(problems, fmt.Sprintf("Group %s is mapped twice; only the first mapping would count. Remove one.", k.mapping.Group))
			continue
		}
		seen[g] = true
		out = append(out, k.mapping)
	}
	if len(out) > maxGroupRoles {
		problems = append(problems, fmt.Sprintf("Group roles: at most %d mappings.", maxGroupRoles))
	}
	return out, problems
}
