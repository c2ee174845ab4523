package backup

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/store"
)

// The crash test and the RSS benchmark run backups in child processes: the
// test binary re-executed with helperEnv set. TestMain sends such a process
// straight to helperBackupProcess instead of running tests, so there is no
// test that skips itself outside the helper role.
const (
	helperEnv        = "CHATVAULT_BACKUP_HELPER" // "backup" = run one backup
	helperBaseURL    = "CHATVAULT_HELPER_BASE_URL"
	helperAccount    = "CHATVAULT_HELPER_ACCOUNT_SID"
	helperToken      = "CHATVAULT_HELPER_AUTH_TOKEN"
	helperService    = "CHATVAULT_HELPER_SERVICE"
	helperArchive    = "CHATVAULT_HELPER_ARCHIVE"
	helperPageSize   = "CHATVAULT_HELPER_PAGE_SIZE"
	helperConcurrent = "CHATVAULT_HELPER_CONCURRENCY"
	helperFull       = "CHATVAULT_HELPER_FULL"
)

// helperReady is printed on stdout once the archive is open and the backup
// begins.
const helperReady = "ready"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "backup" {
		os.Exit(helperBackupProcess())
	}
	os.Exit(m.Run())
}

// helperOutput is the last line a helper process prints.
type helperOutput struct {
	Result     Result `json:"result"`
	GoSysBytes uint64 `json:"go_sys_bytes"` // memory the Go runtime obtained from the OS, at the end
}

// helperBackupProcess runs one backup described by the environment and
// returns the exit status: 0 complete, 3 partial, 1 otherwise. A
// helperOutput is printed on stdout, errors on stderr.
func helperBackupProcess() int {
	env := func(k string) string { return os.Getenv(k) }
	atoi := func(k string, def int) int {
		if v, err := strconv.Atoi(env(k)); err == nil {
			return v
		}
		return def
	}
	cl, err := remote.NewClient(remote.Credentials{AccountSID: env(helperAccount), AuthToken: env(helperToken)},
		remote.WithBaseURL(env(helperBaseURL)), remote.WithLimits(testLimits))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	a, err := store.Open(env(helperArchive), store.Options{Create: true, Timeout: 10 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer a.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Println(helperReady)
	res, err := Run(ctx, cl, a, Options{
		Service:     env(helperService),
		PageSize:    atoi(helperPageSize, 0),
		Concurrency: atoi(helperConcurrent, 0),
		Full:        env(helperFull) == "1",
	})
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if b, err := json.Marshal(helperOutput{Result: res, GoSysBytes: ms.Sys}); err == nil {
		fmt.Printf("%s\n", b)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if res.Status != string(store.StatusComplete) {
		return 3
	}
	return 0
}
