package remote_test

import (
	"errors"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/remote"
)

func TestNewClientCredentials(t *testing.T) {
	tests := []struct {
		name  string
		creds remote.Credentials
		want  string // "" = valid
	}{
		{"auth token", remote.Credentials{AccountSID: acct, AuthToken: token}, ""},
		{"api key", remote.Credentials{AccountSID: acct, APIKey: apiKey, APISecret: secret}, ""},
		{"api key wins over token", remote.Credentials{AccountSID: acct, AuthToken: token, APIKey: apiKey, APISecret: secret}, ""},
		{"upper-case hex", remote.Credentials{AccountSID: "AC0123456789ABCDEF0123456789ABCDEF", AuthToken: token}, ""},
		{"no account SID", remote.Credentials{AuthToken: token}, "account SID is missing"},
		{"no account SID with api key", remote.Credentials{APIKey: apiKey, APISecret: secret}, "account SID is missing"},
		{"secret pasted as account SID", remote.Credentials{AccountSID: token, AuthToken: token}, "account SID is malformed"},
		{"account SID too short", remote.Credentials{AccountSID: acct[:33], AuthToken: token}, "account SID is malformed (33 characters)"},
		{"account SID not hex", remote.Credentials{AccountSID: "AC0123456789abcdef0123456789abcdeg", AuthToken: token}, "account SID is malformed"},
		{"account SID wrong prefix", remote.Credentials{AccountSID: "ac0123456789abcdef0123456789abcdef", AuthToken: token}, "account SID is malformed"},
		{"service SID as account SID", remote.Credentials{AccountSID: svc, AuthToken: token}, "account SID is malformed"},
		{"no auth token", remote.Credentials{AccountSID: acct}, "auth token is missing"},
		{"auth token with newline", remote.Credentials{AccountSID: acct, AuthToken: token + "\n"}, "auth token contains whitespace"},
		{"auth token with space", remote.Credentials{AccountSID: acct, AuthToken: " " + token}, "auth token contains whitespace"},
		{"api key without secret", remote.Credentials{AccountSID: acct, AuthToken: token, APIKey: apiKey}, "API secret is missing"},
		{"secret without api key", remote.Credentials{AccountSID: acct, APISecret: secret}, "API key is missing"},
		{"api key is an account SID", remote.Credentials{AccountSID: acct, APIKey: acct, APISecret: secret}, "API key is malformed"},
		{"secret pasted as api key", remote.Credentials{AccountSID: acct, APIKey: secret, APISecret: secret}, "API key is malformed"},
		{"api secret with tab", remote.Credentials{AccountSID: acct, APIKey: apiKey, APISecret: secret + "\t"}, "API secret contains whitespace"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := remote.NewClient(tt.creds)
			if tt.want == "" {
				if err != nil || c == nil {
					t.Fatalf("NewClient: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			noSecrets(t, err.Error())
		})
	}
}

func TestWithBaseURL(t *testing.T) {
	tests := []struct {
		name string
		url  string
		want string // "" = accepted
	}{
		{"default host", "https://chat.twilio.com", ""},
		{"trailing slash", "https://chat.twilio.com/", ""},
		{"https anywhere", "https://proxy.example.com:8443/chat", ""},
		{"http loopback v4", "http://127.0.0.1:8080", ""},
		{"http loopback v4 range", "http://127.9.8.7", ""},
		{"http loopback v6", "http://[::1]:9000", ""},
		{"http localhost", "http://localhost:1234", ""},
		{"http localhost upper case", "http://LOCALHOST", ""},
		{"http remote host", "http://chat.twilio.com", "allowed only for loopback hosts"},
		{"http private address", "http://10.0.0.1:8080", "allowed only for loopback hosts"},
		{"http unspecified address", "http://0.0.0.0:8080", "allowed only for loopback hosts"},
		{"http lookalike host", "http://127.0.0.1.nip.io", "allowed only for loopback hosts"},
		{"http localhost subdomain", "http://localhost.example.com", "allowed only for loopback hosts"},
		{"other scheme", "ftp://127.0.0.1", "must start with https://"},
		{"no scheme", "chat.twilio.com", "must start with https://"},
		{"empty", "", "must start with https://"},
		{"no host", "https://", "has no host"},
		{"credentials in URL", "https://user:" + token + "@chat.twilio.com", "must not contain credentials"},
		{"query", "https://chat.twilio.com/?x=1", "must not have a query"},
		{"fragment", "https://chat.twilio.com/#top", "must not have a query or fragment"},
		{"unparsable", "http://[::1", "not a valid URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := remote.NewClient(remote.Credentials{AccountSID: acct, AuthToken: token}, remote.WithBaseURL(tt.url))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("NewClient: %v", err)
				}
				if got, want := c.BaseURL(), strings.TrimSuffix(tt.url, "/"); got != want {
					t.Errorf("BaseURL() = %q, want %q", got, want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			noSecrets(t, err.Error())
		})
	}
	t.Run("default", func(t *testing.T) {
		c, err := remote.NewClient(remote.Credentials{AccountSID: acct, AuthToken: token})
		must(t, err)
		if c.BaseURL() != "https://chat.twilio.com" {
			t.Errorf("BaseURL() = %q", c.BaseURL())
		}
	})
}

func TestOptions(t *testing.T) {
	tests := []struct {
		name string
		opt  remote.Option
		want string // "" = accepted
	}{
		{"timeout", remote.WithTimeout(time.Second), ""},
		{"no timeout", remote.WithTimeout(0), ""},
		{"negative timeout", remote.WithTimeout(-time.Second), "timeout -1s is negative"},
		{"http client", remote.WithHTTPClient(&http.Client{}), ""},
		{"nil http client", remote.WithHTTPClient(nil), "HTTP client is nil"},
		{"limits", remote.WithLimits(remote.Limits{MaxInFlight: 4}), ""},
		{"bad limits", remote.WithLimits(remote.Limits{MaxInFlight: -4}), "MaxInFlight is -4"},
		{"webhooks", remote.WithWebhooks(true), ""},
		{"nil logger", remote.WithLogger(nil), ""},
		{"nil option", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := remote.NewClient(remote.Credentials{AccountSID: acct, AuthToken: token}, tt.opt)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("NewClient: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestLimitsValidate(t *testing.T) {
	tests := []struct {
		name string
		l    remote.Limits
		want []string // nil = valid
	}{
		{"zero means defaults", remote.Limits{}, nil},
		{"defaults", remote.DefaultLimits(), nil},
		{"small", remote.Limits{MaxInFlight: 1, ChannelWriteRate: 0.5, ServiceWriteRate: 1, MaxRetries: 1, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond}, nil},
		{"largest", remote.Limits{MaxInFlight: 1024, ChannelWriteRate: 1000, ServiceWriteRate: 1000, MaxRetries: 100, MinBackoff: 10 * time.Minute, MaxBackoff: 10 * time.Minute}, nil},
		{"negative in flight", remote.Limits{MaxInFlight: -1}, []string{"MaxInFlight is -1"}},
		{"absurd in flight", remote.Limits{MaxInFlight: 100000}, []string{"MaxInFlight is 100000: use 1 to 1024"}},
		{"negative channel rate", remote.Limits{ChannelWriteRate: -1}, []string{"ChannelWriteRate is -1"}},
		{"NaN channel rate", remote.Limits{ChannelWriteRate: math.NaN()}, []string{"ChannelWriteRate is NaN"}},
		{"infinite service rate", remote.Limits{ServiceWriteRate: math.Inf(1)}, []string{"ServiceWriteRate is +Inf"}},
		{"absurd service rate", remote.Limits{ServiceWriteRate: 5000}, []string{"ServiceWriteRate is 5000"}},
		{"negative retries", remote.Limits{MaxRetries: -2}, []string{"MaxRetries is -2"}},
		{"absurd retries", remote.Limits{MaxRetries: 1000}, []string{"MaxRetries is 1000"}},
		{"negative min backoff", remote.Limits{MinBackoff: -time.Second}, []string{"MinBackoff is -1s"}},
		{"absurd max backoff", remote.Limits{MaxBackoff: time.Hour}, []string{"MaxBackoff is 1h0m0s"}},
		{"min above default max", remote.Limits{MinBackoff: time.Minute}, []string{"MinBackoff 1m0s is above MaxBackoff 10s"}},
		{"min above max", remote.Limits{MinBackoff: 2 * time.Second, MaxBackoff: time.Second}, []string{"MinBackoff 2s is above MaxBackoff 1s"}},
		{"several at once", remote.Limits{MaxInFlight: -1, MaxRetries: -1}, []string{"MaxInFlight is -1", "MaxRetries is -1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.l.Validate()
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate accepted invalid limits")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %v, want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestDefaultLimits(t *testing.T) {
	want := remote.Limits{MaxInFlight: 32, ChannelWriteRate: 25, ServiceWriteRate: 25, MaxRetries: 8,
		MinBackoff: 200 * time.Millisecond, MaxBackoff: 10 * time.Second}
	if got := remote.DefaultLimits(); got != want {
		t.Errorf("DefaultLimits() = %+v, want %+v", got, want)
	}
}

func TestErrorsNeverCarrySecrets(t *testing.T) {
	c, f := setup(t, remote.WithLimits(remote.Limits{MaxRetries: 1}))
	var errs []error
	f.handle(reply(401, twilioError(401, 20003, "Authenticate")))
	_, err := c.FetchService(t.Context(), svc)
	errs = append(errs, err)
	f.handle(hangUp)
	_, err = c.CreateMessage(t.Context(), svc, chSID, remote.MessageParams{Body: ptr(token)})
	errs = append(errs, err)
	_, err = c.FetchService(t.Context(), svc)
	errs = append(errs, err)
	f.handle(reply(500, "<html>"+token+"</html>"))
	_, err = c.FetchChannel(t.Context(), svc, chSID)
	errs = append(errs, err)
	f.handle(reply(200, "not json "+token))
	_, err = c.FetchChannel(t.Context(), svc, chSID)
	errs = append(errs, err)
	for i, err := range errs {
		if err == nil {
			t.Fatalf("case %d: no error", i)
		}
		noSecrets(t, err.Error())
	}
	if !errors.Is(errs[0], remote.ErrAuthentication) || !errors.Is(errs[1], remote.ErrUnknownOutcome) {
		t.Errorf("unexpected classification: %v / %v", errs[0], errs[1])
	}
}
