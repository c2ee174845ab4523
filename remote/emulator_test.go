package remote_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/remote/emulator"
)

// startEmulator runs the real emulator on loopback until the test ends.
func startEmulator(t *testing.T, cfg emulator.Config) (*emulator.Server, emulator.Info) {
	t.Helper()
	s, err := emulator.New(cfg)
	must(t, err)
	info, err := s.Start("127.0.0.1:0")
	must(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("emulator shutdown: %v", err)
		}
	})
	if len(info.Services) < 2 {
		t.Fatalf("emulator has %d services, want 2", len(info.Services))
	}
	return s, info
}

func emulatorClient(t *testing.T, info emulator.Info, opts ...remote.Option) *remote.Client {
	t.Helper()
	c, err := remote.NewClient(remote.Credentials{AccountSID: info.AccountSID, AuthToken: info.AuthToken},
		append([]remote.Option{remote.WithBaseURL(info.BaseURL)}, opts...)...)
	must(t, err)
	return c
}

func TestEmulatorReads(t *testing.T) {
	cfg := emulator.Config{Seed: 7, Channels: 6, Messages: 40}
	_, info := startEmulator(t, cfg)
	c := emulatorClient(t, info)
	ctx := t.Context()

	svcs, err := collect(c.ListServices(ctx))
	must(t, err)
	var sids []string
	for _, s := range svcs {
		sids = append(sids, s.SID)
		if len(s.Raw) == 0 || s.AccountSID != info.AccountSID {
			t.Errorf("service %+v", s)
		}
	}
	for _, want := range info.Services {
		if !slices.Contains(sids, want) {
			t.Errorf("services %v lack %s", sids, want)
		}
	}
	src := info.Services[0]
	if s, err := c.FetchService(ctx, src); err != nil || s.SID != src {
		t.Errorf("FetchService = %+v, %v", s, err)
	}
	roles, err := collect(c.ListRoles(ctx, src))
	must(t, err)
	if len(roles) == 0 {
		t.Error("no roles")
	}
	users, err := collect(c.ListUsers(ctx, src))
	must(t, err)
	if len(users) == 0 {
		t.Error("no users")
	} else if u, err := c.FetchUser(ctx, src, users[0].Identity); err != nil || u.SID != users[0].SID {
		t.Errorf("FetchUser(%q) = %+v, %v", users[0].Identity, u, err)
	}

	chans, err := collect(c.ListChannels(ctx, src))
	must(t, err)
	if len(chans) != cfg.Channels {
		t.Fatalf("listed %d channels, want %d", len(chans), cfg.Channels)
	}
	types := map[string]int{}
	for _, ch := range chans {
		types[ch.Type]++
	}
	if types["public"] == 0 || types["private"] == 0 {
		t.Errorf("channel types %v, want both public and private", types)
	}
	pub, err := collect(c.ListChannels(ctx, src, "public"))
	must(t, err)
	if len(pub) != types["public"] {
		t.Errorf("public only: %d channels, want %d", len(pub), types["public"])
	}

	for _, ch := range chans {
		t.Run(ch.UniqueName, func(t *testing.T) {
			asc, err := collect(c.ListMessages(ctx, src, ch.SID, remote.ListOptions{PageSize: 7, Order: "asc"}))
			must(t, err)
			desc, err := collect(c.ListMessages(ctx, src, ch.SID, remote.ListOptions{PageSize: 7, Order: "desc"}))
			must(t, err)
			if len(asc) != ch.MessagesCount || len(asc) == 0 {
				t.Errorf("asc listed %d messages, channel says %d", len(asc), ch.MessagesCount)
			}
			if len(asc) != len(desc) {
				t.Fatalf("asc %d messages, desc %d", len(asc), len(desc))
			}
			for i := range asc {
				a, d := asc[i], desc[len(desc)-1-i]
				if a.SID != d.SID || string(a.Raw) != string(d.Raw) {
					t.Fatalf("message %d differs between orders: %s vs %s", i, a.SID, d.SID)
				}
				if i > 0 && a.Index <= asc[i-1].Index {
					t.Fatalf("indexes not increasing: %d after %d", a.Index, asc[i-1].Index)
				}
			}
			if ch.UniqueName != "" {
				byName, err := c.FetchChannel(ctx, src, ch.UniqueName)
				if err != nil || byName.SID != ch.SID {
					t.Errorf("FetchChannel(%q) = %+v, %v", ch.UniqueName, byName, err)
				}
			}
			members, err := collect(c.ListMembers(ctx, src, ch.SID, remote.ListOptions{PageSize: 2}))
			must(t, err)
			if len(members) != ch.MembersCount {
				t.Errorf("listed %d members, channel says %d", len(members), ch.MembersCount)
			}
			if len(asc) > 0 {
				m, err := c.FetchMessage(ctx, src, ch.SID, asc[0].SID)
				if err != nil || string(m.Raw) != string(asc[0].Raw) {
					t.Errorf("FetchMessage = %s, %v; want %s", m.Raw, err, asc[0].Raw)
				}
			}
		})
	}
}

