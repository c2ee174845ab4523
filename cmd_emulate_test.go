package main

import (
	"net/http"
	"testing"
	"time"
)

// TestEmulateChatAPIOff runs `chatvault emulate --chat-api off` and checks
// that Chat v2 answers 404 while Conversations v1 answers on the printed
// conversations_url.
func TestEmulateChatAPIOff(t *testing.T) {
	info := startEmulator(t, "--channels", "1", "--messages", "1", "--chat-api", "off")
	hc := &http.Client{Timeout: 10 * time.Second}
	for _, tc := range []struct {
		url  string
		want int
	}{
		{info.BaseURL + "/v2/Services", http.StatusNotFound},
		{info.BaseURL + "/v2/Services/" + info.Services[0], http.StatusNotFound},
		{info.ConversationsURL + "/v1/Services/" + info.Services[0], http.StatusOK},
		{info.ConversationsURL + "/v1/Services/" + info.Services[0] + "/Conversations", http.StatusOK},
	} {
		req, err := http.NewRequest(http.MethodGet, tc.url, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.SetBasicAuth(info.AccountSID, info.AuthToken)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", tc.url, err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("GET %s with --chat-api off: %d, want %d", tc.url, resp.StatusCode, tc.want)
		}
	}
}
