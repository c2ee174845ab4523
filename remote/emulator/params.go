package emulator

import (
	"encoding/json"
	"net/url"
	"strconv"
	"time"
)

// Limits the emulator enforces on parameters (see doc.go).
const (
	maxNameLenCreate = 64        // FriendlyName, UniqueName on channel create
	maxNameLenUpdate = 256       // FriendlyName, UniqueName on channel update
	maxAttributesLen = 16 * 1024 // Attributes of every resource
	maxFormBytes     = 1 << 20   // request body
)

// form is the parameters of a create or update request.
type form url.Values

// get returns the first value of name and whether it was sent at all.
func (f form) get(name string) (string, bool) { return first(url.Values(f), name) }

// date reads an optional ISO 8601 date parameter. code is the Twilio code
// for a malformed value of this parameter.
func (f form) date(name string, code int) (unix int64, sent bool, err *apiError) {
	v, ok := f.get(name)
	if !ok {
		return noDate, false, nil
	}
	t, perr := parseDate(v)
	if perr != nil {
		return noDate, true, badRequest(code, name+" "+strconv.Quote(v)+" is not an ISO 8601 date-time; send it as RFC 3339, for example 2025-01-01T00:00:00Z")
	}
	return t, true, nil
}

// dateParams are the optional DateCreated and DateUpdated of a create or
// update. forCreate and forUpdate apply them as doc.go describes.
type dateParams struct {
	created, updated         int64
	createdSent, updatedSent bool
}

// dates reads DateCreated, then DateUpdated.
func (f form) dates() (dateParams, *apiError) {
	var d dateParams
	var e *apiError
	if d.created, d.createdSent, e = f.date("DateCreated", codeDateCreatedInvalid); e != nil {
		return d, e
	}
	d.updated, d.updatedSent, e = f.date("DateUpdated", codeDateUpdatedInvalid)
	return d, e
}

// forCreate gives the dates of a resource created at now: date_created is
// DateCreated or now, date_updated is DateUpdated or date_created.
func (d dateParams) forCreate(now int64) (created, updated int64) {
	created = now
	if d.createdSent {
		created = d.created
	}
	updated = created
	if d.updatedSent {
		updated = d.updated
	}
	return created, updated
}

// forUpdate gives the dates of a resource dated created and updated at
// now: date_created is DateCreated or unchanged, date_updated is
// DateUpdated or now.
func (d dateParams) forUpdate(created, now int64) (int64, int64) {
	if d.createdSent {
		created = d.created
	}
	updated := now
	if d.updatedSent {
		updated = d.updated
	}
	return created, updated
}

// orSystem is From or CreatedBy as stored: an empty value means "system".
func orSystem(v string) string {
	if v == "" {
		return "system"
	}
	return v
}

// parseDate accepts RFC 3339 with any offset and optional fractional
// seconds, and the same without an offset (taken as UTC). The result is in
// whole seconds, like every date the API returns.
func parseDate(v string) (int64, error) {
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		var err2 error
		t, err2 = time.Parse("2006-01-02T15:04:05", v)
		if err2 != nil {
			return 0, err
		}
	}
	return t.Unix(), nil
}

// attributes reads an optional Attributes parameter: valid JSON of at most
// maxAttributesLen bytes, kept byte for byte. An empty value resets the
// attributes to "{}".
func (f form) attributes() (attrs string, sent bool, err *apiError) {
	v, ok := f.get("Attributes")
	if !ok {
		return "", false, nil
	}
	if v == "" {
		return "{}", true, nil
	}
	if len(v) > maxAttributesLen {
		return "", true, badRequest(codeAttributesTooLong, "Attributes is "+strconv.Itoa(len(v))+" bytes long; the limit is "+strconv.Itoa(maxAttributesLen)+" bytes, so shorten it")
	}
	if !json.Valid([]byte(v)) {
		return "", true, badRequest(codeAttributesInvalid, "Attributes is not valid JSON; send a JSON-encoded value such as {} or {\"key\":\"value\"}")
	}
	return v, true, nil
}

// name reads an optional FriendlyName or UniqueName with its length limit.
func (f form) name(param string, limit, code int) (string, bool, *apiError) {
	v, ok := f.get(param)
	if !ok {
		return "", false, nil
	}
	if n := len([]rune(v)); n > limit {
		return "", true, badRequest(code, param+" is "+strconv.Itoa(n)+" characters long; the limit here is "+strconv.Itoa(limit)+", so shorten it")
	}
	return v, true, nil
}

// roleSID reads an optional RoleSid and checks its form.
func (f form) roleSID(code int) (sid, bool, *apiError) {
	v, ok := f.get("RoleSid")
	if !ok {
		return sid{}, false, nil
	}
	id, valid := parseSID("RL", v)
	if !valid {
		return sid{}, true, badRequest(code, "RoleSid "+strconv.Quote(v)+" is not a role SID (RL followed by 32 hex digits); list the service's roles to find one")
	}
	return id, true, nil
}

// identity reads a required Identity for user or member creation.
func (f form) identity() (string, *apiError) {
	v, ok := f.get("Identity")
	if !ok || v == "" {
		return "", badRequest(codeIdentityMissing, "Identity is missing; send the identity of the user")
	}
	if _, looks := parseSID("US", v); looks {
		return "", badRequest(codeIdentityLooksLikeSID, "Identity "+strconv.Quote(v)+" looks like a user SID, which the API refuses; choose another identity")
	}
	return v, nil
}