func TestEmulatorWrites(t *testing.T) {
	s, info := startEmulator(t, emulator.Config{Seed: 3, Channels: 1, Messages: 5})
	c := emulatorClient(t, info)
	ctx := t.Context()
	dst := info.Services[1]
	const name = "restore/test room"
	created := time.Date(2021, 6, 1, 14, 30, 15, 0, time.FixedZone("CEST", 2*3600))

	ch, err := c.CreateChannel(ctx, dst, remote.ChannelParams{
		FriendlyName: ptr("Test room"), UniqueName: ptr(name), Attributes: ptr(`{"k":1}`), Type: "private",
		CreatedBy: ptr("alice"), DateCreated: ptr(created),
	})
	must(t, err)
	if ch.UniqueName != name || ch.Type != "private" || ch.CreatedBy != "alice" || !ch.DateCreated.Equal(created) {
		t.Errorf("created channel %s", ch.Raw)
	}
	if _, err := c.CreateChannel(ctx, dst, remote.ChannelParams{UniqueName: ptr(name)}); !errors.Is(err, remote.ErrConflict) {
		t.Errorf("second create with the same unique name: %v, want ErrConflict", err)
	}
	ch, err = c.UpdateChannel(ctx, dst, name, remote.ChannelParams{FriendlyName: ptr("Renamed")})
	must(t, err)
	if ch.FriendlyName != "Renamed" {
		t.Errorf("updated channel %s", ch.Raw)
	}

	const who = "alice smith"
	m, err := c.CreateMember(ctx, dst, name, remote.MemberParams{Identity: who, Attributes: ptr("{}"), DateCreated: ptr(created)})
	must(t, err)
	if m.Identity != who || !m.DateCreated.Equal(created) {
		t.Errorf("created member %s", m.Raw)
	}
	if _, err := c.CreateMember(ctx, dst, ch.SID, remote.MemberParams{Identity: who}); !errors.Is(err, remote.ErrConflict) {
		t.Errorf("second member create: %v, want ErrConflict", err)
	}

	msg, err := c.CreateMessage(ctx, dst, ch.SID, remote.MessageParams{From: ptr(who), Body: ptr("hello"), DateCreated: ptr(created)})
	must(t, err)
	if msg.From != who || msg.Body != "hello" || !msg.DateCreated.Equal(created) {
		t.Errorf("created message %s", msg.Raw)
	}
	m, err = c.UpdateMember(ctx, dst, name, who, remote.MemberParams{LastConsumedMessageIndex: ptr(int(msg.Index)), LastConsumptionTimestamp: ptr(created)})
	must(t, err)
	if m.LastConsumedMessageIndex == nil || *m.LastConsumedMessageIndex != int(msg.Index) {
		t.Errorf("updated member %s", m.Raw)
	}
	if got, err := c.FetchMember(ctx, dst, name, who); err != nil || got.SID != m.SID {
		t.Errorf("FetchMember = %+v, %v", got, err)
	}
	msg, err = c.UpdateMessage(ctx, dst, name, msg.SID, remote.MessageParams{Body: ptr("edited"), LastUpdatedBy: ptr(who)})
	must(t, err)
	if msg.Body != "edited" || msg.LastUpdatedBy != who {
		t.Errorf("updated message %s", msg.Raw)
	}

	must(t, c.DeleteMessage(ctx, dst, name, msg.SID))
	if _, err := c.FetchMessage(ctx, dst, name, msg.SID); !errors.Is(err, remote.ErrNotFound) {
		t.Errorf("fetch deleted message: %v, want ErrNotFound", err)
	}
	must(t, c.DeleteMember(ctx, dst, name, who))
	if _, err := c.FetchMember(ctx, dst, name, who); !errors.Is(err, remote.ErrNotFound) {
		t.Errorf("fetch deleted member: %v, want ErrNotFound", err)
	}
	must(t, c.DeleteChannel(ctx, dst, name))
	if _, err := c.FetchChannel(ctx, dst, ch.SID); !errors.Is(err, remote.ErrNotFound) {
		t.Errorf("fetch deleted channel: %v, want ErrNotFound", err)
	}
	left, err := collect(c.ListChannels(ctx, dst))
	must(t, err)
	if len(left) != 0 {
		t.Errorf("%d channels left in the empty service", len(left))
	}
	st := s.Stats()
	if st.Writes != c.Writes() || st.WebhooksEnabledWrites != 0 {
		t.Errorf("emulator counted %d writes (%d with webhooks), client %d", st.Writes, st.WebhooksEnabledWrites, c.Writes())
	}
}

