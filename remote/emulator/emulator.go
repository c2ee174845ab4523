package emulator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

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

	// Now is the clock for resources created without DateCreated and for the
	// write-rate limiter; nil means time.Now.
	Now func() time.Time
	// Logger receives the emulator's few diagnostics (a listener that
	// fails, a connection that cannot be dropped); nil discards them.
	Logger *slog.Logger

	// MediaMaxSize is the size of the largest generated media file, at
	// least 1 KiB and at most MediaUploadLimit; 0 means 8 MiB.
	MediaMaxSize int64
	// MediaUploadLimit is the size of the largest file the Media service
	// takes (larger: 413 code 50512); 0 means 150 MiB, Twilio's limit.
	MediaUploadLimit int64
}

// Limits of the generated history, to keep a typo from exhausting memory.
const (
	maxChannels      = 100_000
	maxMessages      = 10_000_000 // per channel
	maxTotalMessages = 10_000_000 // Channels × Messages
)

// DefaultConfig returns the defaults of `chatvault emulate` (10 channels, 200 messages, write rate 30).
func DefaultConfig() Config {
	return Config{Seed: 1, Channels: 10, Messages: 200, WriteRate: 30, MediaMaxSize: defaultMediaMaxSize}
}

// validate reports the first impossible setting.
func (c Config) validate() error {
	switch {
	case c.Channels < 0 || c.Channels > maxChannels:
		return fmt.Errorf("emulator: %d channels requested; give 0 to %d", c.Channels, maxChannels)
	case c.Messages < 0 || c.Messages > maxMessages:
		return fmt.Errorf("emulator: %d messages per channel requested; give 0 to %d", c.Messages, maxMessages)
	case int64(c.Channels)*int64(c.Messages) > maxTotalMessages:
		return fmt.Errorf("emulator: %d channels × %d messages is more than the %d messages the emulator holds; lower --channels or --messages", c.Channels, c.Messages, maxTotalMessages)
	case c.Latency < 0:
		return fmt.Errorf("emulator: latency %v is negative; give 0 or more", c.Latency)
	case c.MaxConcurrency < 0:
		return fmt.Errorf("emulator: max concurrency %d is negative; give 0 (unlimited) or more", c.MaxConcurrency)
	case c.WriteRate < 0:
		return fmt.Errorf("emulator: write rate %d is negative; give 0 (unlimited) or more", c.WriteRate)
	case !(c.FaultRate >= 0 && c.FaultRate <= 1):
		return fmt.Errorf("emulator: fault rate %v is outside 0..1; give a fraction such as 0.05", c.FaultRate)
	case !(c.LostResponseRate >= 0 && c.LostResponseRate <= 1):
		return fmt.Errorf("emulator: lost-response rate %v is outside 0..1; give a fraction such as 0.05", c.LostResponseRate)
	case c.MediaUploadLimit < 0:
		return fmt.Errorf("emulator: media upload limit %d is negative; give 0 (150 MiB) or more", c.MediaUploadLimit)
	case c.MediaMaxSize != 0 && (c.MediaMaxSize < minMediaSize || c.MediaMaxSize > c.uploadLimit()):
		return fmt.Errorf("emulator: media max size %d is outside %d..%d bytes (1 KiB up to the upload limit); give a size in that range or 0 for 8 MiB", c.MediaMaxSize, minMediaSize, c.uploadLimit())
	}
	return nil
}

// Info is what `chatvault emulate` prints when ready.
type Info struct {
	BaseURL    string   `json:"base_url"`
	AccountSID string   `json:"account_sid"`
	AuthToken  string   `json:"auth_token"`
	Services   []string `json:"services"`

	MediaURL string `json:"media_url"` // the Media service's root, BaseURL + "/mcs"
}

// Stats are the counters served at /emulator/stats.
type Stats struct {
	Requests              map[string]int64 `json:"requests"`
	Status                map[string]int64 `json:"status"`
	Writes                int64            `json:"writes"`
	WebhooksEnabledWrites int64            `json:"webhooks_enabled_writes"`
	// LostResponses counts writes carried out whose connection was then
	// dropped on purpose (LostResponseRate); they have no status.
	LostResponses int64 `json:"lost_responses"`
	// InFlight is the number of API requests being served right now.
	InFlight int64 `json:"in_flight"`

	// MediaUploads and MediaUploadBytes count the files stored by uploads;
	// MediaDownloads and MediaDownloadBytes the answers of temporary URLs
	// that served a file, and the bytes they sent.
	MediaUploads       int64 `json:"media_uploads"`
	MediaUploadBytes   int64 `json:"media_upload_bytes"`
	MediaDownloads     int64 `json:"media_downloads"`
	MediaDownloadBytes int64 `json:"media_download_bytes"`
}

// Server is a running emulator.
type Server struct {
	cfg        Config
	log        *slog.Logger
	now        func() time.Time
	account    sid
	authToken  string
	basicCreds string // "AC…:token", compared in constant time
	world      *world
	seeded     []sid // services[0] and services[1]

	ids struct { // SIDs of resources created through the API
		mu  sync.Mutex
		rng *rand.Rand
	}
	faults   faults
	limiters limiters
	stats    counters
	inFlight atomic.Int64

	done     chan struct{} // closed by Shutdown; aborts latency sleeps
	doneOnce sync.Once

	mu       sync.Mutex // guards the fields below
	baseURL  string
	httpSrv  *http.Server
	listener net.Listener
	fresh    map[net.Conn]bool // connections that have not sent a request yet

	// testHookLatency, when set, is called as a request starts its latency
	// sleep. Tests use it to know a request is in flight.
	testHookLatency atomic.Pointer[func()]

	mcs mediaService
}

