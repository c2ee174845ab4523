package emulator

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// specPath is the OpenAPI description of Chat v2 the emulator is held to.
const specPath = "../../testdata/twilio_chat_v2.json"

// propSchema is the part of an OpenAPI property schema the test checks.
type propSchema struct {
	Type     string `json:"type"`
	Format   string `json:"format"`
	Nullable bool   `json:"nullable"`
	Pattern  string `json:"pattern"`
	Ref      string `json:"$ref"`
	Enum     []any  `json:"enum"`
}

type objSchema struct {
	Properties map[string]propSchema `json:"properties"`
}

type spec struct {
	path       string // the file it was read from
	Components struct {
		Schemas map[string]json.RawMessage `json:"schemas"`
	} `json:"components"`
	Paths map[string]map[string]json.RawMessage `json:"paths"`
}

func loadSpec(t *testing.T) spec { return loadSpecFile(t, specPath) }

func loadSpecFile(t *testing.T, path string) spec {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read the API description: %v", err)
	}
	sp := spec{path: path}
	if err := json.Unmarshal(b, &sp); err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	return sp
}

func (sp spec) object(t *testing.T, name string) objSchema {
	t.Helper()
	raw, ok := sp.Components.Schemas[name]
	if !ok {
		t.Fatalf("schema %s not in %s", name, sp.path)
	}
	var o objSchema
	if err := json.Unmarshal(raw, &o); err != nil {
		t.Fatalf("decode schema %s: %v", name, err)
	}
	return o
}

// resolve follows a $ref to an enum schema.
func (sp spec) resolve(t *testing.T, p propSchema) propSchema {
	t.Helper()
	if p.Ref == "" {
		return p
	}
	name := strings.TrimPrefix(p.Ref, "#/components/schemas/")
	var r propSchema
	if err := json.Unmarshal(sp.Components.Schemas[name], &r); err != nil {
		t.Fatalf("decode %s: %v", p.Ref, err)
	}
	return r
}

// listMeta is the meta schema of a list response (the same for every list),
// taken from the list at listPath.
func (sp spec) listMeta(t *testing.T, listPath string) objSchema {
	t.Helper()
	var op struct {
		Responses map[string]struct {
			Content map[string]struct {
				Schema struct {
					Properties map[string]json.RawMessage `json:"properties"`
				} `json:"schema"`
			} `json:"content"`
		} `json:"responses"`
	}
	if err := json.Unmarshal(sp.Paths[listPath]["get"], &op); err != nil {
		t.Fatalf("decode the list %s: %v", listPath, err)
	}
	var meta objSchema
	raw := op.Responses["200"].Content["application/json"].Schema.Properties["meta"]
	if err := json.Unmarshal(raw, &meta); err != nil || len(meta.Properties) == 0 {
		t.Fatalf("decode the meta of %s: %v", listPath, err)
	}
	return meta
}

// checkObject compares obj with schema: the same property names, and each
// value of the schema's JSON type (null only where nullable); URLs must
// start with prefix (the base URL and the API version, "…/v2/"). It
// returns every difference.
func checkObject(t *testing.T, sp spec, schema objSchema, obj map[string]any, prefix string) []string {
	t.Helper()
	var problems []string
	var want, got []string
	for k := range schema.Properties {
		want = append(want, k)
	}
	for k := range obj {
		got = append(got, k)
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(want, got) {
		problems = append(problems, fmt.Sprintf("properties differ from the spec\n got: %v\nwant: %v", got, want))
	}
	for name, ps := range schema.Properties {
		v, ok := obj[name]
		if !ok {
			continue
		}
		if err := checkValue(sp.resolve(t, ps), v, prefix); err != nil {
			problems = append(problems, fmt.Sprintf("%s = %#v: %v", name, v, err))
		}
	}
	return problems
}

func checkValue(ps propSchema, v any, prefix string) error {
	if v == nil {
		if ps.Nullable {
			return nil
		}
		return fmt.Errorf("null, but the spec does not allow null")
	}
	switch ps.Type {
	case "string":
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("not a string")
		}
		switch ps.Format {
		case "date-time":
			tm, err := time.Parse(time.RFC3339, s)
			if err != nil {
				return fmt.Errorf("not RFC 3339: %v", err)
			}
			if tm.Format("2006-01-02T15:04:05Z") != s {
				return fmt.Errorf("not UTC whole seconds with Z")
			}
		case "uri":
			if !strings.HasPrefix(s, prefix) {
				return fmt.Errorf("not an absolute URL under %s", prefix)
			}
			if _, err := url.Parse(s); err != nil {
				return err
			}
		}
		if ps.Pattern != "" && !regexp.MustCompile(ps.Pattern).MatchString(s) {
			return fmt.Errorf("does not match %s", ps.Pattern)
		}
		if len(ps.Enum) > 0 && !slices.Contains(ps.Enum, any(s)) {
			return fmt.Errorf("not one of %v", ps.Enum)
		}
	case "integer":
		f, ok := v.(float64)
		if !ok || f != float64(int64(f)) {
			return fmt.Errorf("not an integer")
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("not a boolean")
		}
	case "array":
		if _, ok := v.([]any); !ok {
			return fmt.Errorf("not an array")
		}
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("not an object")
		}
		if ps.Format == "uri-map" {
			for k, u := range m {
				if u == nil {
					continue
				}
				if s, ok := u.(string); !ok || !strings.HasPrefix(s, prefix) {
					return fmt.Errorf("link %s = %v is not an absolute URL under %s", k, u, prefix)
				}
			}
		}
	case "":
		// Untyped in the spec (limits, notifications, media): an object.
		if _, ok := v.(map[string]any); !ok {
			return fmt.Errorf("not an object")
		}
	default:
		return fmt.Errorf("spec type %q not handled by the test", ps.Type)
	}
	return nil
}

