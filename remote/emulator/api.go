package emulator

import (
	"context"
	"net/http"
	"time"
)

// CONTRACT STUB: the agreed API of package emulator. Bodies are being implemented.

// Config shapes an emulator. DefaultConfig gives the defaults of `chatvault emulate`.
type Config struct {
	Seed             int64
	Channels         int           // channels of generated history in services[0]
	Messages         int           // about this many messages per channel
	Latency          time.Duration // added to every response
	MaxConcurrency   int           // 0 = unlimited; beyond it: 429 code 20429
	WriteRate        int           // writes per second per channel; 0 = unlimited; beyond it: 429 code 50063
	FaultRate        float64       // fraction of requests answered 500/503 without acting
	LostResponseRate float64       // fraction of writes carried out, then the connection dropped
}

// DefaultConfig returns the defaults of `chatvault emulate` (10 channels, 200 messages, write rate 30).
func DefaultConfig() Config { panic("unimplemented") }

// Info is what `chatvault emulate` prints when ready.
type Info struct {
	BaseURL    string   `json:"base_url"`
	AccountSID string   `json:"account_sid"`
	AuthToken  string   `json:"auth_token"`
	Services   []string `json:"services"`
}

// Stats are the counters served at /emulator/stats.
type Stats struct {
	Requests              map[string]int64 `json:"requests"`
	Status                map[string]int64 `json:"status"`
	Writes                int64            `json:"writes"`
	WebhooksEnabledWrites int64            `json:"webhooks_enabled_writes"`
}

// Server is a running emulator.
type Server struct{}

// New builds the seeded state; Handler serves it. Start listens on addr ("127.0.0.1:0" picks a port).
func New(cfg Config) (*Server, error)             { panic("unimplemented") }
func (s *Server) Handler() http.Handler           { panic("unimplemented") }
func (s *Server) Start(addr string) (Info, error) { panic("unimplemented") }
func (s *Server) Info() Info                      { panic("unimplemented") }
func (s *Server) Stats() Stats                    { panic("unimplemented") }
func (s *Server) SetFaults(latency time.Duration, maxConcurrency, writeRate int, faultRate, lostResponseRate float64) {
	panic("unimplemented")
}
func (s *Server) Shutdown(ctx context.Context) error { panic("unimplemented") }
