package schema

// Schema URNs.
const (
	UserURN           = "urn:ietf:params:scim:schemas:core:2.0:User"
	GroupURN          = "urn:ietf:params:scim:schemas:core:2.0:Group"
	EnterpriseUserURN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
)

// User is the core User schema (RFC 7643 §4.1).
var User = &Schema{
	ID:          UserURN,
	Name:        "User",
	Description: "User Account",
	Attributes: []*Attribute{
		{Name: "userName", Type: TypeString, Required: true, Mutability: ReadWrite, Returned: ReturnedDefault, Uniqueness: "server",
			Description: "Unique identifier for the User, typically used to sign in. Case-insensitive and unique in the organization."},
		complexAttr("name", false,
			str("formatted", ReadWrite, false), str("familyName", ReadWrite, false), str("givenName", ReadWrite, false),
			str("middleName", ReadWrite, false), str("honorificPrefix", ReadWrite, false), str("honorificSuffix", ReadWrite, false)),
		str("displayName", ReadWrite, false),
		str("nickName", ReadWrite, false),
		{Name: "profileUrl", Type: TypeReference, Mutability: ReadWrite, Returned: ReturnedDefault, Uniqueness: "none", ReferenceTypes: []string{"external"}},
		str("title", ReadWrite, false),
		str("userType", ReadWrite, false),
		str("preferredLanguage", ReadWrite, false),
		str("locale", ReadWrite, false),
		str("timezone", ReadWrite, false),
		boolean("active"),
		{Name: "password", Type: TypeString, Mutability: WriteOnly, Returned: ReturnedNever, Uniqueness: "none",
			Description: "Accepted and discarded: the service never stores or returns passwords."},
		multiValuedStrings("emails", "work", "home", "other"),
		multiValuedStrings("phoneNumbers", "work", "home", "mobile", "fax", "pager", "other"),
		multiValuedStrings("ims", "aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"),
		multiValuedStrings("photos", "photo", "thumbnail"),
		complexAttr("addresses", true,
			str("formatted", ReadWrite, false), str("streetAddress", ReadWrite, false), str("locality", ReadWrite, false),
			str("region", ReadWrite, false), str("postalCode", ReadWrite, false), str("country", ReadWrite, false),
			str("type", ReadWrite, false), boolean("primary")),
		{Name: "groups", Type: TypeComplex, MultiValued: true, Mutability: ReadOnly, Returned: ReturnedDefault, Uniqueness: "none",
			Description:   "Groups the User belongs to; changed through the Group resource.",
			SubAttributes: []*Attribute{str("value", ReadOnly, false), ref("$ref", ReadOnly), str("display", ReadOnly, false), str("type", ReadOnly, false)}},
		multiValuedStrings("entitlements"),
		multiValuedStrings("roles"),
		multiValuedStrings("x509Certificates"),
	},
}

// EnterpriseUser is the enterprise User extension (RFC 7643 §4.3).
var EnterpriseUser = &Schema{
	ID:          EnterpriseUserURN,
	Name:        "EnterpriseUser",
	Description: "Enterprise User",
	Attributes: []*Attribute{
		str("employeeNumber", ReadWrite, false),
		str("costCenter", ReadWrite, false),
		str("organization", ReadWrite, false),
		str("division", ReadWrite, false),
		str("department", ReadWrite, false),
		complexAttr("manager", false, str("value", ReadWrite, false), ref("$ref", ReadWrite), str("displayName", ReadOnly, false)),
	},
}

// Group is the core Group schema (RFC 7643 §4.2).
var Group = &Schema{
	ID:          GroupURN,
	Name:        "Group",
	Description: "Group",
	Attributes: []*Attribute{
		{Name: "displayName", Type: TypeString, Required: true, Mutability: ReadWrite, Returned: ReturnedDefault, Uniqueness: "none",
			Description: "A human-readable name for the Group."},
		{Name: "members", Type: TypeComplex, MultiValued: true, Mutability: ReadWrite, Returned: ReturnedDefault, Uniqueness: "none",
			Description: "Members of the Group: Users or Groups of the same organization.",
			SubAttributes: []*Attribute{
				{Name: "value", Type: TypeString, Mutability: Immutable, Returned: ReturnedDefault, Uniqueness: "none"},
				ref("$ref", Immutable),
				str("display", ReadOnly, false),
				{Name: "type", Type: TypeString, Mutability: Immutable, Returned: ReturnedDefault, Uniqueness: "none", CanonicalValues: []string{"User", "Group"}},
			}},
	},
}

// UserType and GroupType are the served resource types.
var (
	UserType  = &ResourceType{Name: "User", Endpoint: "/Users", Schema: User, Extensions: []*Schema{EnterpriseUser}}
	GroupType = &ResourceType{Name: "Group", Endpoint: "/Groups", Schema: Group}
)

// ResourceTypes lists what the server serves, in discovery order.
var ResourceTypes = []*ResourceType{UserType, GroupType}

// Schemas lists every schema, in discovery order.
var Schemas = []*Schema{User, EnterpriseUser, Group}

func ref(name, mutability string) *Attribute {
	return &Attribute{Name: name, Type: TypeReference, CaseExact: true, Mutability: mutability, Returned: ReturnedDefault, Uniqueness: "none",
		ReferenceTypes: []string{"User", "Group"}}
}