// TestSchema holds every object the emulator returns to the spec's schema.
func TestSchema(t *testing.T) {
	sp := loadSpec(t)
	_, c := setup(t, Config{Seed: 3, Channels: 4, Messages: 120, Now: func() time.Time { return fixedClock }})
	base := c.info.BaseURL + "/v2/"

	chans := c.channels(c.svc0())
	if len(chans) != 4 {
		t.Fatalf("%d channels, want 4", len(chans))
	}
	chURL := str(chans[0], "url")
	var textMsg, mediaMsg, edited map[string]any
	var consumed, unconsumed map[string]any
	for _, ch := range chans {
		for _, m := range c.listAll(str(ch, "url") + "/Messages?PageSize=100") {
			switch {
			case m["media"] != nil && mediaMsg == nil:
				mediaMsg = m
			case m["media"] == nil && m["was_edited"] == true && edited == nil:
				edited = m
			case m["media"] == nil && textMsg == nil:
				textMsg = m
			}
		}
		for _, m := range c.listAll(str(ch, "url") + "/Members") {
			if m["last_consumed_message_index"] == nil {
				unconsumed = m
			} else {
				consumed = m
			}
		}
	}
	created := c.mustJSON(201, "POST", chURL+"/Messages", url.Values{
		"MediaSid": {str(c.upload(c.info.Services[0], "application/pdf", "", []byte("%PDF-")), "sid")}, "From": {"alice"},
	})
	if created["type"] != "media" || created["media"] == nil {
		t.Errorf("message created with MediaSid: type %v media %v, want media and an object", created["type"], created["media"])
	}
	newChan := c.mustJSON(201, "POST", c.svc1()+"/Channels", url.Values{})
	newMember := c.mustJSON(201, "POST", str(newChan, "url")+"/Members", url.Values{"Identity": {"zoe"}})
	newUser := c.mustJSON(201, "POST", c.svc1()+"/Users", url.Values{"Identity": {"yan"}})
	updUser := c.mustJSON(200, "POST", c.svc1()+"/Users/yan", url.Values{"FriendlyName": {"Yan"}, "Attributes": {`{"a":1}`}})
	newService := c.mustJSON(201, "POST", "/v2/Services", url.Values{"FriendlyName": {"x"}})

	for _, must := range []struct {
		name string
		obj  map[string]any
	}{
		{"text message", textMsg}, {"media message", mediaMsg}, {"edited message", edited},
		{"member with read position", consumed}, {"member without read position", unconsumed},
	} {
		if must.obj == nil {
			t.Fatalf("generated history has no %s", must.name)
		}
	}

	cases := []struct {
		name, schema string
		obj          map[string]any
	}{
		{"fetched service", "chat.v2.service", c.mustJSON(200, "GET", c.svc0(), nil)},
		{"created service", "chat.v2.service", newService},
		{"listed service", "chat.v2.service", c.listAll("/v2/Services")[0]},
		{"role", "chat.v2.service.role", c.listAll(c.svc0() + "/Roles")[0]},
		{"listed user", "chat.v2.service.user", c.listAll(c.svc0() + "/Users")[0]},
		{"fetched user", "chat.v2.service.user", c.mustJSON(200, "GET", c.svc0()+"/Users/alice", nil)},
		{"created user", "chat.v2.service.user", newUser},
		{"updated user", "chat.v2.service.user", updUser},
		{"listed channel", "chat.v2.service.channel", chans[0]},
		{"fetched channel", "chat.v2.service.channel", c.mustJSON(200, "GET", chURL, nil)},
		{"created channel", "chat.v2.service.channel", newChan},
		{"member with read position", "chat.v2.service.channel.member", consumed},
		{"member without read position", "chat.v2.service.channel.member", unconsumed},
		{"created member", "chat.v2.service.channel.member", newMember},
		{"text message", "chat.v2.service.channel.message", textMsg},
		{"edited message", "chat.v2.service.channel.message", edited},
		{"media message", "chat.v2.service.channel.message", mediaMsg},
		{"created media message", "chat.v2.service.channel.message", created},
		{"fetched message", "chat.v2.service.channel.message", c.mustJSON(200, "GET", str(textMsg, "url"), nil)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, p := range checkObject(t, sp, sp.object(t, tc.schema), tc.obj, base) {
				t.Errorf("%s: %s", tc.name, p)
			}
		})
	}

	meta := sp.listMeta(t, "/v2/Services/{ServiceSid}/Channels/{ChannelSid}/Messages")
	for _, lc := range []struct{ name, path string }{
		{"services", "/v2/Services"},
		{"roles", c.svc0() + "/Roles"},
		{"users", c.svc0() + "/Users"},
		{"channels", c.svc0() + "/Channels"},
		{"members page", chURL + "/Members?PageSize=1"},
		{"messages desc", chURL + "/Messages?PageSize=2&Order=desc"},
		{"messages by token", chURL + "/Messages?PageSize=5&Page=1&PageToken=PT10"},
		{"empty list", c.svc1() + "/Channels?Type=private"},
	} {
		t.Run("meta of "+lc.name, func(t *testing.T) {
			checkListPage(t, sp, meta, c.mustJSON(200, "GET", lc.path, nil), base)
		})
	}
}

