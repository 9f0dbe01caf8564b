package provisioning

import (
	"encoding/json"

	"github.com/z8z8/enterprise-identity-operator/internal/schema"
)

// Profile is the employee record's profile, from the SCIM user and its enterprise extension.
type Profile struct {
	DisplayName    string `json:"displayName,omitempty"`
	Title          string `json:"title,omitempty"`
	EmployeeNumber string `json:"employeeNumber,omitempty"`
	Department     string `json:"department,omitempty"`
	CostCenter     string `json:"costCenter,omitempty"`
	Division       string `json:"division,omitempty"`
	Organization   string `json:"organization,omitempty"`
	ManagerID      string `json:"managerId,omitempty"`
}

// ProfileFrom reads the profile fields of a canonical user document.
func ProfileFrom(doc []byte) Profile {
	var d struct {
		DisplayName string `json:"displayName"`
		Title       string `json:"title"`
	}
	var whole map[string]json.RawMessage
	_ = json.Unmarshal(doc, &d)
	_ = json.Unmarshal(doc, &whole)
	var ext struct {
		EmployeeNumber string `json:"employeeNumber"`
		Department     string `json:"department"`
		CostCenter     string `json:"costCenter"`
		Division       string `json:"division"`
		Organization   string `json:"organization"`
		Manager        struct {
			Value string `json:"value"`
		} `json:"manager"`
	}
	_ = json.Unmarshal(whole[schema.EnterpriseUserURN], &ext)
	return Profile{DisplayName: d.DisplayName, Title: d.Title, EmployeeNumber: ext.EmployeeNumber, Department: ext.Department,
		CostCenter: ext.CostCenter, Division: ext.Division, Organization: ext.Organization, ManagerID: ext.Manager.Value}
}