// New builds the seeded state; Handler serves it. Start listens on addr ("127.0.0.1:0" picks a port).
func New(cfg Config) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Server{
		cfg:  cfg,
		log:  cfg.Logger,
		now:  cfg.Now,
		done: make(chan struct{}),
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.now == nil {
		s.now = time.Now
	}
	seed := uint64(cfg.Seed)
	s.ids.rng = rand.New(rand.NewPCG(seed, streamRuntimeIDs))
	s.faults.rng = rand.New(rand.NewPCG(seed, streamFaults))
	s.faults.set(cfg.Latency, cfg.MaxConcurrency, cfg.WriteRate, cfg.FaultRate, cfg.LostResponseRate)
	s.limiters.m = map[string]*limiter{}
	s.stats.requests = map[string]int64{}
	s.stats.status = map[string]int64{}
	if err := s.seed(); err != nil {
		return nil, err
	}
	s.mcs.init(s.basicCreds)
	return s, nil
}

// Handler serves the API and /emulator/stats. Without Start, the URLs in
// answers are built from each request's Host header.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// Start listens on addr and serves in the background until Shutdown.
func (s *Server) Start(addr string) (Info, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.httpSrv != nil {
		return Info{}, errors.New("emulator: already started; build another Server with New to listen twice")
	}
	select {
	case <-s.done:
		return Info{}, errors.New("emulator: already shut down; build another Server with New")
	default:
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return Info{}, fmt.Errorf("emulator: listen on %s: %w; pick a free port or 127.0.0.1:0", addr, err)
	}
	tcp, _ := ln.Addr().(*net.TCPAddr)
	host := "127.0.0.1"
	if tcp != nil && !tcp.IP.IsUnspecified() {
		host = tcp.IP.String()
	}
	port := 0
	if tcp != nil {
		port = tcp.Port
	}
	s.baseURL = "http://" + net.JoinHostPort(host, strconv.Itoa(port))
	s.listener = ln
	s.fresh = map[net.Conn]bool{}
	s.httpSrv = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		ConnState:         s.trackConn,
	}
	srv := s.httpSrv
	go func() {
		err := srv.Serve(ln)
		select {
		case <-s.done: // Shutdown closed the listener
		default:
			s.log.Error("emulator stopped serving", "addr", ln.Addr().String(), "err", err)
		}
	}()
	return s.infoLocked(), nil
}

// Info returns the base URL (empty before Start), the credentials and the
// two seeded services.
func (s *Server) Info() Info {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.infoLocked()
}

func (s *Server) infoLocked() Info {
	svcs := make([]string, len(s.seeded))
	for i, id := range s.seeded {
		svcs[i] = id.format("IS")
	}
	return Info{
		BaseURL:    s.baseURL,
		AccountSID: s.account.format("AC"),
		AuthToken:  s.authToken,
		Services:   svcs,
		MediaURL:   mediaURL(s.baseURL),
	}
}

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	st := s.stats.snapshot()
	st.InFlight = s.inFlight.Load()
	s.mcs.fill(&st)
	return st
}

// SetFaults changes the fault switches at runtime; it is safe to call while
// requests are served. Negative values count as 0 and rates are clamped to
// 0..1. A new write rate starts every channel with a full allowance.
func (s *Server) SetFaults(latency time.Duration, maxConcurrency, writeRate int, faultRate, lostResponseRate float64) {
	if s.faults.set(latency, maxConcurrency, writeRate, faultRate, lostResponseRate) {
		s.limiters.reset()
	}
}

// Shutdown stops listening, aborts requests waiting out the latency, and
// waits for the others to finish or ctx to end (http.Server.Shutdown).
func (s *Server) Shutdown(ctx context.Context) error {
	s.doneOnce.Do(func() { close(s.done) })
	s.mu.Lock()
	srv, ln := s.httpSrv, s.listener
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	// http.Server.Shutdown waits up to 5 s for connections that were opened
	// but never carried a request (a client's spare connection). Stop
	// accepting first, then close those, so shutting down takes only as
	// long as the requests being served.
	_ = ln.Close() // Shutdown below reports nothing useful about it either
	s.mu.Lock()
	for c := range s.fresh {
		_ = c.Close() // the client has sent nothing on it
	}
	clear(s.fresh)
	s.mu.Unlock()
	if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("emulator: shut down: %w", err)
	}
	return nil
}

// trackConn remembers connections that have not sent a request yet.
func (s *Server) trackConn(c net.Conn, st http.ConnState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st == http.StateNew {
		s.fresh[c] = true
	} else {
		delete(s.fresh, c)
	}
}

// base returns the URL prefix of answers to r.
func (s *Server) base(r *http.Request) string {
	s.mu.Lock()
	b := s.baseURL
	s.mu.Unlock()
	if b != "" {
		return b
	}
	scheme := "http://"
	if r.TLS != nil {
		scheme = "https://"
	}
	return scheme + r.Host
}

// nowUnix is the current time in whole seconds.
func (s *Server) nowUnix() int64 { return s.now().Unix() }

// newID draws a SID for a resource created through the API.
func (s *Server) newID() sid {
	s.ids.mu.Lock()
	defer s.ids.mu.Unlock()
	return newSID(s.ids.rng)
}
