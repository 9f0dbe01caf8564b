package ui

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
)

func TestGroupRoleMappingsFromTheForm(t *testing.T) {
	three := []groupRoleRow{
		{Index: "0", Position: "1", Group: "Admins", RoleTemplate: "admin"},
		{Index: "1", Position: "2", Group: "Engineering", RoleTemplate: "engineer"},
		{Index: "2", Position: "3", Group: "Everyone", RoleTemplate: "member"},
	}
	with := func(i int, change func(*groupRoleRow)) []groupRoleRow {
		rows := append([]groupRoleRow(nil), three...)
		change(&rows[i])
		return rows
	}
	groups := func(m []v1alpha1.GroupRoleMapping) string {
		out := make([]string, 0, len(m))
		for _, x := range m {
			out = append(out, x.Group+"="+x.RoleTemplate)
		}
		return strings.Join(out, ",")
	}
	for _, tc := range []struct {
		name     string
		rows     []groupRoleRow
		add      groupRoleRow
		want     string
		problems int
	}{
		{name: "unchanged rows keep their order", rows: three, want: "Admins=admin,Engineering=engineer,Everyone=member"},
		{name: "order 1 moves a mapping to the top", rows: with(2, func(r *groupRoleRow) { r.Position = "1" }),
			want: "Everyone=member,Admins=admin,Engineering=engineer"},
		{name: "the last position moves a mapping to the end", rows: with(0, func(r *groupRoleRow) { r.Position = "3" }),
			want: "Engineering=engineer,Everyone=member,Admins=admin"},
		{name: "a removed mapping goes", rows: with(1, func(r *groupRoleRow) { r.Remove = true }), want: "Admins=admin,Everyone=member"},
		{name: "a mapping emptied goes", rows: with(1, func(r *groupRoleRow) { r.Group, r.RoleTemplate = "", "" }), want: "Admins=admin,Everyone=member"},
		{name: "a new mapping goes last", rows: three, add: groupRoleRow{Group: "Sales", RoleTemplate: "member"},
			want: "Admins=admin,Engineering=engineer,Everyone=member,Sales=member"},
		{name: "a new mapping at a position goes before the one there", rows: three, add: groupRoleRow{Position: "2", Group: "Sales", RoleTemplate: "member"},
			want: "Admins=admin,Sales=member,Engineering=engineer,Everyone=member"},
		{name: "the first of all", add: groupRoleRow{Group: "Admins", RoleTemplate: "admin"}, want: "Admins=admin"},
		{name: "a group without a role", rows: three, add: groupRoleRow{Group: "Sales"}, problems: 1},
		{name: "a role without a group", rows: with(0, func(r *groupRoleRow) { r.Group = "" }), problems: 1},
		{name: "an order that is not a number", rows: with(0, func(r *groupRoleRow) { r.Position = "first" }), problems: 1},
		{name: "a group mapped twice, in any case", rows: three, add: groupRoleRow{Group: "admins", RoleTemplate: "member"}, problems: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, problems := groupRoleMappings(tc.rows, tc.add)
			if len(problems) != tc.problems {
				t.Fatalf("problems: %q", problems)
			}
			if tc.problems == 0 && groups(got) != tc.want {
				t.Fatalf("got %s, want %s", groups(got), tc.want)
			}
		})
	}
}

func TestPostedGroupRoles(t *testing.T) {
	roles := []roleOption{{Name: "admin"}, {Name: "member"}}
	post := func(form url.Values) *http.Request {
		r := httptest.NewRequestWithContext(t.Context(), "POST", "/", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return r
	}
	_, _, shown := postedGroupRoles(post(url.Values{"enabled": {"on"}}), roles)
	if shown {
		t.Fatal("a form without the mapping editor leaves the mappings alone")
	}
	rows, add, shown := postedGroupRoles(post(url.Values{"groupRoles": {"shown"},
		"groupRoles.0.position": {"1"}, "groupRoles.0.group": {" Admins "}, "groupRoles.0.roleTemplate": {"admin"},
		"groupRoles.1.position": {"2"}, "groupRoles.1.group": {"Old"}, "groupRoles.1.roleTemplate": {"gone"}, "groupRoles.1.remove": {"on"},
		"groupRoles.new.group": {"Sales"}, "groupRoles.new.roleTemplate": {"member"}}), roles)
	want := []groupRoleRow{
		{Index: "0", Position: "1", Group: "Admins", RoleTemplate: "admin"},
		{Index: "1", Position: "2", Group: "Old", RoleTemplate: "gone", Remove: true, Missing: true},
	}
	if !shown || !reflect.DeepEqual(rows, want) || add != (groupRoleRow{Index: "new", Group: "Sales", RoleTemplate: "member"}) {
		t.Fatalf("rows %+v, add %+v", rows, add)
	}
}
