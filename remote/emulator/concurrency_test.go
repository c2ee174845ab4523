package emulator

import (
	"net/url"
	"slices"
	"strconv"
	"sync"
	"testing"
)

// TestConcurrentUse mixes writers and readers on the same channels (run it
// with -race) and checks no write is lost and no index is handed out twice.
func TestConcurrentUse(t *testing.T) {
	_, c := setup(t, Config{Seed: 2, Channels: 3, Messages: 50})
	chans := c.channels(c.svc0())
	shared := str(chans[0], "url")
	before := len(c.listAll(shared + "/Messages"))

	const writers, perWriter = 6, 15
	var wg sync.WaitGroup
	errs := make(chan string, writers*perWriter*3)
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				r, err := c.try(t.Context(), "POST", shared+"/Messages", url.Values{"Body": {"w" + strconv.Itoa(w) + "-" + strconv.Itoa(i)}})
				if err != nil || r.status != 201 {
					errs <- "create: " + strconv.Itoa(r.status) + " " + string(r.body)
				}
				own := str(chans[1+w%2], "url") + "/Members"
				r, err = c.try(t.Context(), "POST", own, url.Values{"Identity": {"writer-" + strconv.Itoa(w) + "-" + strconv.Itoa(i)}})
				if err != nil || r.status != 201 {
					errs <- "member: " + strconv.Itoa(r.status) + " " + string(r.body)
				}
			}
		})
	}
	for range 3 {
		wg.Go(func() {
			for range 10 {
				for _, p := range []string{shared + "/Messages?PageSize=20&Order=desc", c.svc0() + "/Channels?Type=private&Type=public", c.svc0() + "/Users"} {
					if r, err := c.try(t.Context(), "GET", p, nil); err != nil || r.status != 200 {
						errs <- "read: " + strconv.Itoa(r.status)
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}

	msgs := c.listAll(shared + "/Messages?PageSize=100")
	if len(msgs) != before+writers*perWriter {
		t.Errorf("%d messages, want %d", len(msgs), before+writers*perWriter)
	}
	var idx []int64
	for _, m := range msgs {
		idx = append(idx, num(m, "index"))
	}
	if !slices.IsSorted(idx) || len(slices.Compact(slices.Clone(idx))) != len(idx) {
		t.Errorf("indexes not strictly increasing: %v", idx)
	}
	users := c.listAll(c.svc0() + "/Users")
	if len(users) != len(people)+writers*perWriter {
		t.Errorf("%d users, want %d (one per new member)", len(users), len(people)+writers*perWriter)
	}
}