// checkListPage holds a list page's meta to the spec's meta schema, checks
// that the body holds exactly the items under meta.key and meta, and
// returns meta.key.
func checkListPage(t *testing.T, sp spec, meta objSchema, page map[string]any, prefix string) string {
	t.Helper()
	m, ok := page["meta"].(map[string]any)
	if !ok {
		t.Fatalf("no meta object: %v", page)
	}
	for _, p := range checkObject(t, sp, meta, m, prefix) {
		t.Errorf("meta: %s", p)
	}
	key := str(m, "key")
	if _, ok := page[key].([]any); !ok || len(page) != 2 {
		t.Errorf("list body has keys %v, want exactly %q and meta", mapKeys(page), key)
	}
	return key
}

func mapKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// TestSchemaCheckerCatchesMismatches makes sure the schema test fails on
// the mistakes it is meant to catch.
func TestSchemaCheckerCatchesMismatches(t *testing.T) {
	sp := loadSpec(t)
	schema := sp.object(t, "chat.v2.service.channel.member")
	const base = "http://127.0.0.1:1/v2/"
	good := func() map[string]any {
		return map[string]any{
			"sid": "MB0123456789abcdef0123456789abcdef", "account_sid": "AC0123456789abcdef0123456789abcdef",
			"channel_sid": "CH0123456789abcdef0123456789abcdef", "service_sid": "IS0123456789abcdef0123456789abcdef",
			"identity": "alice", "date_created": "2025-01-01T00:00:00Z", "date_updated": "2025-01-01T00:00:00Z",
			"role_sid": "RL0123456789abcdef0123456789abcdef", "last_consumed_message_index": nil,
			"last_consumption_timestamp": nil, "url": base + "Services/x", "attributes": "{}",
		}
	}
	if p := checkObject(t, sp, schema, good(), base); len(p) != 0 {
		t.Fatalf("a correct member is refused: %v", p)
	}
	cases := []struct {
		name   string
		mutate func(m map[string]any)
	}{
		{"extra property", func(m map[string]any) { m["links"] = map[string]any{} }},
		{"missing property", func(m map[string]any) { delete(m, "attributes") }},
		{"integer as string", func(m map[string]any) { m["last_consumed_message_index"] = "3" }},
		{"integer with fraction", func(m map[string]any) { m["last_consumed_message_index"] = 2.5 }},
		{"string as number", func(m map[string]any) { m["identity"] = 7.0 }},
		{"date with offset", func(m map[string]any) { m["date_created"] = "2025-01-01T01:00:00+01:00" }},
		{"date with fraction", func(m map[string]any) { m["date_created"] = "2025-01-01T00:00:00.5Z" }},
		{"date not a date", func(m map[string]any) { m["date_updated"] = "yesterday" }},
		{"SID with wrong prefix", func(m map[string]any) { m["role_sid"] = "US0123456789abcdef0123456789abcdef" }},
		{"relative URL", func(m map[string]any) { m["url"] = "/v2/Services/x" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := good()
			tc.mutate(m)
			if p := checkObject(t, sp, schema, m, base); len(p) == 0 {
				t.Errorf("mismatch not caught")
			}
		})
	}
	// Non-nullable integer and boolean/array/object types.
	for _, tc := range []struct {
		name string
		ps   propSchema
		v    any
	}{
		{"null integer", propSchema{Type: "integer"}, nil},
		{"bool as string", propSchema{Type: "boolean", Nullable: true}, "true"},
		{"array as object", propSchema{Type: "array", Nullable: true}, map[string]any{}},
		{"object as array", propSchema{Type: "object", Nullable: true}, []any{}},
		{"untyped as string", propSchema{Nullable: true}, "x"},
		{"enum outside", propSchema{Type: "string", Enum: []any{"public", "private"}}, "secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := checkValue(tc.ps, tc.v, base); err == nil {
				t.Errorf("%#v accepted for %+v", tc.v, tc.ps)
			}
		})
	}
}
