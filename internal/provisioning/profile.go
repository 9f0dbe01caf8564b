package provisioning

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

// ProfileDocument is what the employee profile reads of a user document, decoded with
// encoding/json in one pass: every create, PUT and PATCH reads it, and decoding the document a
// second time into a map to reach the extension cost as much again (profiled). The store embeds
// it in what it reads of the document, so one decode serves the profile and the member's
// snapshot. A field of the wrong type reads as empty, as the canonical form never has one. The
// extension's key is schema.EnterpriseUserURN, which a test checks, since a struct tag cannot
// name the constant.
type ProfileDocument struct {
	DisplayName string `json:"displayName"`
	Title       string `json:"title"`
	Enterprise  struct {
		EmployeeNumber string `json:"employeeNumber"`
		Department     string `json:"department"`
		CostCenter     string `json:"costCenter"`
		Division       string `json:"division"`
		Organization   string `json:"organization"`
		Manager        struct {
			Value string `json:"value"`
		} `json:"manager"`
	} `json:"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"`
}

// Profile is the profile the document holds.
func (d *ProfileDocument) Profile() Profile {
	e := d.Enterprise
	return Profile{DisplayName: d.DisplayName, Title: d.Title, EmployeeNumber: e.EmployeeNumber, Department: e.Department,
		CostCenter: e.CostCenter, Division: e.Division, Organization: e.Organization, ManagerID: e.Manager.Value}
}
