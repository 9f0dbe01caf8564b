package provisioning

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/z8z8/enterprise-identity-operator/internal/schema"
)

// The extension's key in ProfileDocument's tag is the schema's URN.
func TestProfileDocReadsTheEnterpriseExtensionsURN(t *testing.T) {
	field, _ := reflect.TypeFor[ProfileDocument]().FieldByName("Enterprise")
	if got := field.Tag.Get("json"); got != schema.EnterpriseUserURN {
		t.Fatalf("ProfileDocument reads the extension under %q, the schema's URN is %q", got, schema.EnterpriseUserURN)
	}
}

// profileOf decodes a document as the store does (ProfileDocument, embedded in what it reads).
func profileOf(doc []byte) Profile {
	var d ProfileDocument
	_ = json.Unmarshal(doc, &d)
	return d.Profile()
}

func TestProfileDocumentReadsTheUserAndItsExtension(t *testing.T) {
	ext := `"` + schema.EnterpriseUserURN + `"`
	cases := []struct {
		name, doc string
		want      Profile
	}{
		{"everything", `{"userName":"a","displayName":"Ann","title":"CTO","emails":[{"value":"a@x"}],` + ext + `:{"employeeNumber":"7",
			"department":"R&D","costCenter":"C1","division":"D","organization":"O","manager":{"value":"m-1","displayName":"Bo"}}}`,
			Profile{DisplayName: "Ann", Title: "CTO", EmployeeNumber: "7", Department: "R&D", CostCenter: "C1", Division: "D", Organization: "O", ManagerID: "m-1"}},
		{"no extension", `{"displayName":"Ann","title":"CTO"}`, Profile{DisplayName: "Ann", Title: "CTO"}},
		{"only the extension", `{` + ext + `:{"department":"R&D"}}`, Profile{Department: "R&D"}},
		// A value of the wrong type reads as empty; the others are still read.
		{"a number for a title", `{"displayName":"Ann","title":7,` + ext + `:{"department":"R&D"}}`, Profile{DisplayName: "Ann", Department: "R&D"}},
		{"an extension that is not an object", `{"displayName":"Ann",` + ext + `:"x"}`, Profile{DisplayName: "Ann"}},
		{"a manager that is a string", `{` + ext + `:{"manager":"m-1","division":"D"}}`, Profile{Division: "D"}},
		{"not JSON", `{"displayName":`, Profile{}},
		{"empty", ``, Profile{}},
		{"another extension's fields", `{"urn:example:other":{"department":"X"}}`, Profile{}},
	}
	for _, c := range cases {
		if got := profileOf([]byte(c.doc)); got != c.want {
			t.Errorf("%s: profile = %+v, want %+v", c.name, got, c.want)
		}
	}
}

func BenchmarkProfileDocument(b *testing.B) {
	doc := []byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","` + schema.EnterpriseUserURN + `"],"userName":"ann@example.com",
		"name":{"givenName":"Ann","familyName":"Lee","formatted":"Ann Lee"},"displayName":"Ann Lee","title":"Engineer","active":true,
		"emails":[{"value":"ann@example.com","type":"work","primary":true}],"` + schema.EnterpriseUserURN + `":{"employeeNumber":"1234",
		"department":"R&D","costCenter":"C1","manager":{"value":"` + strings.Repeat("m", 36) + `"}}}`)
	b.ReportAllocs()
	for b.Loop() {
		_ = profileOf(doc)
	}
}
