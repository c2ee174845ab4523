package remote

import (
	"net/url"
	"strings"
)

// api is one of the REST APIs the client speaks over its one transport:
// Chat v2 (embedded in Client) or Conversations v1 (embedded in
// Conversations). The methods that read and write services, roles, users,
// channels, members and messages are written once, on *api, and promoted to
// both; what differs between the two APIs is held here (roots, paths, list
// names) and in the table of shape.go (record shapes and parameters).
type api struct {
	c    *Client
	name string // APIChat or APIConversations

	root    *url.URL
	rootStr string // root without a trailing slash
	setting string // what sets root, for errors: "base URL"
	title   string // for errors: "Chat v2"

	prefix       string // path prefix: "/v2"
	channels     string // channels' path segment and list key, capitalised: "Channels"
	members      string // members' path segment and list key, capitalised: "Members"
	channelTypes bool   // channel lists take Type (Chat: public and private)
	smallPage    int    // the largest page of the Users and Roles lists
}

// The two APIs, before their roots are set.
var (
	chatAPI = api{
		name: APIChat, setting: "base URL", title: "Chat v2", prefix: "/v2",
		channels: "Channels", members: "Members", channelTypes: true, smallPage: maxPageSize,
	}
	conversationsAPI = api{
		name: APIConversations, setting: "Conversations URL", title: "Conversations v1", prefix: "/v1",
		channels: "Conversations", members: "Participants", smallPage: 50,
	}
)

// newAPI returns a copy of proto for c, on proto's default root.
func newAPI(c *Client, proto api) *api {
	a := proto
	a.c = c
	def := DefaultBaseURL
	if proto.name == APIConversations {
		def = DefaultConversationsURL
	}
	a.root, _ = url.Parse(def)
	return &a
}

// ready is called once the options are applied.
func (a *api) ready() { a.rootStr = strings.TrimSuffix(a.root.String(), "/") }

// hint tells what to check when an answer is not what the API sends.
func (a *api) hint() string {
	if a == nil {
		return "check that the URL points at the Twilio API"
	}
	return "check that the " + a.setting + " points at the " + a.title + " API"
}

// listKey is the name of the records' array in a list of path segment seg
// ("Channels" → "channels").
func listKey(seg string) string { return strings.ToLower(seg) }

// Requests returns how many HTTP requests the client has sent (retries
// included), through either API. A request counts once it is handed to the
// HTTP transport, even if the connection then fails.
func (a *api) Requests() int64 { return a.c.requests.Load() }

// Writes returns how many of those requests were writes (POST or DELETE),
// retries included.
func (a *api) Writes() int64 { return a.c.writes.Load() }

// API names the API: APIChat or APIConversations.
func (a *api) API() string { return a.name }

// BaseURL returns the root this API is reached at.
func (a *api) BaseURL() string { return a.rootStr }

// servicePath is {prefix}/Services/{service}.
func (a *api) servicePath(service string) (string, error) {
	s, err := segment("service", "the service SID (IS…)", service)
	if err != nil {
		return "", err
	}
	return a.prefix + "/Services/" + s, nil
}

// channelPath is …/Services/{service}/Channels/{channel} (Conversations:
// …/Conversations/{channel}).
func (a *api) channelPath(service, channel string) (string, error) {
	sp, err := a.servicePath(service)
	return below(sp, err, a.channels, "channel", "a channel SID (CH…) or unique name", channel)
}

// memberPath is …/Channels/{channel}/Members/{member} (Conversations:
// …/Participants/{member}).
func (a *api) memberPath(service, channel, member string) (string, error) {
	cp, err := a.channelPath(service, channel)
	return below(cp, err, a.members, "member", "a member SID (MB…) or identity", member)
}

// messagePath is …/Channels/{channel}/Messages/{sid}.
func (a *api) messagePath(service, channel, sid string) (string, error) {
	cp, err := a.channelPath(service, channel)
	return below(cp, err, "Messages", "message", "a message SID (IM…)", sid)
}

// userPath is …/Services/{service}/Users/{user}.
func (a *api) userPath(service, user string) (string, error) {
	sp, err := a.servicePath(service)
	return below(sp, err, "Users", "user", "a user SID (US…) or identity", user)
}

// below is parent/seg/{id}, id escaped as one segment (see segment), or
// the first error: err, which building parent gave, or id's.
func below(parent string, err error, seg, what, hint, id string) (string, error) {
	if err != nil {
		return "", err
	}
	v, err := segment(what, hint, id)
	if err != nil {
		return "", err
	}
	return parent + "/" + seg + "/" + v, nil
}
