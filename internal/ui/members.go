package ui

import (
	"net/http"
	"net/url"

	"github.com/z8z8/enterprise-identity-operator/internal/provisioning"
	"github.com/z8z8/enterprise-identity-operator/internal/service"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// membersPageSize is how many members a page shows.
const membersPageSize = 25

// membersView is the members step: a filtered, searchable page of members.
type membersView struct {
	State, Search string
	Members       []service.MemberDetails
	NextURL       string
	FirstURL      string
}

func (s *Server) membersPage(w http.ResponseWriter, r *http.Request, v *view) {
	q := r.URL.Query()
	data := &membersView{State: q.Get("state"), Search: q.Get("q")}
	v.Title, v.Step, v.Data = "Employee management", "members", data
	if !v.Org.Serving() {
		s.render(w, http.StatusOK, "members", v)
		return
	}
	org, err := s.served(r, v, "get")
	if err != nil {
		s.failWith(w, r, err)
		return
	}
	query := store.MemberQuery{State: data.State, Search: data.Search, After: q.Get("cursor"), Limit: membersPageSize}
	list, next, err := s.Service.Members(r.Context(), org, query)
	if err != nil {
		s.failWith(w, r, err)
		return
	}
	data.Members = list
	keep := url.Values{}
	if data.State != "" {
		keep.Set("state", data.State)
	}
	if data.Search != "" {
		keep.Set("q", data.Search)
	}
	if next != "" {
		nq := url.Values{"cursor": {next}}
		for k, vals := range keep {
			nq[k] = vals
		}
		data.NextURL = v.Org.URL() + "/members?" + nq.Encode()
	}
	if q.Get("cursor") != "" {
		data.FirstURL = v.Org.URL() + "/members?" + keep.Encode()
	}
	s.render(w, http.StatusOK, "members", v)
}

func (s *Server) memberPage(w http.ResponseWriter, r *http.Request, v *view) {
	org, err := s.served(r, v, "get")
	if err != nil {
		s.failWith(w, r, err)
		return
	}
	rec, err := s.Service.Member(r.Context(), org, r.PathValue("id"))
	if err != nil {
		s.failWith(w, r, err)
		return
	}
	v.Title, v.Step, v.Data = "Member "+rec.UserName, "members", rec
	switch r.URL.Query().Get("reviewed") {
	case "approve":
		v.Notice = "Approved: the member is active with their role."
	case "reject":
		v.Notice = "Rejected: the member stays without access and their employee record is inactive."
	case "unchanged":
		v.Notice = "Nothing changed: this member was not waiting for review (another admin may have decided already)."
	}
	s.render(w, http.StatusOK, "member", v)
}

// review approves or rejects a member waiting for review.
func (s *Server) review(w http.ResponseWriter, r *http.Request, v *view) {
	decision := r.PathValue("decision")
	if decision != "approve" && decision != "reject" {
		s.fail(w, r, http.StatusNotFound, "There is no such action; a member can be approved or rejected.")
		return
	}
	who := s.who(r)
	org, err := s.served(r, v, "update")
	if err != nil {
		s.failWith(w, r, err)
		return
	}
	rec, err := s.Service.Review(r.Context(), org, actor(r, who), r.PathValue("id"), decision == "approve")
	if err != nil {
		s.failWith(w, r, err)
		return
	}
	outcome := decision
	if (decision == "approve") != (rec.Member.State == provisioning.Active) || rec.Member.State == provisioning.PendingReview {
		outcome = "unchanged" // the member was not waiting for review (another admin was quicker)
	}
	seeOther(w, r, v.Org.URL()+"/members/"+url.PathEscape(rec.UserID)+"?reviewed="+outcome)
}