func TestEmulatorWrongCredentials(t *testing.T) {
	_, info := startEmulator(t, emulator.Config{Seed: 1, Channels: 1, Messages: 1})
	tests := []struct {
		name  string
		creds remote.Credentials
	}{
		{"wrong token", remote.Credentials{AccountSID: info.AccountSID, AuthToken: "wrong"}},
		{"wrong account", remote.Credentials{AccountSID: "AC" + info.AccountSID[2:33] + "0", AuthToken: info.AuthToken}},
		{"unknown api key", remote.Credentials{AccountSID: info.AccountSID, APIKey: apiKey, APISecret: secret}},
	}
	if info.AccountSID[33] == '0' {
		tests[1].creds.AccountSID = "AC" + info.AccountSID[2:33] + "1"
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := remote.NewClient(tt.creds, remote.WithBaseURL(info.BaseURL))
			must(t, err)
			_, err = collect(c.ListServices(t.Context()))
			if !errors.Is(err, remote.ErrAuthentication) {
				t.Errorf("err = %v, want ErrAuthentication", err)
			}
			noSecrets(t, err.Error())
			if c.Requests() != 1 {
				t.Errorf("%d requests, want 1 (401 is not retried)", c.Requests())
			}
		})
	}
}

func TestEmulatorFaults(t *testing.T) {
	s, info := startEmulator(t, emulator.Config{Seed: 5, Channels: 1, Messages: 3})
	c := emulatorClient(t, info, remote.WithLimits(remote.Limits{MaxRetries: 2, MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond}))
	ctx := t.Context()
	dst := info.Services[1]
	ch, err := c.CreateChannel(ctx, dst, remote.ChannelParams{UniqueName: ptr("faults")})
	must(t, err)

	t.Run("lost response", func(t *testing.T) {
		s.SetFaults(0, 0, 0, 0, 1)
		defer s.SetFaults(0, 0, 0, 0, 0)
		before := s.Stats().Writes
		_, err := c.CreateMessage(ctx, dst, ch.SID, remote.MessageParams{Body: ptr("once")})
		if !errors.Is(err, remote.ErrUnknownOutcome) {
			t.Fatalf("err = %v, want ErrUnknownOutcome", err)
		}
		if n := s.Stats().Writes - before; n != 1 {
			t.Errorf("emulator saw %d writes, want exactly 1", n)
		}
		s.SetFaults(0, 0, 0, 0, 0)
		msgs, err := collect(c.ListMessages(ctx, dst, ch.SID, remote.ListOptions{}))
		must(t, err)
		if len(msgs) != 1 || msgs[0].Body != "once" {
			t.Errorf("after the lost response the channel holds %d messages, want the one carried out", len(msgs))
		}
	})
	t.Run("server faults", func(t *testing.T) {
		s.SetFaults(0, 0, 0, 1, 0)
		defer s.SetFaults(0, 0, 0, 0, 0)
		_, err := c.FetchChannel(ctx, dst, ch.SID)
		var ae *remote.APIError
		if !errors.As(err, &ae) || ae.Status < 500 || errors.Is(err, remote.ErrUnknownOutcome) {
			t.Errorf("read: err = %v, want a 5xx APIError after retries", err)
		}
		_, err = c.CreateMessage(ctx, dst, ch.SID, remote.MessageParams{Body: ptr("x")})
		if !errors.Is(err, remote.ErrUnknownOutcome) {
			t.Errorf("write: err = %v, want ErrUnknownOutcome", err)
		}
	})
	t.Run("write rate 429 is retried", func(t *testing.T) {
		s.SetFaults(0, 0, 2, 0, 0)
		defer s.SetFaults(0, 0, 0, 0, 0)
		fast := emulatorClient(t, info, remote.WithLimits(remote.Limits{ChannelWriteRate: 1000, MaxRetries: 20, MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}))
		for i := range 5 {
			_, err := fast.CreateMessage(ctx, dst, ch.SID, remote.MessageParams{Body: ptr("burst")})
			if err != nil {
				t.Fatalf("write %d: %v", i, err)
			}
		}
		if s.Stats().Status["429"] == 0 {
			t.Error("the emulator never answered 429; the test did not exercise retries")
		}
		if fast.Writes() <= 5 {
			t.Errorf("client sent %d writes, want retries beyond 5", fast.Writes())
		}
	})
}
