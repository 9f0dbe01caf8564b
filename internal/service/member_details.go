package service

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/tenant"
)

// MemberDetails is a member as admins see it, in the admin API and the wizard alike: the stored
// member and employee record, what the SCIM user says about the person (emails, name), the groups
// the member is in, and the permissions of the member's role.
type MemberDetails struct {
	store.MemberRecord
	// Name holds the name parts of the SCIM user; Emails its emails, as the identity provider
	// sent them. Both are empty once the identity provider deleted the user (the member stays).
	// They have the shapes of the member snapshot events carry.
	Name   store.PersonName
	Emails []store.Email
	// Groups are the SCIM groups that directly contain the member, with their current names.
	// GroupsTruncated says they were left out: the page's members are in more groups than one
	// answer carries (store.MaxMembershipsRead), and this member's came after that.
	Groups          []store.GroupRef
	GroupsTruncated bool
	// RoleDisplayName is the displayName of the member's RoleTemplate; Permissions are its
	// spec.permissions.
	RoleDisplayName string
	Permissions     []string
	// RoleTemplateMissing says the member has a role that no RoleTemplate of the organization's
	// namespace defines: it grants no permissions until one is created.
	RoleTemplateMissing bool
}

// details completes a page of members with a fixed number of reads, whatever its length: one
// for the users' documents, one for their groups (the store splits very long id lists) and one
// RoleTemplate list from the manager's cache.
func (s *Service) details(ctx context.Context, org *tenant.Organization, records []store.MemberRecord) ([]MemberDetails, error) {
	out := make([]MemberDetails, len(records))
	if len(records) == 0 {
		return out, nil
	}
	ids := make([]string, len(records))
	for i := range records {
		ids[i] = records[i].UserID
	}
	users, err := s.Store.UsersByID(ctx, org.Name, ids)
	if err != nil {
		return nil, fmt.Errorf("reading the users of members: %w", err)
	}
	groups, fit, err := s.Store.GroupsOf(ctx, org.Name, ids, store.MaxMembershipsRead)
	if err != nil {
		return nil, fmt.Errorf("reading the groups of members: %w", err)
	}
	roles, err := s.roleTemplates(ctx, org.Integration.Namespace, records)
	if err != nil {
		return nil, err
	}
	for i := range records {
		d := &out[i]
		d.MemberRecord = records[i]
		if u := users[d.UserID]; u != nil {
			d.Name, d.Emails = personOf(u.Doc)
		}
		d.Emails = nonNil(d.Emails)
		d.GroupsTruncated = i >= fit
		d.Groups = make([]store.GroupRef, 0, len(groups[d.UserID]))
		for _, g := range groups[d.UserID] {
			d.Groups = append(d.Groups, store.GroupRef{ID: g.Value, DisplayName: g.Display})
		}
		d.Permissions = []string{}
		if role := d.Member.Role; role != "" {
			rt, found := roles[role]
			d.RoleTemplateMissing = !found
			if found {
				d.RoleDisplayName, d.Permissions = rt.Spec.DisplayName, nonNil(slices.Clone(rt.Spec.Permissions))
			}
		}
	}
	return out, nil
}

// roleTemplates reads the RoleTemplates the members' roles name, from the manager's cache.
func (s *Service) roleTemplates(ctx context.Context, namespace string, records []store.MemberRecord) (map[string]*v1alpha1.RoleTemplate, error) {
	out := map[string]*v1alpha1.RoleTemplate{}
	if !slices.ContainsFunc(records, func(r store.MemberRecord) bool { return r.Member.Role != "" }) {
		return out, nil
	}
	list := &v1alpha1.RoleTemplateList{}
	if err := s.Client.List(ctx, list, client.InNamespace(namespace)); err != nil {
		return nil, fmt.Errorf("listing the RoleTemplates of namespace %s: %w", namespace, err)
	}
	for i := range list.Items {
		out[list.Items[i].Name] = &list.Items[i]
	}
	return out, nil
}

// personOf reads the name and emails of a canonical SCIM user document.
func personOf(doc []byte) (store.PersonName, []store.Email) {
	var d struct {
		Name   store.PersonName `json:"name"`
		Emails []struct {
			Value   string `json:"value"`
			Type    string `json:"type"`
			Primary any    `json:"primary"`
		} `json:"emails"`
	}
	_ = json.Unmarshal(doc, &d) // stored documents are valid; a part that is not reads as empty
	emails := make([]store.Email, 0, len(d.Emails))
	for _, e := range d.Emails {
		if e.Value == "" {
			continue
		}
		primary, _ := e.Primary.(bool)
		emails = append(emails, store.Email{Value: e.Value, Type: e.Type, Primary: primary})
	}
	return d.Name, emails
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// FullName is the name to show: formatted as the identity provider sent it, else the given and
// family names ("" when the SCIM user carries no name).
func (m MemberDetails) FullName() string {
	if m.Name.Formatted != "" {
		return m.Name.Formatted
	}
	return strings.TrimSpace(m.Name.GivenName + " " + m.Name.FamilyName)
}
